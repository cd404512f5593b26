/**
 * Labelled security traffic (issue 12) for the in-process simulation, the
 * `soc` bench and the tests: a diurnal baseline of API calls from a few
 * tenants' users, and over it one scenario — an attack the detectors must
 * report, or a change (a surge, a new tenant) they must not. Pure and
 * seeded: the same seed and options give the same events; the baseline of a
 * seed is the same in every scenario (the `quiet` scenario's events are the
 * baseline alone).
 *
 * Baseline: per tenant ~40 users, each with a stable home IP (a quarter also
 * a second one), one user agent, and activity in bursts (sessions, a login at
 * the start of each after a long gap) separated by idle gaps that lengthen at
 * night (a sine over the UTC day: peak 15:00, trough 03:00), and one service
 * account polling day and night; a tenant sends ~1–3 requests a second by day
 * and about half as many at night. Requests are
 * `api_call` events on 15 templated endpoints (plus POST /login): 1% 5xx,
 * ~0.5% 401, latency log-normal with median 80 ms.
 *
 * The attacks are sized for 30-second behaviour windows: in every such window
 * inside the attack the attacker's entity passes the levels below, which no
 * baseline IP or user comes near (test/unit/cli/security-scenarios.test.ts
 * measures both sides):
 * - credential stuffing: ≥ 10 auth failures across ≥ 5 users from one IP;
 * - scraping: ≥ 30 distinct paths from one IP (a baseline user has 16 at most);
 * - token abuse: ≥ 4 distinct IPs for one user (a baseline user has 2 at most);
 * - error storm: a tenant's 5xx share ~35% (baseline 1%);
 * - latency spike: a tenant's median latency ~480 ms (baseline 80 ms).
 */

import { seededRandom } from '../processors/seeded-random.js';
import { userKeyOf } from '../processors/telemetry/user-key.js';
import {
  EMPTY_PAYLOAD,
  type EntityRef,
  entityKeyOf,
  type IncidentKind,
  type TelemetryEvent,
} from '../schemas/index.js';
import { normalSource } from './canary-scenarios.js';
import { burstMs, ENDPOINTS, gapMs, TENANT_NAMES, uuidShapedId } from './sample-traffic.js';

export type SecurityScenarioName =
  | 'credential-stuffing'
  | 'scraping'
  | 'token-abuse'
  | 'error-storm'
  | 'latency-spike'
  | 'traffic-surge'
  | 'tenant-onboarding'
  | 'quiet';

/** An incident a correct detector opens on a scenario. */
export interface ExpectedIncident {
  readonly kind: IncidentKind;
  /** `entityKeyOf` of the incident's entity. */
  readonly entityKey: string;
}

export interface SecurityScenario {
  readonly name: SecurityScenarioName;
  readonly description: string;
  /** true when the scenario holds an attack to detect; false for those that must not alert. */
  readonly attack: boolean;
}

export interface SecurityTraffic {
  /** Sorted by timestamp (ties by eventId); every one valid per validateTelemetryEvent. */
  readonly events: TelemetryEvent[];
  /** Event time (epoch ms) the attack, surge or onboarding begins; null for `quiet`. */
  readonly attackStart: number | null;
  /** Event time (epoch ms, exclusive) it ends; null for `quiet`. */
  readonly attackEnd: number | null;
  /** Event time (epoch ms, exclusive) the traffic ends. */
  readonly end: number;
  /** Empty for the scenarios that must not alert. */
  readonly expected: ExpectedIncident[];
  /**
   * true when the event belongs to the attack (for remediation in simulations:
   * an enforcer drops attack events after a block). For an error storm or a
   * latency spike: the tenant's requests inside the attack window. Always
   * false in the scenarios that must not alert. By event id, so copies count.
   */
  isAttack(event: TelemetryEvent): boolean;
  /**
   * true when the scenario added or altered the event over the baseline: the
   * attack's events, and a surge's or a new tenant's. Every other event is
   * also in the `quiet` traffic of the same seed and options.
   */
  isInjected(event: TelemetryEvent): boolean;
}

