import { EMPTY_PAYLOAD, type TelemetryEvent, type TelemetryEventType } from '../../schemas/index.js';
import { userKeyOf } from './user-key.js';

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
  /** Share of events stamped two days ahead, as a client with a wrong clock sends them (invalid). Default 0. */
  readonly invalidRate?: number;
  /** Share of events two hours old, as a device back online sends them (late for their session window). Default 0. */
  readonly lateRate?: number;
}

const TENANT_NAMES = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark', 'wayne', 'tyrell'];
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
const ENDPOINTS = [
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

/** mulberry32: a small, fast, seedable PRNG; Math.random cannot be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface UserState {
  readonly tenantId: string;
  readonly userId: string;
  /** Events left in the current burst of activity. */
  remaining: number;
  /** Event time before which the user is idle. */
  idleUntil: number;
  page: string;
}

/**
 * Deterministic synthetic telemetry for demos, tests and benchmarks: tenants
 * whose users come in sessions (bursts of pageviews, clicks and API calls,
 * separated by idle gaps, some longer than 30 minutes so sessions close), a
 * few slow endpoints, 5xx errors, and occasional errors, jobs, tickets and
 * performance marks. Event time advances with the configured rate; about one
 * event in ten arrives up to two seconds out of order. Optionally, some events
 * are anonymous and some are sent twice (what the pipeline validates, keys and
 * de-duplicates).
 */
export class SampleTraffic {
  private readonly random: () => number;
  private readonly users: UserState[];
  private readonly active: UserState[] = [];
  private readonly slowPaths: Set<string>;
  private readonly intervalMs: number;
  private readonly errorRate: number;
  private readonly targetActive: number;
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
    this.random = prng(seed);
    const tenants = options.tenants ?? 4;
    const perTenant = options.usersPerTenant ?? 50;
    this.clock = options.startTime ?? Date.now();
    this.intervalMs = 1000 / (options.eventsPerSecond ?? 200);
    this.errorRate = options.errorRate ?? 0.03;
    this.anonymousRate = options.anonymousRate ?? 0;
    this.duplicateRate = options.duplicateRate ?? 0;
    this.invalidRate = options.invalidRate ?? 0;
    this.lateRate = options.lateRate ?? 0;
    this.users = [];
    for (let t = 0; t < tenants; t++) {
      const tenantId = TENANT_NAMES[t] ?? `tenant-${t + 1}`;
      for (let u = 0; u < perTenant; u++) {
        this.users.push({
          tenantId,
          userId: `user-${String(u + 1).padStart(4, '0')}`,
          remaining: 0,
          idleUntil: this.clock,
          page: '/home',
        });
      }
    }
    const slowCount = Math.max(1, Math.round(ENDPOINTS.length * (options.slowEndpointRate ?? 0.2)));
    this.slowPaths = new Set(['/v1/reports/export', '/v1/search', '/v1/inventory'].slice(0, slowCount));
    this.targetActive = Math.max(2, Math.round(this.users.length * 0.15));
  }

  /** The raw_events key of an event: `tenantId/userId` (the tenant alone for an anonymous event). */
  key(event: TelemetryEvent): string {
    return userKeyOf(event);
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
    while (this.active.length < this.targetActive) {
      const user = this.pickIdleUser();
      if (user === undefined) break;
      user.remaining = 5 + Math.floor(this.random() * 40);
      this.active.push(user);
    }
    const index = Math.floor(this.random() * this.active.length);
    const user = this.active[index] ?? this.users[0]!;
    user.remaining -= 1;
    if (user.remaining <= 0) {
      this.active.splice(index, 1);
      // most gaps end the session (over 30 minutes); some are a pause within it
      const gap =
        this.random() < 0.7
          ? 35 * MINUTE + this.random() * 120 * MINUTE
          : MINUTE + this.random() * 10 * MINUTE;
      user.idleUntil = this.clock + gap;
    }
    const late = this.random() < 0.1 ? Math.floor(this.random() * 2000) : 0;
    return this.event(user, Math.round(this.clock) - late);
  }

  private pickIdleUser(): UserState | undefined {
    for (let attempt = 0; attempt < 20; attempt++) {
      const user = this.users[Math.floor(this.random() * this.users.length)]!;
      if (user.remaining <= 0 && user.idleUntil <= this.clock) return user;
    }
    return undefined;
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
    };
  }

  /** UUID-shaped and unique per generator: derived from the PRNG and a counter. */
  private eventId(): string {
    this.counter += 1;
    const hex = (n: number, width: number) => Math.floor(n).toString(16).padStart(width, '0').slice(-width);
    const a = hex(this.random() * 0xffffffff, 8);
    const b = hex(this.random() * 0xffff, 4);
    const c = `4${hex(this.random() * 0xfff, 3)}`;
    const d = hex(0x8000 + this.random() * 0x3fff, 4);
    return `${a}-${b}-${c}-${d}-${hex(this.counter, 12)}`;
  }
}
