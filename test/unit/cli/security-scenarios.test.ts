/**
 * The labelled security traffic of issue 12 (cli/security-scenarios.ts): that
 * it is seeded and valid, that its labels say which events are the attack,
 * and that it claims what it says — in 30-second behaviour windows the
 * attacker's entity passes the detection levels in every window of the attack
 * while no baseline IP, user or tenant comes near them.
 */
import { describe, expect, it } from 'vitest';
import {
  diurnalFactor,
  inArrivalOrder,
  SECURITY_SCENARIOS,
  type SecurityScenarioName,
  type SecurityTraffic,
  securityEventKey,
  securityTraffic,
} from '../../../cli/security-scenarios.js';
import { validateTelemetryEvent } from '../../../processors/telemetry/validate.js';
import { entityOfKey, type TelemetryEvent } from '../../../schemas/index.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const WINDOW = 30_000;
/** A Monday, 08:00 UTC: the attack at 10:00, by day. */
const START = Date.UTC(2024, 2, 4, 8, 0, 0);
const NAMES = Object.keys(SECURITY_SCENARIOS) as SecurityScenarioName[];

/** The detection levels per 30-second window the scenarios are sized for. */
const STUFFING = { failures: 10, users: 5 };
const SCRAPING_PATHS = 30;
const TOKEN_IPS = 4;
/** A tenant's 5xx share and median latency in a window of at least TENANT_MIN_REQUESTS. */
const STORM_SHARE = 0.18;
const SPIKE_MEDIAN_MS = 300;
const TENANT_MIN_REQUESTS = 30;

const cache = new Map<string, SecurityTraffic>();
const traffic = (name: SecurityScenarioName, seed = 1) => {
  const key = `${name}/${seed}`;
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const t = securityTraffic(name, { seed, startTime: START });
  cache.set(key, t);
  return t;
};

interface WindowStats {
  requests: number;
  authFailures: number;
  failedUsers: Set<string>;
  paths: Set<string>;
  ips: Set<string>;
  serverErrors: number;
  latencies: number[];
}

const emptyStats = (): WindowStats => ({
  requests: 0,
  authFailures: 0,
  failedUsers: new Set(),
  paths: new Set(),
  ips: new Set(),
  serverErrors: 0,
  latencies: [],
});

/** Per 30-second window (aligned to the epoch) and entity key (`ip/…`, `user/…/…`, `tenant/…`). */
function windowStats(events: readonly TelemetryEvent[]): Map<number, Map<string, WindowStats>> {
  const windows = new Map<number, Map<string, WindowStats>>();
  for (const e of events) {
    const start = Math.floor(e.timestamp / WINDOW) * WINDOW;
    const entities = windows.get(start) ?? new Map<string, WindowStats>();
    windows.set(start, entities);
    for (const key of [`ip/${e.clientIp}`, `user/${e.tenantId}/${e.userId}`, `tenant/${e.tenantId}`]) {
      const s = entities.get(key) ?? emptyStats();
      entities.set(key, s);
      s.requests += 1;
      s.paths.add(e.payload.path!);
      s.ips.add(e.clientIp!);
      s.latencies.push(e.payload.latencyMs!);
      if (e.payload.statusCode === 401) {
        s.authFailures += 1;
        s.failedUsers.add(`${e.tenantId}/${e.userId}`);
      }
      if (e.payload.statusCode! >= 500) s.serverErrors += 1;
    }
  }
  return windows;
}