export interface SecurityTrafficOptions {
  readonly seed: number;
  /** Event time of the first baseline event (epoch ms). */
  readonly startTime: number;
  /** Baseline before the attack, so detectors have history. Default 2 hours. */
  readonly warmupMs?: number;
  /** Default 10 minutes. */
  readonly attackMs?: number;
  /** Baseline after the attack, so incidents can auto-resolve. Default 20 minutes. */
  readonly afterMs?: number;
  /** Baseline tenants, 1 to 8. Default 4. */
  readonly tenants?: number;
  /** Users of each baseline tenant, 5 to 1000. Default 40. */
  readonly usersPerTenant?: number;
}

export const SECURITY_SCENARIOS: Record<SecurityScenarioName, SecurityScenario> = {
  'credential-stuffing': {
    name: 'credential-stuffing',
    description:
      'one new IP with a script user agent tries ~3 logins a second against many user ids of one tenant, mostly 401',
    attack: true,
  },
  scraping: {
    name: 'scraping',
    description:
      'one new IP, logged in as a new user of one tenant, walks hundreds of product pages at ~4 GETs a second',
    attack: true,
  },
  'token-abuse': {
    name: 'token-abuse',
    description:
      "one user's token replayed from a new IP every ~20 s (≥ 4 IPs per 30 s), ~1 request a second",
    attack: true,
  },
  'error-storm': {
    name: 'error-storm',
    description: "one tenant's 5xx share jumps from 1% to ~35% for all its users",
    attack: true,
  },
  'latency-spike': {
    name: 'latency-spike',
    description: "one tenant's latency ×6 (median ~480 ms) for all its users",
    attack: true,
  },
  'traffic-surge': {
    name: 'traffic-surge',
    description:
      "one tenant's traffic ×3 from new and existing users on their own IPs, normal errors and latency (a launch): must not alert",
    attack: false,
  },
  'tenant-onboarding': {
    name: 'tenant-onboarding',
    description: 'a new tenant appears with 30 new users behaving normally: must not alert',
    attack: false,
  },
  quiet: { name: 'quiet', description: 'the baseline alone: must not alert', attack: false },
};

/** The key a scenario event is written to `raw_events` with. */
export const securityEventKey = (event: TelemetryEvent): string => userKeyOf(event);

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The login every session after a long gap starts with, and credential stuffing hammers. */
const LOGIN = ['POST', '/login'] as const;
/** The baseline's 15 endpoints: sample traffic's, and a product catalogue and a few more. */
const SECURITY_ENDPOINTS: readonly (readonly [string, string])[] = [
  ...ENDPOINTS,
  ['GET', '/products'],
  ['GET', '/products/:id'],
  ['GET', '/v1/me'],
  ['GET', '/v1/notifications'],
  ['POST', '/v1/events'],
];

/** Per tenant (in order), requests a second of one user in a session; a user draws ×0.6–1.4 of it. */
const TENANT_USER_RATES = [0.28, 0.24, 0.2, 0.17];
const DEFAULT_USER_RATE = 0.2;

const BROWSER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 Edg/123.0.0.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0',
];
const SDK_AGENTS = ['saas-sdk-python/3.2.1 (CPython 3.12)', 'saas-sdk-node/5.0.4 (node 20.12.2)'];
const STUFFING_AGENT = 'python-requests/2.31.0';
const SCRAPER_AGENT = 'Mozilla/5.0 (compatible; CatalogBot/2.1; +http://example.com/bot)';
const REPLAY_AGENTS = [
  'curl/8.4.0',
  'python-requests/2.31.0',
  'Go-http-client/1.1',
  ...BROWSER_AGENTS.slice(0, 4),
];

/**
 * How busy users are at an hour, in [0.5, 1.5]: a sine over the UTC day,
 * highest at 15:00 and lowest at 03:00. Idle gaps are divided by it, and a
 * service account's rate multiplied by its square root.
 */
export function diurnalFactor(time: number): number {
  const hour = (((time % DAY) + DAY) % DAY) / HOUR;
  return 1 + 0.5 * Math.cos((2 * Math.PI * (hour - 15)) / 24);
}

