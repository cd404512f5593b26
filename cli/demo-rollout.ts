/**
 * The demo's rollout: the `checkout` service of tenant `acme` rolls out a
 * canary beside a baseline and the stable version; the canary is healthy at
 * first and regresses after a while (slower, more errors), so the gate's
 * verdict on the demo's screen goes from hold to rollback.
 */

import { seededRandom } from '../processors/seeded-random.js';
import type { CanaryCommand, DeploymentTrack, TelemetryEvent } from '../schemas/index.js';
import { rolloutKeyOf } from '../schemas/index.js';
import {
  BASELINE_VERSION,
  CANARY_VERSION,
  drawLatency,
  HEALTHY,
  normalSource,
  rolloutRequests,
  startCommand,
  type TrackModel,
} from './canary-scenarios.js';

export interface DemoRolloutOptions {
  /** Requests per second per track (canary and baseline; stable gets twice as many). Default 20. */
  readonly requestsPerSecond?: number;
  /** The canary regresses this long after the rollout starts. Default 20 s. */
  readonly regressAfterMs?: number;
  readonly seed?: number;
}

const TENANT = 'acme';
const SERVICE = 'checkout';
const REGRESSED: TrackModel = { ...HEALTHY, medianMs: 200, errorRate: 0.08 };

export class DemoRollout {
  readonly rolloutId: string;
  readonly commandKey = rolloutKeyOf(TENANT, SERVICE);
  /** Requests of all tracks per second. */
  readonly eventsPerSecond: number;
  private readonly random: () => number;
  private readonly normal: () => number;
  private readonly request: ReturnType<typeof rolloutRequests>;
  private readonly regressAfterMs: number;
  private startedAt = 0;

  constructor(options: DemoRolloutOptions = {}) {
    const perTrack = options.requestsPerSecond ?? 20;
    this.eventsPerSecond = perTrack * 4;
    this.regressAfterMs = options.regressAfterMs ?? 20_000;
    this.random = seededRandom(options.seed ?? 11);
    this.normal = normalSource(this.random);
    this.rolloutId = `${SERVICE}-${CANARY_VERSION}-demo`;
    this.request = rolloutRequests({
      tenantId: TENANT,
      service: SERVICE,
      rolloutId: this.rolloutId,
      random: this.random,
    });
  }

  /** The command that starts the rollout now. */
  start(now: number): CanaryCommand {
    this.startedAt = now;
    return startCommand({
      tenantId: TENANT,
      service: SERVICE,
      rolloutId: this.rolloutId,
      issuedAt: now,
      issuedBy: 'veroai demo',
      reason: `demo: ${SERVICE} ${BASELINE_VERSION} → ${CANARY_VERSION}`,
    });
  }

  /** The next `n` requests, at time `now`: one in four canary, one in four baseline, half stable. */
  take(n: number, now: number): TelemetryEvent[] {
    const regressed = now - this.startedAt >= this.regressAfterMs;
    const events: TelemetryEvent[] = [];
    for (let i = 0; i < n; i++) {
      const pick = this.random();
      const [track, version, model]: [DeploymentTrack, string, TrackModel] =
        pick < 0.25
          ? ['canary', CANARY_VERSION, regressed ? REGRESSED : HEALTHY]
          : pick < 0.5
            ? ['baseline', BASELINE_VERSION, HEALTHY]
            : ['stable', BASELINE_VERSION, HEALTHY];
      const latency = drawLatency(model, 1, this.normal, this.random);
      events.push(this.request(now, track, version, latency, this.random() < model.errorRate));
    }
    return events;
  }
}
