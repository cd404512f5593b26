/**
 * A local stand-in for Anthropic's Messages API: records each request and
 * answers with a recorded response (test/fixtures/anthropic/), or what a
 * test sets as `reply`. For the triage tests and for jobs spawned with
 * ANTHROPIC_BASE_URL pointing at it.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const recorded = JSON.parse(
  readFileSync(new URL('../fixtures/anthropic/messages-triage-note.json', import.meta.url), 'utf8'),
) as { content: Array<{ type: string; text: string }> };
export const recordedText = recorded.content[0]!.text;

export interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export type Reply = (req: IncomingMessage, res: ServerResponse) => void;

export const replay: Reply = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_recorded' });
  res.end(JSON.stringify(recorded));
};

export const failWith =
  (status: number, type: string): Reply =>
  (_req, res) => {
    // retry-after-ms keeps the SDK's one retry fast
    res.writeHead(status, { 'content-type': 'application/json', 'retry-after-ms': '5' });
    res.end(JSON.stringify({ type: 'error', error: { type, message: `recorded ${status}` } }));
  };

/** A local stand-in for the Messages API: records each request, answers with `reply`. */
export class FakeAnthropic {
  readonly received: Received[] = [];
  reply: Reply = replay;
  /** Requests held by `hold()`, answered by `release()`. */
  private readonly held: ServerResponse[] = [];
  private arrivals: Array<() => void> = [];
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      for (const arrived of this.arrivals.splice(0)) arrived();
      this.reply(req, res);
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Holds every request until `release()` (or until the client gives up). */
  hold(): void {
    this.reply = (_req, res) => {
      this.held.push(res);
    };
  }

  release(): void {
    for (const res of this.held.splice(0)) if (!res.destroyed) replay({} as IncomingMessage, res);
  }

  /** Resolves once `n` requests have arrived. */
  async requests(n: number): Promise<void> {
    while (this.received.length < n) await new Promise<void>((resolve) => this.arrivals.push(resolve));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
