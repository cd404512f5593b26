/** Samples this process's resident set size and keeps the peak, in MiB. */
export class RssSampler {
  private peak = process.memoryUsage().rss;
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 100) {
    this.timer = setInterval(() => {
      this.peak = Math.max(this.peak, process.memoryUsage().rss);
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops sampling and returns the peak RSS in MiB. */
  stop(): number {
    clearInterval(this.timer);
    this.peak = Math.max(this.peak, process.memoryUsage().rss);
    return Math.round(this.peak / (1024 * 1024));
  }
}
