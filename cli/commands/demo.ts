import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import logUpdate from 'log-update';
import { OPEN_SESSIONS_STORE } from '../../processors/sessions/user-sessions.js';
import type { KeyValueStore } from '../../topology/index.js';
import { loadConfig } from '../config.js';
import { cleanStopSignal } from '../lifecycle.js';
import { createLogger } from '../logger.js';
import { type MainJob, startMainJob } from '../main-job.js';
import { parseDuration, untilStopped } from './run.js';

interface DemoOptions {
  kafka?: boolean;
  duration?: number;
}

/** Short sessions, so that a few minutes of demo traffic closes some. */
const DEMO_SESSION = { gapMs: 60_000, graceMs: 10_000 };
/** KPI windows of 20 s: the demo's rollout gets its first verdicts within a minute or two. */
const DEMO_CANARY_WINDOWS = { windowMs: 20_000, graceMs: 2_000 };

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'run the whole pipeline with built-in traffic (several tenants, sessions, errors, slow endpoints, a canary rollout that regresses, a credential-stuffing attack now and then) on the embedded memory transport, Redis and the query API, with a live one-screen summary',
    )
    .option('--kafka', 'run against KAFKA_BROKERS instead of the embedded memory transport')
    .option('--duration <seconds>', 'stop by itself after this many seconds', parseDuration)
    .action(async (options: DemoOptions) => {
      // before anything starts: a signal during start-up is a clean stop too
      const stopRequested = cleanStopSignal();
      // the screen is the demo's output; its intentional dead letters would flood a warn-level log
      const env: NodeJS.ProcessEnv = { LOG_LEVEL: 'error', ...process.env };
      if (options.kafka) env.TRANSPORT = 'kafka';
      const config = loadConfig(env);
      const logger = createLogger(config.LOG_LEVEL);
      // keys made for this run only, printed once, unless API_KEYS says otherwise
      const fallbackApiKeys = new Map([
        [`demo-admin-${randomBytes(6).toString('hex')}`, '*'],
        [`demo-acme-${randomBytes(6).toString('hex')}`, 'acme'],
      ]);
      const job = await startMainJob(config, logger, {
        sample: true,
        sessionDefaults: DEMO_SESSION,
        canaryDefaults: DEMO_CANARY_WINDOWS,
        rollout: true,
        attacks: true,
        // the demo's stand-in enforcer applies the blocks it is sent
        remediationDryRun: false,
        fallbackApiKeys,
        stopRequested,
      });
      if (job === undefined) {
        logger.info({ reason: String(stopRequested.reason) }, 'stopped during start-up');
        return;
      }
      const screen = new DemoScreen(job, config.APPLICATION_ID);
      screen.start();
      try {
        await untilStopped(job, logger, {
          durationSeconds: options.duration,
          stopRequested,
          stopTimeoutMs: config.STOP_TIMEOUT_MS,
          // the screen stops redrawing, so what the stop prints is not drawn over
          onStopping: () => screen.stop(),
        });
      } finally {
        screen.stop();
      }
    });
}

interface Figures {
  readonly consumed: number;
  readonly openSessions: number;
  readonly closedSessions: number;
  readonly features: number;
  readonly deadLetters: number;
  readonly late: number;
  /** The rollout's verdict line. */
  readonly canary: string;
  /** The latest security incident's line. */
  readonly security: string;
  readonly lag: number;
}

/**
 * The live summary: redrawn in place every second on a terminal, printed as
 * one line every 5 seconds otherwise (CI logs, pipes).
 */
class DemoScreen {
  private timer: NodeJS.Timeout | undefined;
  private previous: { at: number; consumed: number } | undefined;
  private readonly live = process.stdout.isTTY === true;
  private ticks = 0;

  constructor(
    private readonly job: MainJob,
    private readonly applicationId: string,
  ) {}

