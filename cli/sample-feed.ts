import type { Logger } from 'pino';
import type { CanaryCommand, TelemetryEvent } from '../schemas/index.js';
import { partitionForKey, type Serde, type Transport } from '../topology/index.js';
import type { DemoRollout } from './demo-rollout.js';
import { SampleTraffic, type SampleTrafficOptions } from './sample-traffic.js';

export interface SampleFeedOptions {
  readonly transport: Transport;
  readonly topic: string;
  readonly serde: Serde<TelemetryEvent>;
  /** Events per wall-clock second. */
  readonly eventsPerSecond: number;
  readonly seed?: number;
  /** What the traffic looks like beyond its rate (anonymous, duplicate, invalid, late shares). */
  readonly traffic?: Omit<SampleTrafficOptions, 'seed' | 'startTime' | 'eventsPerSecond'>;
  readonly logger: Logger;
  /** Attacks now and then, for the SOC processors (the demo's). */
  readonly attacks?: TimedTraffic;
  /** A service rolling out a canary: its start command is written first, then its requests with the rest. */
  readonly rollout?: {
    readonly traffic: DemoRollout;
    readonly commandTopic: string;
    readonly commandSerde: Serde<CanaryCommand>;
  };
}

/** Traffic beside the sample's: `eventsPerSecond` asked for each second, taken at the time it is sent. */
export interface TimedTraffic {
  readonly eventsPerSecond: number;
  take(n: number, now: number): TelemetryEvent[];
}

/**
 * Built-in sample traffic for the embedded default: synthetic telemetry
 * written to the input topic at a steady rate, with event times that follow
 * the wall clock and record timestamps that are the wall clock, as live
 * services would send them.
 */
export class SampleFeed {
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();
  produced = 0;

  constructor(private readonly options: SampleFeedOptions) {}

  async start(): Promise<void> {
    const { transport, topic, serde, eventsPerSecond } = this.options;
    const partitions = await transport.partitionCount(topic);
    if (partitions === undefined) throw new Error(`sample feed: topic '${topic}' does not exist`);
    await serde.prepare?.(topic);
    const producer = await transport.producer();
    const traffic = new SampleTraffic({
      ...this.options.traffic,
      seed: this.options.seed ?? 7,
      startTime: Date.now(),
      eventsPerSecond: Math.max(1, eventsPerSecond),
    });
    const rollout = this.options.rollout;
    if (rollout !== undefined) await this.startRollout(rollout, producer);
    const tickMs = 100;
    const extra = [rollout?.traffic, this.options.attacks].filter((t) => t !== undefined);
    let owed = 0;
    const owedExtra = extra.map(() => 0);
    this.timer = setInterval(() => {
      owed += (eventsPerSecond * tickMs) / 1000;
      const n = Math.floor(owed);
      owed -= n;
      // stamped with the time they are sent, as a service's producer does (CreateTime): validation bounds
      // each event's own time by it, so the sample's fast-clock events are dead-lettered
      const sentAt = Date.now();
      traffic.follow(sentAt - tickMs);
      const events = traffic.take(n);
      extra.forEach((source, i) => {
        owedExtra[i]! += (source.eventsPerSecond * tickMs) / 1000;
        const m = Math.floor(owedExtra[i]!);
        owedExtra[i]! -= m;
        if (m > 0) events.push(...source.take(m, sentAt));
      });
      if (events.length === 0) return;
      const records = events.map((event) => {
        const key = Buffer.from(traffic.key(event));
        return {
          topic,
          partition: partitionForKey(key, partitions, () => 0),
          key,
          value: serde.serialize(event, topic),
          timestamp: sentAt,
        };
      });
      this.sending = this.sending
        .then(() => producer.send(records))
        .then(() => {
          this.produced += records.length;
        })
        .catch((error: unknown) => this.options.logger.error({ err: error }, 'sample feed could not write'));
    }, tickMs);
    this.stopProducer = () => producer.close();
  }

  private stopProducer: () => Promise<void> = async () => undefined;

  /** Writes the rollout's start command (keyed by its service, as the judge reads it). */
  private async startRollout(
    rollout: NonNullable<SampleFeedOptions['rollout']>,
    producer: Awaited<ReturnType<Transport['producer']>>,
  ): Promise<void> {
    const { transport } = this.options;
    const partitions = await transport.partitionCount(rollout.commandTopic);
    if (partitions === undefined)
      throw new Error(`sample feed: topic '${rollout.commandTopic}' does not exist`);
    await rollout.commandSerde.prepare?.(rollout.commandTopic);
    const now = Date.now();
    const key = Buffer.from(rollout.traffic.commandKey);
    await producer.send([
      {
        topic: rollout.commandTopic,
        partition: partitionForKey(key, partitions, () => 0),
        key,
        value: rollout.commandSerde.serialize(rollout.traffic.start(now), rollout.commandTopic),
        timestamp: now,
        headers: {},
      },
    ]);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sending;
    await this.stopProducer();
  }
}