const median = (values: readonly number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** The largest of `measure` over every window and entity of a kind. */
function maxOver(
  windows: Map<number, Map<string, WindowStats>>,
  kind: 'ip' | 'user' | 'tenant',
  measure: (s: WindowStats) => number,
  include: (s: WindowStats) => boolean = () => true,
): number {
  let max = 0;
  for (const entities of windows.values())
    for (const [key, s] of entities)
      if (key.startsWith(`${kind}/`) && include(s)) max = Math.max(max, measure(s));
  return max;
}

/** `measure` of the entity in every whole 30-second window inside the attack (an absent entity: undefined). */
function overAttackWindows(
  t: SecurityTraffic,
  entityKey: string,
  measure: (s: WindowStats) => number,
): (number | undefined)[] {
  const windows = windowStats(
    t.events.filter((e) => e.timestamp >= t.attackStart! && e.timestamp < t.attackEnd!),
  );
  const out: (number | undefined)[] = [];
  for (let w = Math.ceil(t.attackStart! / WINDOW) * WINDOW; w + WINDOW <= t.attackEnd!; w += WINDOW) {
    const s = windows.get(w)?.get(entityKey);
    out.push(s === undefined ? undefined : measure(s));
  }
  return out;
}

const fingerprint = (events: readonly TelemetryEvent[]) => JSON.stringify(events);

describe('security scenarios', () => {
  it('are deterministic per seed and differ across seeds', () => {
    for (const name of ['credential-stuffing', 'traffic-surge'] as const) {
      const again = securityTraffic(name, { seed: 1, startTime: START });
      expect(fingerprint(again.events)).toBe(fingerprint(traffic(name).events));
      expect(again.expected).toEqual(traffic(name).expected);
      const other = traffic(name, 2);
      expect(other.events.slice(0, 100).map((e) => e.eventId)).not.toEqual(
        traffic(name)
          .events.slice(0, 100)
          .map((e) => e.eventId),
      );
    }
    expect(traffic('credential-stuffing', 2).expected).not.toEqual(traffic('credential-stuffing').expected);
  });

  it('are sorted by timestamp (ties by id), valid telemetry, unique ids, and 40k–80k events', () => {
    for (const name of NAMES) {
      const { events } = traffic(name);
      expect(events.length).toBeGreaterThan(40_000);
      expect(events.length).toBeLessThan(80_000);
      // counted, then asserted once: an expect per event would take a minute
      let unsorted = 0;
      for (let i = 1; i < events.length; i++) {
        const [a, b] = [events[i - 1]!, events[i]!];
        if (!(a.timestamp < b.timestamp || (a.timestamp === b.timestamp && a.eventId < b.eventId)))
          unsorted += 1;
      }
      expect(unsorted).toBe(0);
      const invalid: string[] = [];
      for (const e of events) {
        try {
          validateTelemetryEvent(e, e.timestamp);
        } catch (error) {
          invalid.push(`${e.eventId}: ${(error as Error).message}`);
        }
        if (
          e.eventType !== 'api_call' ||
          !/^(10|172|192|198|203)\./.test(e.clientIp ?? '') ||
          !e.userAgent ||
          !Number.isInteger(e.timestamp) ||
          e.timestamp < START
        )
          invalid.push(`${e.eventId}: not a timed api_call with an IP and a user agent`);
      }
      expect(invalid).toEqual([]);
      expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
      expect(events.at(-1)!.timestamp).toBeLessThan(START + 2 * HOUR + 30 * MINUTE);
    }
  });

  it('keep the baseline of the seed: the events a scenario does not inject are the quiet traffic', () => {
    const quiet = traffic('quiet');
    const quietIds = new Set(quiet.events.map((e) => e.eventId));
    for (const name of NAMES) {
      const t = traffic(name);
      const injected = t.events.filter((e) => t.isInjected(e));
      const rest = t.events.filter((e) => !t.isInjected(e));
      // an error storm or a latency spike alters baseline events in place
      const altered = injected.filter((e) => quietIds.has(e.eventId)).map((e) => e.eventId);
      const alteredIds = new Set(altered);
      expect(fingerprint(rest)).toBe(fingerprint(quiet.events.filter((e) => !alteredIds.has(e.eventId))));
      expect(altered.length > 0).toBe(name === 'error-storm' || name === 'latency-spike');
    }
  });

  it('have a 2-hour warm-up, a 10-minute attack and 20 minutes after by default, and take other lengths', () => {
    for (const name of NAMES) {
      const t = traffic(name);
      expect(t.attackStart).toBe(name === 'quiet' ? null : START + 2 * HOUR);
      expect(t.attackEnd).toBe(name === 'quiet' ? null : START + 2 * HOUR + 10 * MINUTE);
      expect(t.end).toBe(START + 2.5 * HOUR);
    }
    const short = securityTraffic('scraping', {
      seed: 1,
      startTime: START,
      warmupMs: 30 * MINUTE,
      attackMs: 2 * MINUTE,
      afterMs: 5 * MINUTE,
      tenants: 2,
    });
    expect([short.attackStart, short.attackEnd, short.end]).toEqual([
      START + 30 * MINUTE,
      START + 32 * MINUTE,
      START + 37 * MINUTE,
    ]);
    expect(new Set(short.events.map((e) => e.tenantId)).size).toBe(2);
    const attack = short.events.filter((e) => short.isAttack(e));
    expect(attack.length).toBeGreaterThan(300);
    expect(attack.every((e) => e.timestamp >= short.attackStart! && e.timestamp < short.attackEnd!)).toBe(
      true,
    );
  });

  it('name the incidents a detector must open, and none for the must-not-alert scenarios', () => {
    const kinds = Object.fromEntries(NAMES.map((n) => [n, traffic(n).expected.map((x) => x.kind)]));
    expect(kinds).toEqual({
      'credential-stuffing': ['credential_stuffing'],
      scraping: ['scraping'],
      'token-abuse': ['token_abuse'],
      'error-storm': ['error_storm'],
      'latency-spike': ['latency_spike'],
      'traffic-surge': [],
      'tenant-onboarding': [],
      quiet: [],
    });
    for (const name of NAMES) expect(SECURITY_SCENARIOS[name].attack).toBe(traffic(name).expected.length > 0);
    const entityKinds = NAMES.flatMap((n) => traffic(n).expected.map((x) => entityOfKey(x.entityKey)?.kind));
    expect(entityKinds).toEqual(['ip', 'ip', 'user', 'tenant', 'tenant']);
  });

  it('mark exactly the attack’s events', () => {
    const inAttack = (t: SecurityTraffic, e: TelemetryEvent) =>
      e.timestamp >= t.attackStart! && e.timestamp < t.attackEnd!;
    const check = (
      name: SecurityScenarioName,
      belongs: (t: SecurityTraffic, e: TelemetryEvent) => boolean,
    ) => {
      const t = traffic(name);
      const marked = t.events.filter((e) => t.isAttack(e));
      expect(marked.length).toBeGreaterThan(0);
      expect(t.events.filter((e) => t.isAttack(e) !== belongs(t, e))).toEqual([]);
      for (const e of marked) expect(inAttack(t, e)).toBe(true);
      // by id: a copy (as a serde makes) is recognised too
      expect(t.isAttack({ ...marked[0]! })).toBe(true);
    };
    const entity = (t: SecurityTraffic) => entityOfKey(t.expected[0]!.entityKey)!;
    // an attacker IP's events: all of them, and only they
    check('credential-stuffing', (t, e) => e.clientIp === entity(t).id);
    check('scraping', (t, e) => e.clientIp === entity(t).id);
    // the victim's own sessions go on from the victim's own IPs: not the attack
    check('token-abuse', (t, e) => {
      const { id, tenantId } = entity(t);
      return e.tenantId === tenantId && e.userId === id && !/^(10|172)\./.test(e.clientIp!);
    });
    check('error-storm', (t, e) => e.tenantId === entity(t).id && inAttack(t, e));
    check('latency-spike', (t, e) => e.tenantId === entity(t).id && inAttack(t, e));
    for (const name of ['traffic-surge', 'tenant-onboarding', 'quiet'] as const) {
      const t = traffic(name);
      expect(t.events.some((e) => t.isAttack(e))).toBe(false);
    }
    // stuffing: one script IP, many user ids (some existing), mostly 401 with a few 200
    const stuffing = traffic('credential-stuffing').events.filter((e) =>
      traffic('credential-stuffing').isAttack(e),
    );
    expect(new Set(stuffing.map((e) => e.userAgent))).toEqual(new Set(['python-requests/2.31.0']));
    expect(stuffing.every((e) => e.payload.method === 'POST' && e.payload.path === '/login')).toBe(true);
    expect(new Set(stuffing.map((e) => e.userId)).size).toBeGreaterThan(500);
    const ok = stuffing.filter((e) => e.payload.statusCode === 200).length;
    expect(ok).toBeGreaterThan(0);
    expect(ok / stuffing.length).toBeLessThan(0.05);
    expect(stuffing.length / 600).toBeCloseTo(3, 0);
  });

  it('keep every baseline IP and user far below the attack levels in every 30-second window', () => {
    for (const seed of [1, 2]) {
      const windows = windowStats(traffic('quiet', seed).events);
      // credential stuffing: ≥ 10 failures across ≥ 5 users from one IP
      expect(maxOver(windows, 'ip', (s) => s.authFailures)).toBeLessThanOrEqual(STUFFING.failures / 3);
      expect(maxOver(windows, 'ip', (s) => s.failedUsers.size)).toBe(1);
      expect(maxOver(windows, 'ip', (s) => new Set(s.failedUsers).size)).toBeLessThan(STUFFING.users);
      // scraping: ≥ 30 distinct paths from one IP (a user has 16 endpoints at most)
      expect(maxOver(windows, 'ip', (s) => s.paths.size)).toBeLessThanOrEqual(SCRAPING_PATHS / 2);
      expect(maxOver(windows, 'user', (s) => s.paths.size)).toBeLessThanOrEqual(SCRAPING_PATHS / 2);
      // token abuse: ≥ 4 distinct IPs for one user
      expect(maxOver(windows, 'user', (s) => s.ips.size)).toBeLessThanOrEqual(TOKEN_IPS / 2);
      // tenants: 5xx share and median latency, in windows with enough requests
      const enough = (s: WindowStats) => s.requests >= TENANT_MIN_REQUESTS;
      expect(maxOver(windows, 'tenant', (s) => s.serverErrors / s.requests, enough)).toBeLessThan(
        STORM_SHARE * 0.7,
      );
      expect(maxOver(windows, 'tenant', (s) => median(s.latencies), enough)).toBeLessThan(
        SPIKE_MEDIAN_MS / 2,
      );
    }
  });

  it('put the attacker’s entity past its level in every whole 30-second window of the attack', () => {
    for (const seed of [1, 2]) {
      const of = (name: SecurityScenarioName, measure: (s: WindowStats) => number) => {
        const t = traffic(name, seed);
        const values = overAttackWindows(t, t.expected[0]!.entityKey, measure);
        expect(values).toHaveLength(20);
        return values.map((v) => v ?? 0);
      };
      for (const v of of('credential-stuffing', (s) => s.authFailures))
        expect(v).toBeGreaterThanOrEqual(STUFFING.failures * 3);
      for (const v of of('credential-stuffing', (s) => s.failedUsers.size))
        expect(v).toBeGreaterThanOrEqual(STUFFING.users * 3);
      for (const v of of('scraping', (s) => s.paths.size))
        expect(v).toBeGreaterThanOrEqual(SCRAPING_PATHS * 2);
      for (const v of of('token-abuse', (s) => s.ips.size)) expect(v).toBeGreaterThanOrEqual(TOKEN_IPS + 1);
      for (const v of of('error-storm', (s) => s.serverErrors / s.requests))
        expect(v).toBeGreaterThan(STORM_SHARE);
      for (const v of of('error-storm', (s) => s.requests)) expect(v).toBeGreaterThanOrEqual(15);
      for (const v of of('latency-spike', (s) => median(s.latencies)))
        expect(v).toBeGreaterThan(SPIKE_MEDIAN_MS);
    }
    // over the whole attack: the storm's share ~35%, the spike's median ~480 ms
    const storm = traffic('error-storm').events.filter((e) => traffic('error-storm').isAttack(e));
    expect(storm.filter((e) => e.payload.statusCode! >= 500).length / storm.length).toBeCloseTo(0.35, 1);
    const spike = traffic('latency-spike').events.filter((e) => traffic('latency-spike').isAttack(e));
    expect(median(spike.map((e) => e.payload.latencyMs!))).toBeGreaterThan(400);
    expect(median(spike.map((e) => e.payload.latencyMs!))).toBeLessThan(560);
  });

  it('scrape hundreds of distinct product pages and replay a token from a new IP every ~20 s', () => {
    const scraping = traffic('scraping');
    const pages = scraping.events.filter(
      (e) => scraping.isAttack(e) && e.payload.path!.startsWith('/products/'),
    );
    expect(new Set(pages.map((e) => e.payload.path)).size).toBe(500);
    expect(pages.every((e) => e.payload.statusCode === 200 && e.payload.method === 'GET')).toBe(true);
    expect(pages.length / 600).toBeCloseTo(4, 0);
    expect(new Set(pages.map((e) => e.userId)).size).toBe(1);
    const quietUsers = new Set(traffic('quiet').events.map((e) => `${e.tenantId}/${e.userId}`));
    expect(quietUsers.has(`${pages[0]!.tenantId}/${pages[0]!.userId}`)).toBe(false);

    const token = traffic('token-abuse');
    const replays = token.events.filter((e) => token.isAttack(e));
    const victim = entityOfKey(token.expected[0]!.entityKey)!;
    expect(quietUsers.has(`${victim.tenantId}/${victim.id}`)).toBe(true);
    // ~30 new IPs over 10 minutes (and the ones already in use at the start)
    expect(new Set(replays.map((e) => e.clientIp)).size).toBeGreaterThan(28);
    expect(new Set(replays.map((e) => e.clientIp)).size).toBeLessThan(45);
    expect(replays.length / 600).toBeGreaterThan(0.9);
    expect(replays.length / 600).toBeLessThan(1.5);
  });

  it('must-not-alert: a surge triples a tenant and a new tenant onboards, every entity staying below the levels', () => {
    const quiet = windowStats(traffic('quiet').events);
    const surge = traffic('traffic-surge');
    const added = surge.events.filter((e) => surge.isInjected(e));
    const tenant = added[0]!.tenantId;
    expect(new Set(added.map((e) => e.tenantId))).toEqual(new Set([tenant]));
    const own = traffic('quiet').events.filter(
      (e) => e.tenantId === tenant && e.timestamp >= surge.attackStart! && e.timestamp < surge.attackEnd!,
    ).length;
    expect((own + added.length) / own).toBeGreaterThan(2.8);
    expect((own + added.length) / own).toBeLessThan(3.5);
    expect(added.every((e) => e.timestamp >= surge.attackStart! && e.timestamp < surge.attackEnd!)).toBe(
      true,
    );
    const quietUsers = new Set(traffic('quiet').events.map((e) => `${e.tenantId}/${e.userId}`));
    const surgeUsers = new Set(added.map((e) => `${e.tenantId}/${e.userId}`));
    expect([...surgeUsers].filter((u) => !quietUsers.has(u)).length).toBeGreaterThan(10);
    expect([...surgeUsers].filter((u) => quietUsers.has(u)).length).toBeGreaterThan(5);

    const onboarding = traffic('tenant-onboarding');
    const newcomers = onboarding.events.filter((e) => onboarding.isInjected(e));
    expect(new Set(newcomers.map((e) => e.tenantId))).toEqual(new Set(['hooli']));
    expect(new Set(newcomers.map((e) => e.userId)).size).toBe(30);
    expect(Math.min(...newcomers.map((e) => e.timestamp))).toBeGreaterThanOrEqual(onboarding.attackStart!);
    expect(quiet.size).toBeGreaterThan(0);

    for (const t of [surge, onboarding]) {
      const windows = windowStats(t.events);
      expect(maxOver(windows, 'ip', (s) => s.authFailures)).toBeLessThan(STUFFING.failures / 2);
      expect(maxOver(windows, 'ip', (s) => s.failedUsers.size)).toBeLessThan(STUFFING.users);
      expect(maxOver(windows, 'ip', (s) => s.paths.size)).toBeLessThan(SCRAPING_PATHS);
      expect(maxOver(windows, 'user', (s) => s.ips.size)).toBeLessThan(TOKEN_IPS);
      const enough = (s: WindowStats) => s.requests >= TENANT_MIN_REQUESTS;
      expect(maxOver(windows, 'tenant', (s) => s.serverErrors / s.requests, enough)).toBeLessThan(
        STORM_SHARE,
      );
      expect(maxOver(windows, 'tenant', (s) => median(s.latencies), enough)).toBeLessThan(
        SPIKE_MEDIAN_MS / 2,
      );
    }
  });

  it('have a baseline of stable identities: one user agent, one or two IPs of their own per user', () => {
    const { events } = traffic('quiet');
    const agents = new Map<string, Set<string>>();
    const ips = new Map<string, Set<string>>();
    const owners = new Map<string, Set<string>>();
    for (const e of events) {
      const user = securityEventKey(e);
      expect(user).toBe(`${e.tenantId}/${e.userId}`);
      (agents.get(user) ?? agents.set(user, new Set()).get(user)!).add(e.userAgent!);
      (ips.get(user) ?? ips.set(user, new Set()).get(user)!).add(e.clientIp!);
      (owners.get(e.clientIp!) ?? owners.set(e.clientIp!, new Set()).get(e.clientIp!)!).add(user);
    }
    expect(new Set(events.map((e) => e.tenantId))).toEqual(
      new Set(['acme', 'globex', 'initech', 'umbrella']),
    );
    expect(agents.size).toBeGreaterThan(140);
    expect(Math.max(...[...agents.values()].map((a) => a.size))).toBe(1);
    expect(Math.max(...[...ips.values()].map((a) => a.size))).toBeLessThanOrEqual(2);
    expect([...ips.values()].filter((a) => a.size === 2).length).toBeGreaterThan(10);
    expect(Math.max(...[...owners.values()].map((a) => a.size))).toBe(1);
    // mostly 200, ~1% 5xx, ~0.5% 401; latency log-normal around 80 ms; ≤ 16 endpoints a tenant
    const share = (p: (e: TelemetryEvent) => boolean) => events.filter(p).length / events.length;
    expect(share((e) => e.payload.statusCode === 200)).toBeGreaterThan(0.98);
    expect(share((e) => e.payload.statusCode! >= 500)).toBeCloseTo(0.01, 2);
    expect(share((e) => e.payload.statusCode === 401)).toBeGreaterThan(0.003);
    expect(share((e) => e.payload.statusCode === 401)).toBeLessThan(0.008);
    expect(median(events.map((e) => e.payload.latencyMs!))).toBeGreaterThan(70);
    expect(median(events.map((e) => e.payload.latencyMs!))).toBeLessThan(90);
    for (const tenant of ['acme', 'umbrella']) {
      const endpoints = new Set(
        events.filter((e) => e.tenantId === tenant).map((e) => `${e.payload.method} ${e.payload.path}`),
      );
      expect(endpoints.size).toBe(16);
      // 1 to 3 requests a second by day
      const rate = events.filter((e) => e.tenantId === tenant).length / (2.5 * 3600);
      expect(rate).toBeGreaterThan(0.8);
      expect(rate).toBeLessThan(3);
    }
  });

  it('follow the day: nights are clearly quieter than afternoons over 24 hours', () => {
    expect(diurnalFactor(Date.UTC(2024, 2, 4, 3))).toBeCloseTo(0.5);
    expect(diurnalFactor(Date.UTC(2024, 2, 4, 15))).toBeCloseTo(1.5);
    const day = securityTraffic('quiet', {
      seed: 5,
      startTime: Date.UTC(2024, 2, 4, 0, 0, 0),
      warmupMs: 24 * HOUR,
      attackMs: 0,
      afterMs: 0,
      tenants: 1,
    });
    const perHour = new Array<number>(24).fill(0);
    for (const e of day.events) perHour[new Date(e.timestamp).getUTCHours()]! += 1;
    const mean = (hours: number[]) => hours.reduce((sum, h) => sum + perHour[h]!, 0) / hours.length;
    const night = mean([1, 2, 3, 4, 5]);
    const afternoon = mean([13, 14, 15, 16, 17]);
    expect(night).toBeLessThan(0.6 * afternoon);
    expect(night).toBeGreaterThan(0);
  });

  it('can be put in arrival order: a few seconds out of event-time order at most', () => {
    const { events } = traffic('quiet');
    const arrived = inArrivalOrder(events, 1);
    expect(arrived).toHaveLength(events.length);
    expect(new Set(arrived)).toEqual(new Set(events));
    expect(inArrivalOrder(events, 1)).toEqual(arrived);
    let outOfOrder = 0;
    let latest = 0;
    let worst = 0;
    for (const e of arrived) {
      if (e.timestamp < latest) {
        outOfOrder += 1;
        worst = Math.max(worst, latest - e.timestamp);
      }
      latest = Math.max(latest, e.timestamp);
    }
    expect(outOfOrder).toBeGreaterThan(100);
    expect(worst).toBeLessThanOrEqual(3_000);
  });

  it('refuses options it cannot honour', () => {
    expect(() => securityTraffic('scraping', { seed: 1, startTime: START, attackMs: 0 })).toThrow(RangeError);
    expect(() => securityTraffic('quiet', { seed: 1, startTime: START, warmupMs: -1 })).toThrow(RangeError);
    expect(() => securityTraffic('quiet', { seed: 1, startTime: START, tenants: 9 })).toThrow(RangeError);
    expect(() => securityTraffic('quiet', { seed: Number.NaN, startTime: START })).toThrow(RangeError);
    expect(() => securityTraffic('nope' as SecurityScenarioName, { seed: 1, startTime: START })).toThrow(
      RangeError,
    );
  });
});