  start(): void {
    process.stdout.write(`${this.header()}\n`);
    this.timer = setInterval(() => void this.draw(), 1_000);
  }

  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.live) logUpdate.done();
  }

  private header(): string {
    const { address, apiKeys, session, transportKind } = this.job;
    const keys =
      apiKeys === undefined
        ? ['(API_KEYS not set: only /metrics, /health and /docs)']
        : [...apiKeys].map(([key, tenant]) => `${tenant === '*' ? 'admin' : `tenant ${tenant}`}: ${key}`);
    const someKey = apiKeys === undefined ? undefined : [...apiKeys.keys()][0];
    return [
      `VeroAI streams demo: application '${this.applicationId}' on the ${transportKind} transport`,
      `query API ${address}   docs ${address}/docs   metrics ${address}/metrics`,
      `API keys:  ${keys.join('   ')}`,
      `sessions close after ${session.gapMs / 1000} s of inactivity (+${session.graceMs / 1000} s grace)`,
      someKey === undefined
        ? ''
        : `try:  curl -H 'authorization: Bearer ${someKey}' ${address}/v1/features/tenant_usage/acme`,
      'Ctrl-C stops cleanly.',
    ].join('\n');
  }

  private async draw(): Promise<void> {
    const f = await figures(this.job);
    // stopped while the figures were read: the screen is done
    if (this.timer === undefined) return;
    const now = Date.now();
    const rate =
      this.previous === undefined
        ? 0
        : ((f.consumed - this.previous.consumed) * 1000) / (now - this.previous.at);
    this.previous = { at: now, consumed: f.consumed };
    const produced = this.job.feed?.produced ?? 0;
    const text = [
      `events/s ${rate.toFixed(0).padStart(6)}   events in ${produced}   processed ${f.consumed}   lag ${f.lag}`,
      `open sessions ${f.openSessions}   closed sessions ${f.closedSessions}   features written ${f.features}`,
      `dead letters ${f.deadLetters}   late ${f.late}   state ${this.job.app.state}`,
      f.canary,
      f.security,
    ].join('\n');
    this.ticks += 1;
    if (this.live) logUpdate(text);
    else if (this.ticks % 5 === 0) process.stdout.write(`${text.replace(/\n/g, ' | ')}\n`);
  }
}

/** Sessions waiting to close: the entries of the local suppress buffers (exact, unlike a store's estimate). */
async function countOpenSessions(job: MainJob): Promise<number> {
  let open = 0;
  for (const { store } of job.app.localStores(OPEN_SESSIONS_STORE)) {
    for await (const _ of (store as KeyValueStore<unknown, unknown>).all()) open += 1;
  }
  return open;
}

/** Sums of the metrics the summary shows, read from the job's registry. */
async function figures(job: MainJob): Promise<Figures> {
  const { registry } = job;
  const sum = async (name: string, match: (labels: Record<string, unknown>) => boolean = () => true) => {
    const metric = registry.getSingleMetric(name);
    if (metric === undefined) return 0;
    const { values } = await metric.get();
    // counters and gauges only: one value per label set
    return values.filter((v) => match(v.labels)).reduce((total, v) => total + v.value, 0);
  };
  return {
    consumed: await sum('veroai_records_consumed_total', (l) => l.topic === 'raw_events'),
    openSessions: await countOpenSessions(job),
    closedSessions: await sum('veroai_records_produced_total', (l) => l.topic === 'user_sessions'),
    features: await sum('veroai_features_written_total'),
    deadLetters: await sum('veroai_dlq_records_total'),
    late: await sum('veroai_late_records_total'),
    lag: await sum('veroai_consumer_lag'),
    canary: await canaryLine(job),
    security: await securityLine(job),
  };
}

/** The demo rollout's latest verdict, as the API serves it. */
async function canaryLine(job: MainJob): Promise<string> {
  if (job.rollout === undefined) return '';
  const decision = await job.canaryDecisions.latest(job.rollout.rolloutId).catch(() => null);
  if (decision === null) return `canary ${job.rollout.rolloutId}: waiting for its first decision`;
  return `canary ${decision.rolloutId}: ${decision.verdict.toUpperCase()} (${decision.status}, score ${decision.score}, ${decision.windowsJudged} windows) ${decision.summary}`;
}

/** The latest security incident and the open count, as the API serves them to the admin. */
async function securityLine(job: MainJob): Promise<string> {
  if (job.attacks === undefined) return '';
  const recent = await job.incidents.list('*', { limit: 20 }).catch(() => []);
  const open = recent.filter((i) => i.status === 'open').length;
  const latest = recent[0];
  const attacking =
    job.attacks.attacker === undefined ? 'no attack now' : `attack from ${job.attacks.attacker}`;
  if (latest === undefined) return `security: ${attacking}; no incident yet`;
  const remediation =
    latest.remediation === null ? '' : `, ${latest.remediation.action} ${latest.remediation.status}`;
  return `security: ${attacking}; ${open} open; latest ${latest.kind} ${latest.entityId}: ${latest.status.toUpperCase()} (${latest.severity}${remediation}) ${latest.resolution ?? latest.summary}`;
}
