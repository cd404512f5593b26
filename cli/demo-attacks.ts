/**
 * The demo's attacks: now and then a credential-stuffing run against tenant
 * `acme` from a new IP (a script trying logins for many usernames, most
 * failing), until the demo's stand-in enforcer blocks that IP or the run
 * ends (then a quiet spell, and the next run from another IP). The SOC processors should open an incident, remediate it, and
 * auto-resolve it once the IP is quiet; the demo's screen shows it.
 */

import { seededRandom } from '../processors/seeded-random.js';
import {
  EMPTY_PAYLOAD,
  type RemediationResult,
  type SecurityIncident,
  type TelemetryEvent,
} from '../schemas/index.js';
import { uuidShapedId } from './sample-traffic.js';

export interface DemoAttacksOptions {
  /** Quiet time before the first attack (baselines learn the normal traffic). Default 60 s. */
  readonly firstAfterMs?: number;
  /** Quiet time between attacks. Default 4 minutes. */
  readonly everyMs?: number;
  /** How long an attack goes on when nothing blocks it. Default 2 minutes. */
  readonly lastsMs?: number;
  /** Login attempts per second during an attack. Default 8. */
  readonly attemptsPerSecond?: number;
  readonly seed?: number;
}

const TENANT = 'acme';
const AGENT = 'python-requests/2.31.0';

export class DemoAttacks {
  /** Attempts per second while an attack runs (the feed asks for this many). */
  readonly eventsPerSecond: number;
  private readonly random: () => number;
  private readonly firstAfterMs: number;
  private readonly everyMs: number;
  private readonly lastsMs: number;
  private startedAt: number | undefined;
  private counter = 0;
  /** The attack in progress: its IP and when it ends. */
  private current: { ip: string; endsAt: number } | undefined;
  private nextAt = 0;
  private attacks = 0;
  private readonly blocked = new Map<string, number>();

  constructor(options: DemoAttacksOptions = {}) {
    this.random = seededRandom(options.seed ?? 13);
    this.firstAfterMs = options.firstAfterMs ?? 60_000;
    this.everyMs = options.everyMs ?? 240_000;
    this.lastsMs = options.lastsMs ?? 120_000;
    this.eventsPerSecond = options.attemptsPerSecond ?? 8;
  }

  /** The IP attacking now, if any. */
  get attacker(): string | undefined {
    return this.current?.ip;
  }

  /** The next `n` attempts at `now` (none between attacks, or while the attacker is blocked). */
  take(n: number, now: number): TelemetryEvent[] {
    if (this.startedAt === undefined) {
      this.startedAt = now;
      this.nextAt = now + this.firstAfterMs;
    }
    if (this.current !== undefined && now >= this.current.endsAt) {
      this.current = undefined;
      this.nextAt = now + this.everyMs;
    }
    if (this.current === undefined && now >= this.nextAt) {
      this.attacks += 1;
      this.current = { ip: `203.0.113.${(this.attacks * 37) % 250}`, endsAt: now + this.lastsMs };
    }
    const attack = this.current;
    if (attack === undefined || (this.blocked.get(attack.ip) ?? 0) > now) return [];
    return Array.from({ length: n }, () => this.attempt(now, attack.ip));
  }

  /**
   * The demo's stand-in for an enforcer (a WAF): applies an incident's
   * pending block_ip (the attacker then stops until its next attack) and
   * returns the result that confirms it on `remediation_results`.
   */
  enforce(incident: SecurityIncident, now: number): RemediationResult | undefined {
    const remediation = incident.remediation;
    if (remediation?.status !== 'pending' || remediation.action !== 'block_ip') return undefined;
    this.blocked.set(incident.entityId, remediation.expiresAt);
    if (this.current?.ip === incident.entityId) {
      this.current = undefined;
      this.nextAt = now + this.everyMs;
    }
    return {
      commandId: remediation.commandId,
      incidentId: incident.incidentId,
      status: 'applied',
      at: now,
      message: 'blocked by the demo WAF',
    };
  }

  private attempt(now: number, ip: string): TelemetryEvent {
    this.counter += 1;
    const failed = this.random() < 0.97;
    return {
      eventId: uuidShapedId(this.random, this.counter),
      timestamp: now,
      tenantId: TENANT,
      userId: `login-${Math.floor(this.random() * 500)}`,
      eventType: 'api_call',
      payload: {
        ...EMPTY_PAYLOAD,
        method: 'POST',
        path: '/login',
        statusCode: failed ? 401 : 200,
        latencyMs: Math.round(40 + this.random() * 60),
      },
      metadata: { source: 'api-gateway', version: '2.4.1' },
      deployment: null,
      clientIp: ip,
      userAgent: AGENT,
    };
  }
}
