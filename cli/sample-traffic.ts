import { hashOf } from '../processors/anomaly/behaviour-window.js';
import { seededRandom } from '../processors/seeded-random.js';
import { userKeyOf } from '../processors/telemetry/user-key.js';
import { EMPTY_PAYLOAD, type TelemetryEvent, type TelemetryEventType } from '../schemas/index.js';

export interface SampleTrafficOptions {
  /** Same seed, same events. Default 1. */
  readonly seed?: number;
  /** Distinct tenants. Default 4. */
  readonly tenants?: number;
  readonly usersPerTenant?: number;
  /** Event time of the first event (epoch ms). Default now. */
  readonly startTime?: number;
  /** Events per second of simulated event time. Default 200. */
  readonly eventsPerSecond?: number;
  /** Share of API calls that fail with a 5xx. Default 0.03. */
  readonly errorRate?: number;
  /** Share of the endpoints that are slow. Default 0.2. */
  readonly slowEndpointRate?: number;
  /** Share of events from logged-out visitors (no user id). Default 0. */
  readonly anonymousRate?: number;
  /** Share of events sent twice with the same event id, as a retrying SDK does. Default 0. */
  readonly duplicateRate?: number;
  /**
   * Share of events stamped two days ahead, as a client with a wrong clock sends them. Default 0.
   * Invalid when written with the time they were sent as the record timestamp (validation bounds
   * event time by the log timestamp); written with their own timestamp, they are not.
   */
  readonly invalidRate?: number;
  /** Share of events two hours old, as a device back online sends them (late for their session window). Default 0. */
  readonly lateRate?: number;
}

/** Tenant ids of generated traffic, in order; past the list, `tenant-<n>`. */
export const TENANT_NAMES = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark', 'wayne', 'tyrell'];
const PAGES = [
  '/home',
  '/dashboard',
  '/orders',
  '/orders/:id',
  '/settings',
  '/billing',
  '/reports',
  '/search',
];
const ELEMENTS = ['button.save', 'button.export', 'link.next', 'menu.open', 'tab.details', 'input.search'];
const JOBS = ['nightly-export', 'invoice-run', 'reindex', 'email-digest'];
/** API endpoints of generated traffic: method and templated path. */
export const ENDPOINTS = [
  ['GET', '/v1/orders'],
  ['GET', '/v1/orders/:id'],
  ['POST', '/v1/orders'],
  ['GET', '/v1/customers/:id'],
  ['PUT', '/v1/customers/:id'],
  ['GET', '/v1/search'],
  ['POST', '/v1/reports/export'],
  ['GET', '/v1/inventory'],
  ['DELETE', '/v1/sessions/:id'],
  ['GET', '/v1/health'],
] as const;

const MINUTE = 60_000;

interface UserState {
  readonly tenantId: string;
  readonly userId: string;
  /** Event time at which the current burst of activity ends (while active). */
  activeUntil: number;
  /** Event time before which the user is idle (while idle). */
  idleUntil: number;
  page: string;
}

/** A burst of activity lasts 2 to 14 minutes of event time (8 on average). */
export const burstMs = (random: () => number) => 2 * MINUTE + random() * 12 * MINUTE;

/**
 * Most idle gaps end the session (35 to 95 minutes, over the default 30-minute
 * session gap); some are a pause within it (1 to 11 minutes). With bursts of 8
 * minutes on average, about 15% of the users are active at any time.
 */
export const gapMs = (random: () => number) =>
  random() < 0.7 ? 35 * MINUTE + random() * 60 * MINUTE : MINUTE + random() * 10 * MINUTE;

/** The share of users active when the generator starts, the steady state's (8 / (8 + 47.3) minutes). */
const ACTIVE_AT_START = 0.15;

/**
 * Deterministic synthetic telemetry for demos, tests and benchmarks: tenants
 * whose users come in sessions (bursts of pageviews, clicks and API calls,
 * separated by idle gaps, most longer than 30 minutes so sessions close), a
 * few slow endpoints, 5xx errors, and occasional errors, jobs, tickets and
 * performance marks. Event time advances with the configured rate; about one
 * event in ten arrives up to two seconds out of order. Optionally, some events
 * are anonymous and some are sent twice (what the pipeline validates, keys and
 * de-duplicates).
 *
 * Each user alternates, in event time, between bursts of activity and idle
 * gaps; each event goes to one of the users active at its time, so the
 * configured rate is shared by the active users and every user's share stays
 * about the same however long the stream runs. Should no user be active (few
 * users), the one due back soonest is woken early.
 */
export class SampleTraffic {
  private readonly random: () => number;
  /** Users in a burst (some past its end: they are retired when drawn). */
  private readonly active: UserState[] = [];
  private idle: UserState[] = [];
  /** The earliest `idleUntil` of the idle users. */
  private nextWake = Number.POSITIVE_INFINITY;
  private readonly slowPaths: Set<string>;
  private readonly intervalMs: number;
  private readonly errorRate: number;
  private readonly anonymousRate: number;
  private readonly duplicateRate: number;
  private readonly invalidRate: number;
  private readonly lateRate: number;
  /** A copy of the previous event, sent next (a retry). */
  private resend: TelemetryEvent | undefined;
  private clock: number;
  private counter = 0;