/** Mean burst and mean idle gap of sample traffic (burstMs, gapMs), for the steady-state active share. */
const MEAN_BURST_MS = 8 * MINUTE;
const MEAN_GAP_MS = 47.3 * MINUTE;

/** An independent seed for one part of the traffic (FNV-1a of the label over the seed). */
function subSeed(seed: number, label: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

const pickFrom = <T>(items: readonly T[], random: () => number): T =>
  items[Math.floor(random() * items.length)]!;

/** Exponential gap (ms) of a Poisson process of `perSecond` events a second. */
const poissonGap = (perSecond: number, random: () => number) =>
  (-Math.log(1 - random()) / perSecond) * SECOND;

interface Tenant {
  readonly tenantId: string;
  readonly index: number;
  readonly userRate: number;
  readonly endpoints: readonly (readonly [string, string])[];
  /** Cumulative weights of `endpoints`. */
  readonly cumulative: readonly number[];
}

interface User {
  readonly tenant: Tenant;
  readonly userId: string;
  /** The home IP, and sometimes a second (office) one. */
  readonly ips: readonly string[];
  readonly userAgent: string;
  /** Requests a second while in a session. */
  readonly rate: number;
}

/** A tenant's endpoints, weighted Zipf-like in an order of its own. */
function tenantOf(seed: number, index: number, tenantId = tenantName(index)): Tenant {
  const random = seededRandom(subSeed(seed, `tenant/${tenantId}`));
  const endpoints = [...SECURITY_ENDPOINTS];
  for (let i = endpoints.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [endpoints[i], endpoints[j]] = [endpoints[j]!, endpoints[i]!];
  }
  const cumulative: number[] = [];
  let total = 0;
  for (let i = 0; i < endpoints.length; i++) {
    total += 1 / (i + 1) ** 0.8;
    cumulative.push(total);
  }
  return {
    tenantId,
    index,
    userRate: TENANT_USER_RATES[index] ?? DEFAULT_USER_RATE,
    endpoints,
    cumulative: cumulative.map((c) => c / total),
  };
}

const tenantName = (index: number) => TENANT_NAMES[index] ?? `tenant-${index + 1}`;
const userName = (index: number) => `user-${String(index + 1).padStart(4, '0')}`;

/**
 * User `index` of a tenant: home IP 10.<tenant+1>.x.y, a quarter of users
 * also 172.<16+tenant>.x.y; distinct per user (and from every attacker's,
 * which come from the documentation ranges).
 */
function userOf(seed: number, tenant: Tenant, index: number): User {
  const random = seededRandom(subSeed(seed, `user/${tenant.tenantId}/${index}`));
  const host = `${Math.floor(index / 250)}.${(index % 250) + 1}`;
  const ips = [`10.${tenant.index + 1}.${host}`];
  if (random() < 0.25) ips.push(`172.${16 + tenant.index}.${host}`);
  return {
    tenant,
    userId: userName(index),
    ips,
    userAgent: pickFrom(BROWSER_AGENTS, random),
    rate: tenant.userRate * (0.6 + 0.8 * random()),
  };
}

/** Builds the events of one stream (a user, an attacker), with ids unique across streams. */
class Stream {
  private sequence = 0;
  readonly normal: () => number;

  constructor(
    readonly random: () => number,
    /** Below 2^16: the high bits of every id's counter. */
    private readonly streamNo: number,
    private readonly out: TelemetryEvent[],
  ) {
    this.normal = normalSource(random);
  }

  /** Log-normal latency in whole ms (≥ 1), median 80 ms × `factor`. */
  latency(factor = 1): number {
    return Math.max(1, Math.round(80 * factor * Math.exp(0.45 * this.normal())));
  }

  /** A baseline status: 1% 5xx, 0.4% 401 (an expired token), else 200. */
  status(): number {
    const r = this.random();
    if (r < 0.01) return r < 0.007 ? 500 : r < 0.008 ? 502 : 503;
    return r < 0.014 ? 401 : 200;
  }

  emit(
    time: number,
    tenantId: string,
    userId: string,
    ip: string,
    userAgent: string,
    [method, path]: readonly [string, string],
    statusCode: number,
    latencyMs: number,
  ): TelemetryEvent {
    this.sequence += 1;
    const event: TelemetryEvent = {
      eventId: uuidShapedId(this.random, this.streamNo * 2 ** 32 + this.sequence),
      timestamp: Math.round(time),
      tenantId,
      userId,
      eventType: 'api_call',
      payload: {
        ...EMPTY_PAYLOAD,
        method,
        path,
        statusCode,
        latencyMs,
        errorMessage: statusCode >= 500 ? `upstream ${statusCode} on ${path}` : null,
      },
      metadata: { source: 'api-gateway', version: '2.4.1' },
      deployment: null,
      clientIp: ip,
      userAgent,
    };
    this.out.push(event);
    return event;
  }

  /** One of the tenant's endpoints by its weights. */
  endpoint(tenant: Tenant): readonly [string, string] {
    const r = this.random();
    const i = tenant.cumulative.findIndex((c) => r < c);
    return tenant.endpoints[i < 0 ? tenant.endpoints.length - 1 : i]!;
  }
}

/**
 * One burst of a user's requests over [start, end), from one of the user's
 * IPs; with `login`, it opens with POST /login (8% a typo first: 401, then
 * 200 a few seconds later).
 */
function session(stream: Stream, user: User, start: number, end: number, login: boolean): void {
  const { random } = stream;
  const ip = user.ips.length > 1 && random() < 0.3 ? user.ips[1]! : user.ips[0]!;
  const send = (time: number, endpoint: readonly [string, string], status: number) =>
    stream.emit(
      time,
      user.tenant.tenantId,
      user.userId,
      ip,
      user.userAgent,
      endpoint,
      status,
      stream.latency(),
    );
  let t = start;
  if (login && t < end) {
    if (random() < 0.08) {
      send(t, LOGIN, 401);
      t += 3 * SECOND + random() * 7 * SECOND;
    }
    if (t < end) send(t, LOGIN, 200);
  }
  for (t += poissonGap(user.rate, random); t < end; t += poissonGap(user.rate, random))
    send(t, stream.endpoint(user.tenant), stream.status());
}

/**
 * A user's sessions over [from, to): bursts (sample traffic's burstMs)
 * separated by gaps (its gapMs) divided by the diurnal factor. Starts in the
 * steady state, or, with `firstSessionBy`, idle until a time before it.
 */
function userActivity(stream: Stream, user: User, from: number, to: number, firstSessionBy?: number): void {
  const { random } = stream;
  let start: number;
  let end: number;
  let login = true;
  const d = diurnalFactor(from);
  if (firstSessionBy !== undefined) {
    start = from + random() * (firstSessionBy - from);
    end = start + burstMs(random);
  } else if (random() < MEAN_BURST_MS / (MEAN_BURST_MS + MEAN_GAP_MS / d)) {
    start = from;
    end = from + random() * burstMs(random);
    login = false;
  } else {
    start = from + (random() * gapMs(random)) / d;
    end = start + burstMs(random);
  }
  while (start < to) {
    session(stream, user, start, Math.min(end, to), login);
    const gap = gapMs(random);
    // a pause within a session (under 30 minutes) keeps the login
    login = gap >= 30 * MINUTE;
    start = end + gap / diurnalFactor(end);
    end = start + burstMs(random);
  }
}

/**
 * A tenant's integration (`svc-sync`, an SDK agent, 10.<tenant+1>.255.1):
 * polls 4 of the tenant's endpoints day and night at ~0.25 requests a
 * second (× √diurnal), so a tenant is never silent for a whole window.
 */
function serviceAccountActivity(stream: Stream, tenant: Tenant, from: number, to: number): void {
  const { random } = stream;
  const agent = pickFrom(SDK_AGENTS, random);
  const ip = `10.${tenant.index + 1}.255.1`;
  const polled = tenant.endpoints.slice(0, 4);
  for (let t = from; ; ) {
    t += poissonGap(0.25 * Math.sqrt(diurnalFactor(t)), random);
    if (t >= to) break;
    stream.emit(
      t,
      tenant.tenantId,
      SERVICE_ACCOUNT,
      ip,
      agent,
      pickFrom(polled, random),
      stream.status(),
      stream.latency(),
    );
  }
}

const SERVICE_ACCOUNT = 'svc-sync';

/** Counter high bits: baseline users (tenant+1)·4096 + user (4095: the service account); others from 0xE000. */
const userStreamNo = (tenant: Tenant, userIndex: number) => (tenant.index + 1) * 4096 + userIndex;
const EXTRA_SESSIONS_STREAM = 0xe000;
const ATTACK_STREAM = 0xf000;

function checkOptions(name: SecurityScenarioName, options: SecurityTrafficOptions) {
  const warmupMs = options.warmupMs ?? 2 * HOUR;
  const attackMs = options.attackMs ?? 10 * MINUTE;
  const afterMs = options.afterMs ?? 20 * MINUTE;
  const tenants = options.tenants ?? 4;
  const usersPerTenant = options.usersPerTenant ?? 40;
  if (!(name in SECURITY_SCENARIOS)) throw new RangeError(`unknown security scenario '${name}'`);
  if (!Number.isFinite(options.seed) || !Number.isFinite(options.startTime))
    throw new RangeError(`seed and startTime must be numbers, got ${options.seed}, ${options.startTime}`);
  for (const [field, value] of Object.entries({ warmupMs, attackMs, afterMs }))
    if (!(Number.isFinite(value) && value >= 0)) throw new RangeError(`${field} must be ≥ 0, got ${value}`);
  if (name !== 'quiet' && attackMs < 30 * SECOND)
    throw new RangeError(`scenario '${name}' needs attackMs ≥ 30 s (one behaviour window), got ${attackMs}`);
  if (!(Number.isInteger(tenants) && tenants >= 1 && tenants <= 8))
    throw new RangeError(`tenants must be an integer from 1 to 8, got ${tenants}`);
  if (!(Number.isInteger(usersPerTenant) && usersPerTenant >= 5 && usersPerTenant <= 1000))
    throw new RangeError(`usersPerTenant must be an integer from 5 to 1000, got ${usersPerTenant}`);
  return { warmupMs, attackMs, afterMs, tenants, usersPerTenant };
}

/** The traffic of a scenario: the baseline of the seed, with the scenario over it. */
export function securityTraffic(
  name: SecurityScenarioName,
  options: SecurityTrafficOptions,
): SecurityTraffic {
  const { seed, startTime } = options;
  const { warmupMs, attackMs, afterMs, tenants: tenantCount, usersPerTenant } = checkOptions(name, options);
  const attackStart = startTime + warmupMs;
  const attackEnd = attackStart + attackMs;
  const end = attackEnd + afterMs;

  const events: TelemetryEvent[] = [];
  const tenants: Tenant[] = [];
  const users: User[][] = [];
  for (let t = 0; t < tenantCount; t++) {
    const tenant = tenantOf(seed, t);
    tenants.push(tenant);
    const ofTenant: User[] = [];
    for (let u = 0; u < usersPerTenant; u++) {
      const user = userOf(seed, tenant, u);
      ofTenant.push(user);
      const random = seededRandom(subSeed(seed, `activity/${tenant.tenantId}/${u}`));
      userActivity(new Stream(random, userStreamNo(tenant, u), events), user, startTime, end);
    }
    users.push(ofTenant);
    const random = seededRandom(subSeed(seed, `service/${tenant.tenantId}`));
    serviceAccountActivity(new Stream(random, userStreamNo(tenant, 4095), events), tenant, startTime, end);
  }

  const random = seededRandom(subSeed(seed, `scenario/${name}`));
  const attack = new Stream(random, ATTACK_STREAM, events);
  const attackIds = new Set<string>();
  const injectedIds = new Set<string>();
  const expected: ExpectedIncident[] = [];
  const target = tenants[Math.floor(random() * tenants.length)]!;
  const targetUsers = users[target.index]!;
  const inWindow = (e: TelemetryEvent) => e.timestamp >= attackStart && e.timestamp < attackEnd;
  const expect = (kind: IncidentKind, entity: EntityRef) =>
    expected.push({ kind, entityKey: entityKeyOf(entity) });
  const attackEvent = (e: TelemetryEvent) => {
    attackIds.add(e.eventId);
    injectedIds.add(e.eventId);
  };

  switch (name) {
    case 'credential-stuffing': {
      const ip = `203.0.113.${1 + Math.floor(random() * 254)}`;
      for (let t = attackStart; t < attackEnd; t += poissonGap(3, random)) {
        const existing = random() < 0.4;
        const userId = existing
          ? pickFrom(targetUsers, random).userId
          : userName(usersPerTenant + 100 + Math.floor(random() * 9000));
        const status = existing && random() < 0.03 ? 200 : 401;
        attackEvent(
          attack.emit(t, target.tenantId, userId, ip, STUFFING_AGENT, LOGIN, status, attack.latency()),
        );
      }
      expect('credential_stuffing', { kind: 'ip', id: ip, tenantId: null });
      break;
    }
    case 'scraping': {
      const ip = `198.51.100.${1 + Math.floor(random() * 254)}`;
      const userId = userName(usersPerTenant + Math.floor(random() * 100));
      const send = (t: number, endpoint: readonly [string, string]) =>
        attackEvent(
          attack.emit(t, target.tenantId, userId, ip, SCRAPER_AGENT, endpoint, 200, attack.latency()),
        );
      send(attackStart, LOGIN);
      // a catalogue of 500 products, walked in order and again
      const first = 1000 + Math.floor(random() * 9000);
      let n = 0;
      for (let t = attackStart + poissonGap(4, random); t < attackEnd; t += poissonGap(4, random))
        send(t, ['GET', `/products/${first + (n++ % 500)}`]);
      expect('scraping', { kind: 'ip', id: ip, tenantId: null });
      break;
    }
    case 'token-abuse': {
      const victim = pickFrom(targetUsers, random);
      // IP k replays the token from about attackStart + 20 s·(k − 5) for 2 minutes:
      // from the first second, about six IPs are in use at once
      const hosts = shuffledHosts(random);
      const replayers: { ip: string; agent: string; from: number; until: number; lastUsed: number }[] = [];
      for (
        let from = attackStart - 100 * SECOND;
        from < attackEnd;
        from += 15 * SECOND + random() * 10 * SECOND
      ) {
        const k = replayers.length;
        const ip =
          k < hosts.length ? `192.0.2.${hosts[k]}` : `10.250.${Math.floor(k / 250)}.${(k % 250) + 1}`;
        replayers.push({
          ip,
          agent: pickFrom(REPLAY_AGENTS, random),
          from,
          until: from + 2 * MINUTE,
          lastUsed: 0,
        });
      }
      for (let t = attackStart; t < attackEnd; t += poissonGap(1.2, random)) {
        // the least recently used of the IPs in use: each sends every few seconds
        let replayer: (typeof replayers)[number] | undefined;
        for (const r of replayers)
          if (r.from <= t && t < r.until && (replayer === undefined || r.lastUsed < replayer.lastUsed))
            replayer = r;
        replayer!.lastUsed = t;
        attackEvent(
          attack.emit(
            t,
            target.tenantId,
            victim.userId,
            replayer!.ip,
            replayer!.agent,
            attack.endpoint(target),
            attack.status(),
            attack.latency(),
          ),
        );
      }
      expect('token_abuse', { kind: 'user', id: victim.userId, tenantId: target.tenantId });
      break;
    }
    case 'error-storm':
    case 'latency-spike': {
      // the tenant with the most requests in the window, so that each 30-second
      // window holds enough of them for the share or the median to stand out
      const counts = new Map<string, number>();
      for (const e of events) if (inWindow(e)) counts.set(e.tenantId, (counts.get(e.tenantId) ?? 0) + 1);
      const busiest = tenants.reduce((a, b) =>
        (counts.get(b.tenantId) ?? 0) > (counts.get(a.tenantId) ?? 0) ? b : a,
      );
      for (let i = 0; i < events.length; i++) {
        const e = events[i]!;
        if (e.tenantId !== busiest.tenantId || !inWindow(e)) continue;
        let payload = e.payload;
        if (name === 'latency-spike') payload = { ...payload, latencyMs: Math.round(payload.latencyMs! * 6) };
        else if (random() < 0.35) {
          const statusCode = random() < 0.6 ? 500 : 503;
          payload = { ...payload, statusCode, errorMessage: `upstream ${statusCode} on ${payload.path}` };
        }
        events[i] = { ...e, payload };
        attackEvent(events[i]!);
      }
      expect(name === 'error-storm' ? 'error_storm' : 'latency_spike', {
        kind: 'tenant',
        id: busiest.tenantId,
        tenantId: busiest.tenantId,
      });
      break;
    }
    case 'traffic-surge': {
      // twice the tenant's own requests in the window on top: sessions of new
      // users (60%) and of existing ones, each at a user's ordinary rate
      const own = events.filter((e) => e.tenantId === target.tenantId && inWindow(e)).length;
      const surge: TelemetryEvent[] = [];
      const stream = new Stream(random, EXTRA_SESSIONS_STREAM, surge);
      const existing = [...targetUsers];
      let newUsers = 0;
      while (surge.length < Math.max(2 * own, 100)) {
        const user =
          random() < 0.6 || existing.length === 0
            ? userOf(seed, target, usersPerTenant + newUsers++)
            : existing.splice(Math.floor(random() * existing.length), 1)[0]!;
        const start = attackStart - MEAN_BURST_MS + random() * (attackMs + MEAN_BURST_MS);
        const sessionEnd = Math.min(attackEnd, start + burstMs(random));
        if (sessionEnd > attackStart)
          session(stream, user, Math.max(start, attackStart), sessionEnd, start >= attackStart);
      }
      for (const e of surge) injectedIds.add(e.eventId);
      events.push(...surge);
      break;
    }
    case 'tenant-onboarding': {
      const tenant = tenantOf(seed, tenantCount);
      for (let u = 0; u < 30; u++) {
        const stream = new Stream(
          seededRandom(subSeed(seed, `onboarding/${u}`)),
          userStreamNo(tenant, u),
          events,
        );
        const before = events.length;
        userActivity(stream, userOf(seed, tenant, u), attackStart, end, attackEnd);
        for (let i = before; i < events.length; i++) injectedIds.add(events[i]!.eventId);
      }
      break;
    }
    case 'quiet':
      break;
  }

  events.sort(
    (a, b) => a.timestamp - b.timestamp || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0),
  );
  return {
    events,
    attackStart: name === 'quiet' ? null : attackStart,
    attackEnd: name === 'quiet' ? null : attackEnd,
    end,
    expected,
    isAttack: (event) => attackIds.has(event.eventId),
    isInjected: (event) => injectedIds.has(event.eventId),
  };
}

/** 1–254 in a seeded order: last octets of distinct documentation-range IPs. */
function shuffledHosts(random: () => number): number[] {
  const hosts = Array.from({ length: 254 }, (_, i) => i + 1);
  for (let i = hosts.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [hosts[i], hosts[j]] = [hosts[j]!, hosts[i]!];
  }
  return hosts;
}

/**
 * The events in the order they would arrive: each delayed by a seeded lag,
 * most by under 100 ms, one in ten by up to `maxLagMs` (default 3 s), so
 * some arrive a few seconds out of event-time order. A new array.
 */
export function inArrivalOrder(
  events: readonly TelemetryEvent[],
  seed: number,
  maxLagMs = 3000,
): TelemetryEvent[] {
  const random = seededRandom(subSeed(seed, 'arrival'));
  return events
    .map((event, i) => ({
      event,
      i,
      at: event.timestamp + (random() < 0.1 ? random() * maxLagMs : random() * 100),
    }))
    .sort((a, b) => a.at - b.at || a.i - b.i)
    .map(({ event }) => event);
}