  constructor(options: SampleTrafficOptions = {}) {
    const seed = options.seed ?? 1;
    this.random = seededRandom(seed);
    const tenants = options.tenants ?? 4;
    const perTenant = options.usersPerTenant ?? 50;
    if (!(Number.isInteger(tenants) && tenants >= 1 && Number.isInteger(perTenant) && perTenant >= 1))
      throw new RangeError(
        `sample traffic needs at least 1 tenant and 1 user per tenant, got tenants ${tenants}, usersPerTenant ${perTenant}`,
      );
    this.clock = options.startTime ?? Date.now();
    this.intervalMs = 1000 / (options.eventsPerSecond ?? 200);
    this.errorRate = options.errorRate ?? 0.03;
    this.anonymousRate = options.anonymousRate ?? 0;
    this.duplicateRate = options.duplicateRate ?? 0;
    this.invalidRate = options.invalidRate ?? 0;
    this.lateRate = options.lateRate ?? 0;
    for (let t = 0; t < tenants; t++) {
      const tenantId = TENANT_NAMES[t] ?? `tenant-${t + 1}`;
      for (let u = 0; u < perTenant; u++) {
        const user: UserState = {
          tenantId,
          userId: `user-${String(u + 1).padStart(4, '0')}`,
          activeUntil: this.clock,
          idleUntil: this.clock,
          page: '/home',
        };
        // start in the steady state: some users mid-burst, the others part-way through a gap
        if (this.random() < ACTIVE_AT_START) {
          user.activeUntil = this.clock + this.random() * burstMs(this.random);
          this.active.push(user);
        } else {
          this.goIdle(user, this.clock + this.random() * gapMs(this.random));
        }
      }
    }
    const slowCount = Math.max(1, Math.round(ENDPOINTS.length * (options.slowEndpointRate ?? 0.2)));
    this.slowPaths = new Set(['/v1/reports/export', '/v1/search', '/v1/inventory'].slice(0, slowCount));
  }

  /** The raw_events key of an event: `tenantId/userId` (the tenant alone for an anonymous event). */
  key(event: TelemetryEvent): string {
    return userKeyOf(event);
  }

  /**
   * Keeps the generator's event time from falling behind `now` (a live feed's
   * wall clock, which runs ahead of the generator's when its timer fires
   * late): other traffic stamped with the wall clock would otherwise drag
   * stream time ahead and make these events late for their windows.
   */
  follow(now: number): void {
    if (this.clock < now) this.clock = now;
  }

  take(n: number): TelemetryEvent[] {
    const out: TelemetryEvent[] = [];
    for (let i = 0; i < n; i++) out.push(this.next());
    return out;
  }

  next(): TelemetryEvent {
    const resend = this.resend;
    if (resend !== undefined) {
      this.resend = undefined;
      return { ...resend };
    }
    let event = this.freshEvent();
    // the random draws are skipped at rate 0, so default streams stay as they were
    if (this.anonymousRate > 0 && this.random() < this.anonymousRate) event = { ...event, userId: null };
    if (this.duplicateRate > 0 && this.random() < this.duplicateRate) this.resend = event;
    if (this.invalidRate > 0 && this.random() < this.invalidRate)
      event = { ...event, timestamp: event.timestamp + 2 * 24 * 60 * MINUTE };
    if (this.lateRate > 0 && this.random() < this.lateRate)
      event = { ...event, timestamp: event.timestamp - 120 * MINUTE };
    return event;
  }

  private freshEvent(): TelemetryEvent {
    this.clock += this.intervalMs * (0.5 + this.random());
    if (this.clock >= this.nextWake) this.wakeDueUsers();
    const user = this.activeUser();
    const late = this.random() < 0.1 ? Math.floor(this.random() * 2000) : 0;
    return this.event(user, Math.round(this.clock) - late);
  }

  /** A user active now, drawn uniformly; those whose burst has ended go idle on the way. */
  private activeUser(): UserState {
    for (;;) {
      if (this.active.length === 0) this.wakeEarliestUser();
      const index = Math.floor(this.random() * this.active.length);
      const user = this.active[index]!;
      if (user.activeUntil > this.clock) return user;
      this.active[index] = this.active[this.active.length - 1]!;
      this.active.pop();
      this.goIdle(user, this.clock + gapMs(this.random));
    }
  }

  private goIdle(user: UserState, until: number): void {
    user.idleUntil = until;
    this.idle.push(user);
    if (until < this.nextWake) this.nextWake = until;
  }

  private wakeDueUsers(): void {
    const stillIdle: UserState[] = [];
    this.nextWake = Number.POSITIVE_INFINITY;
    for (const user of this.idle) {
      if (user.idleUntil <= this.clock) {
        user.activeUntil = user.idleUntil + burstMs(this.random);
        this.active.push(user);
      } else {
        stillIdle.push(user);
        if (user.idleUntil < this.nextWake) this.nextWake = user.idleUntil;
      }
    }
    this.idle = stillIdle;
  }

  /** No one is active: the user due back soonest cuts their gap short. */
  private wakeEarliestUser(): void {
    let earliest = 0;
    for (let i = 1; i < this.idle.length; i++)
      if (this.idle[i]!.idleUntil < this.idle[earliest]!.idleUntil) earliest = i;
    const [user] = this.idle.splice(earliest, 1);
    user!.activeUntil = this.clock + burstMs(this.random);
    this.active.push(user!);
    this.nextWake = this.idle.reduce((min, u) => Math.min(min, u.idleUntil), Number.POSITIVE_INFINITY);
  }

  private event(user: UserState, timestamp: number): TelemetryEvent {
    const r = this.random();
    let eventType: TelemetryEventType;
    let payload = { ...EMPTY_PAYLOAD };
    if (r < 0.3) {
      eventType = 'pageview';
      user.page = PAGES[Math.floor(this.random() * PAGES.length)]!;
      payload = { ...payload, page: user.page };
    } else if (r < 0.52) {
      eventType = 'click';
      payload = {
        ...payload,
        page: user.page,
        element: ELEMENTS[Math.floor(this.random() * ELEMENTS.length)]!,
      };
    } else if (r < 0.9) {
      const [method, path] = ENDPOINTS[Math.floor(this.random() * ENDPOINTS.length)]!;
      const slow = this.slowPaths.has(path);
      const latencyMs = Math.round((slow ? 400 + this.random() * 1600 : 5 + this.random() * 80) * 10) / 10;
      const failed = this.random() < (slow ? this.errorRate * 3 : this.errorRate);
      const statusCode = failed ? (this.random() < 0.7 ? 500 : 503) : this.random() < 0.05 ? 404 : 200;
      eventType = failed ? 'api_error' : 'api_call';
      payload = {
        ...payload,
        method,
        path,
        statusCode,
        latencyMs,
        ...(failed ? { errorMessage: `upstream ${statusCode} on ${path}` } : {}),
      };
    } else if (r < 0.94) {
      eventType = 'performance';
      payload = { ...payload, page: user.page, durationMs: Math.round(this.random() * 3000) };
    } else if (r < 0.97) {
      eventType = 'error';
      payload = {
        ...payload,
        page: user.page,
        errorMessage:
          this.random() < 0.5
            ? 'TypeError: cannot read properties of undefined'
            : 'ChunkLoadError: loading chunk failed',
      };
    } else if (r < 0.99) {
      eventType = 'job';
      payload = {
        ...payload,
        jobName: JOBS[Math.floor(this.random() * JOBS.length)]!,
        durationMs: Math.round(1000 + this.random() * 60_000),
      };
    } else {
      eventType = 'ticket';
      payload = { ...payload, ticketId: `T-${Math.floor(this.random() * 100_000)}` };
    }
    return {
      eventId: this.eventId(),
      timestamp,
      tenantId: user.tenantId,
      userId: user.userId,
      eventType,
      payload,
      metadata: {
        source: eventType === 'api_call' || eventType === 'api_error' ? 'api-gateway' : 'web-sdk',
        version: '2.4.1',
      },
      deployment: null,
      ...clientOf(user.tenantId, user.userId),
    };
  }

  /** UUID-shaped and unique per generator: derived from the PRNG and a counter. */
  private eventId(): string {
    this.counter += 1;
    return uuidShapedId(this.random, this.counter);
  }
}

/**
 * A UUID-shaped event id: four random groups drawn from `random`, then
 * `counter` as the last 12 hex digits, so ids with distinct counters (below
 * 2^48) never collide.
 */
export function uuidShapedId(random: () => number, counter: number): string {
  const hex = (n: number, width: number) => Math.floor(n).toString(16).padStart(width, '0').slice(-width);
  const a = hex(random() * 0xffffffff, 8);
  const b = hex(random() * 0xffff, 4);
  const c = `4${hex(random() * 0xfff, 3)}`;
  const d = hex(0x8000 + random() * 0x3fff, 4);
  return `${a}-${b}-${c}-${d}-${hex(counter, 12)}`;
}

const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'saas-sdk-node/5.0.4 (node 20.12.2)',
];

/**
 * A user's client: a stable private IP and user agent derived from the user
 * (no random draw, so the rest of the traffic is as before), for the
 * behaviour windows per IP.
 */
function clientOf(tenantId: string, userId: string): { clientIp: string; userAgent: string } {
  const h = hashOf(`${tenantId}/${userId}`);
  return {
    clientIp: `10.${h & 0xff}.${(h >>> 8) & 0xff}.${((h >>> 16) & 0xfd) + 1}`,
    userAgent: USER_AGENTS[(h >>> 24) % USER_AGENTS.length] as string,
  };
}
