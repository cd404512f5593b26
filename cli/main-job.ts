/**
 * The main job, as `veroai run` and `veroai demo` start it: the first pipeline
 * (telemetry → sessions → features) and the canary KPI gate on the configured
 * transport, their Redis sinks, the query API with /metrics, and (on the memory transport, or when
 * asked) built-in sample traffic. One place assembles it, so both commands
 * run exactly the same thing.
 */
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { parseApiKeys } from '../api/auth.js';
import { buildApiServer } from '../api/server.js';
import { CANARY_COMMANDS_TOPIC } from '../processors/canary/canary-gate.js';
import { CanaryMetrics } from '../processors/canary/canary-metrics.js';
import { SecurityMetrics } from '../processors/incidents/security-metrics.js';
import {
  INCIDENT_COMMANDS_TOPIC,
  REMEDIATION_RESULTS_TOPIC,
} from '../processors/incidents/security-operations.js';
import { triageFromEnv } from '../processors/incidents/triage/index.js';
import { openSessionOf } from '../processors/sessions/open-session.js';
import type { SinkFailure } from '../processors/write-batch-to-sink.js';
import {
  canaryCommandSerde,
  incidentCommandSerde,
  type RemediationResult,
  remediationResultSerde,
  type SecurityIncident,
  type TopicSerdeOptions,
  telemetryEventSerde,
} from '../schemas/index.js';
import {
  API_REDIS_COMMAND_TIMEOUT_MS,
  type CanaryDecisionReader,
  connectRedis,
  type IncidentReader,
  RedisCanaryDecisions,
  RedisFeatureStore,
  RedisSecurityIncidents,
  RedisSessionHistory,
  redisProbe,
} from '../sinks/index.js';
import { StreamsApplication, type Transport } from '../topology/index.js';
import { TransportCanaryCommandPublisher } from './canary-command-publisher.js';
import type { AppConfig } from './config.js';
import { defaultTopology } from './default-topology.js';
import { DemoAttacks } from './demo-attacks.js';
import { DemoRollout } from './demo-rollout.js';
import { TransportIncidentCommandPublisher } from './incident-command-publisher.js';
import { SampleFeed } from './sample-feed.js';
import {
  checkStateDir,
  kafkaStartError,
  listenError,
  StartUp,
  StopRequestedDuringStartUp,
} from './start-up.js';
import { transportFor } from './transport.js';
import { TransportCommandPublisher } from './transport-command-publisher.js';

export interface MainJobOptions {
  /** Feed built-in sample traffic into `raw_events`. */
  readonly sample: boolean;
  /** Session inactivity gap and grace when the configuration does not set them. */
  readonly sessionDefaults?: { readonly gapMs: number; readonly graceMs: number };
  /** KPI window size and grace when the configuration does not set them. */
  readonly canaryDefaults?: { readonly windowMs: number; readonly graceMs: number };
  /** With the sample traffic, a service rolling out a canary that regresses after a while (the demo's). */
  readonly rollout?: boolean;
  /**
   * With the sample traffic, a credential-stuffing attack now and then, and a
   * stand-in enforcer that applies the SOC's block_ip remediations (the demo's).
   */
  readonly attacks?: boolean;
  /** Whether remediation commands are dry runs when REMEDIATION_DRY_RUN is not set. Default true. */
  readonly remediationDryRun?: boolean;
  /** API keys when API_KEYS is not set (the demo makes some); without any, only /metrics and /health are served. */
  readonly fallbackApiKeys?: ReadonlyMap<string, string>;
  /**
   * Aborted when the operator asks the process to stop (the first
   * SIGINT/SIGTERM): a start-up in progress ends at the step it is at and
   * closes what it opened; the application never runs.
   */
  readonly stopRequested?: AbortSignal;
}

export interface MainJob {
  readonly app: StreamsApplication;
  readonly registry: Registry;
  /** Where the API listens, e.g. http://127.0.0.1:8080. */
  readonly address: string;
  readonly transportKind: 'kafka' | 'memory';
  readonly apiKeys: ReadonlyMap<string, string> | undefined;
  readonly session: { readonly gapMs: number; readonly graceMs: number };
  readonly feed: SampleFeed | undefined;
  /** The sample traffic's rollout, when it has one. */
  readonly rollout: DemoRollout | undefined;
  /** The canary gate's decisions, as the API reads them. */
  readonly canaryDecisions: CanaryDecisionReader;
  /** The sample traffic's attacks, when it has them. */
  readonly attacks: DemoAttacks | undefined;
  /** Security incidents, as the API reads them. */
  readonly incidents: IncidentReader;
  /** Resolves when the job has failed for good (e.g. a sink down past its retries). */
  readonly failed: Promise<unknown>;
  /**
   * Stops the feed, finishes the batch in progress, commits, leaves the group,
   * closes everything. Past STOP_TIMEOUT_MS the batches still in flight are
   * abandoned uncommitted and it rejects with `VEROAI_ERR_STOP_TIMEOUT`, once
   * everything is closed.
   */
  stop(): Promise<void>;
}

const DEFAULT_SESSION = { gapMs: 30 * 60_000, graceMs: 5 * 60_000 };

/**
 * Starts the main job from the configuration; throws a VeroaiError naming
 * what to fix when it cannot. Resolves to undefined when a stop was requested
 * during start-up. Either way, what start-up opened is closed again.
 */
export async function startMainJob(
  config: AppConfig,
  logger: Logger,
  options: MainJobOptions,
): Promise<MainJob | undefined> {
  const startUp = new StartUp(options.stopRequested, logger);
  try {
    return await assembleMainJob(config, logger, options, startUp);
  } catch (error) {
    await startUp.closeAll();
    if (error instanceof StopRequestedDuringStartUp) return undefined;
    // a stop requested while a step failed (e.g. Kafka unreachable as the operator gave up): a stop
    if (options.stopRequested?.aborted) return undefined;
    throw error;
  }
}

async function assembleMainJob(
  config: AppConfig,
  logger: Logger,
  options: MainJobOptions,
  startUp: StartUp,
): Promise<MainJob> {
  // before anything connects: found now, not at the first task's creation after the group join
  if (config.STATE_STORE === 'rocksdb') await checkStateDir(config.STATE_DIR);
  const apiKeys = config.API_KEYS === undefined ? options.fallbackApiKeys : parseApiKeys(config.API_KEYS);
  const session = {
    gapMs: config.SESSION_GAP_MS ?? options.sessionDefaults?.gapMs ?? DEFAULT_SESSION.gapMs,
    graceMs: config.SESSION_GRACE_MS ?? options.sessionDefaults?.graceMs ?? DEFAULT_SESSION.graceMs,
  };
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'veroai_process_' });
  // the sinks' writes and the API's reads each get a connection: the API's commands time out sooner
  // (it answers 503 within 250 ms while Redis is down or hung), the sinks' retry until SINK_MAX_OUTAGE_MS
  const redis = await startUp.open('Redis', connectRedis(config.REDIS_URL, { logger }), closeRedis);
  const apiRedis = await startUp.open(
    'Redis (API)',
    connectRedis(config.REDIS_URL, { logger, commandTimeoutMs: API_REDIS_COMMAND_TIMEOUT_MS }),
    closeRedis,
  );
  const features = new RedisFeatureStore({ redis, registry, ttlMs: config.FEATURE_TTL_MS });
  const sessionHistory = new RedisSessionHistory({ redis, registry });
  const featureReader = new RedisFeatureStore({ redis: apiRedis, registry, ttlMs: config.FEATURE_TTL_MS });
  const sessionReader = new RedisSessionHistory({ redis: apiRedis, registry });
  const canaryDecisions = new RedisCanaryDecisions({ redis, registry });
  const canaryReader = new RedisCanaryDecisions({ redis: apiRedis, registry });
  const securityIncidents = new RedisSecurityIncidents({ redis, registry });
  const incidentReader = new RedisSecurityIncidents({ redis: apiRedis, registry });
  // an optional Claude triage note per new incident (ANTHROPIC_API_KEY), written beside it, never in the way
  const triage = triageFromEnv(process.env, { store: securityIncidents, logger, registry });
  const attacks = options.sample && options.attacks === true ? new DemoAttacks() : undefined;
  /** Set once the transport exists: the demo enforcer's confirmations. */
  let confirm: ((result: RemediationResult) => void) | undefined;
  const onIncident = (incident: SecurityIncident) => {
    triage?.offer(incident);
    const result = attacks?.enforce(incident, Date.now());
    if (result !== undefined) confirm?.(result);
  };
  const serdeOptions: TopicSerdeOptions =
    config.SCHEMA_REGISTRY_URL === undefined ? {} : { registryUrl: config.SCHEMA_REGISTRY_URL };
  let reportFailure: (reason: unknown) => void = () => undefined;
  const failed = new Promise<unknown>((resolve) => {
    reportFailure = resolve;
  });
  // aborts the sinks' retries: at once after a fatal error (nothing more is committed); after a stop, once the
  // application has stopped (a batch whose sink comes back before the stop deadline still finishes; one still
  // retrying then was abandoned by the application and stops retrying now)
  const sinksGiveUp = new AbortController();
  void failed.then(() => sinksGiveUp.abort(new Error('the job failed')));
  const { topology, topics, inputTopic } = defaultTopology(config, {
    sinks: { features, sessionHistory },
    canary: { decisions: canaryDecisions, metrics: new CanaryMetrics(registry) },
    security: { incidents: securityIncidents, metrics: new SecurityMetrics(registry), onIncident },
    ...(options.remediationDryRun === undefined ? {} : { remediationDryRun: options.remediationDryRun }),
    ...(options.canaryDefaults === undefined ? {} : { canaryDefaults: options.canaryDefaults }),
    sessionGapMs: session.gapMs,
    sessionGraceMs: session.graceMs,
    sinkRetry: {
      maxOutageMs: config.SINK_MAX_OUTAGE_MS,
      signal: sinksGiveUp.signal,
      onFailure: (failure: SinkFailure) => {
        logger.warn(
          {
            sink: failure.sink,
            attempt: failure.attempt,
            outageMs: failure.outageMs,
            retryInMs: failure.retryInMs,
            err: failure.error,
          },
          failure.exhausted
            ? 'sink unavailable for longer than SINK_MAX_OUTAGE_MS'
            : 'sink write failed; retrying',
        );
        if (failure.exhausted) reportFailure(failure.error);
      },
    },
  });
  const transport = transportFor(config, logger);
  startUp.remember('the transport', () => transport.close());
  if (transport.kind === 'memory') await transport.ensureTopics(topics);
  const app = new StreamsApplication(topology, {
    applicationId: config.APPLICATION_ID,
    transport,
    processingGuarantee: config.PROCESSING_GUARANTEE,
    commitIntervalMs: config.COMMIT_INTERVAL_MS,
    stateDir: config.STATE_DIR,
    stateCleanupDelayMs: config.STATE_CLEANUP_DELAY_MS,
    defaultStoreType: config.STATE_STORE,
    stopTimeoutMs: config.STOP_TIMEOUT_MS,
    maxBrokerOutageMs: config.BROKER_MAX_OUTAGE_MS,
    logger,
    metricsRegistry: registry,
  });
  app.on('error', (error) => reportFailure(error));
  // a failure the application cannot see (a sink down past SINK_MAX_OUTAGE_MS) fails it all the same:
  // nothing more is committed, the group is left at once
  void failed.then((error) => app.fail(error));
  const canaryCommands = new TransportCanaryCommandPublisher({
    transport,
    serde: canaryCommandSerde(serdeOptions),
    topic: CANARY_COMMANDS_TOPIC,
  });
  startUp.remember('the canary command publisher', () => canaryCommands.close());
  const incidentCommands = new TransportIncidentCommandPublisher({
    transport,
    serde: incidentCommandSerde(serdeOptions),
    topic: INCIDENT_COMMANDS_TOPIC,
  });
  startUp.remember('the incident command publisher', () => incidentCommands.close());
  const remediationResults = attacks === undefined ? undefined : demoEnforcerResults(transport, serdeOptions);
  if (remediationResults !== undefined) {
    startUp.remember('the demo enforcer', () => remediationResults.close());
    confirm = (result) => {
      remediationResults
        .publish(result)
        .catch((error: unknown) =>
          logger.warn({ err: error }, 'demo enforcer could not confirm a remediation'),
        );
    };
  }
  if (triage !== undefined) startUp.remember('the triage queue', () => triage.close());
  const api = await buildApiServer({
    registry,
    app,
    logger,
    dependencies: [redisProbe(apiRedis)],
    ...(apiKeys === undefined
      ? {}
      : {
          apiKeys,
          features: featureReader,
          sessionHistory: sessionReader,
          openSession: openSessionOf(app),
          canaryDecisions: canaryReader,
          canaryCommands,
          incidents: incidentReader,
          incidentCommands,
        }),
  });
  if (apiKeys === undefined)
    logger.warn('API_KEYS is not set: the query API serves only /metrics, /health and /docs');
  const rollout = options.sample && options.rollout === true ? new DemoRollout() : undefined;
  const feed = options.sample
    ? new SampleFeed({
        transport,
        topic: inputTopic,
        serde: telemetryEventSerde(serdeOptions),
        eventsPerSecond: config.SAMPLE_EVENTS_PER_SECOND,
        // a little of everything a real firehose carries, so every path and dashboard panel has data
        traffic: { anonymousRate: 0.05, duplicateRate: 0.01, invalidRate: 0.002, lateRate: 0.002 },
        logger,
        ...(attacks === undefined ? {} : { attacks }),
        ...(rollout === undefined
          ? {}
          : {
              rollout: {
                traffic: rollout,
                commandTopic: CANARY_COMMANDS_TOPIC,
                commandSerde: canaryCommandSerde(serdeOptions),
              },
            }),
      })
    : undefined;

  startUp.remember('the API', () => api.close());

  // the port first: a port in use ends the start-up before the group is joined
  const address = await startUp.step(
    api.listen({ host: config.API_HOST, port: config.API_PORT }).catch((error: unknown) => {
      throw listenError(error, config.API_HOST, config.API_PORT);
    }),
  );
  // a stop requested while the application starts: stop() ends its start-up, it never runs
  startUp.remember('the application', () => app.stop());
  await startUp.step(
    app.start().catch((error: unknown) => {
      throw kafkaStartError(error, config.KAFKA_BROKERS);
    }),
  );
  // a fatal error while starting (e.g. a task could not be created): reported through `failed`
  if (app.state === 'failed') throw await failed;
  if (feed !== undefined) {
    startUp.remember('the sample feed', () => feed.stop());
    await startUp.step(feed.start());
  }
  startUp.check();

  let stopping: Promise<void> | undefined;
  return {
    app,
    registry,
    address,
    transportKind: transport.kind,
    apiKeys,
    session,
    feed,
    rollout,
    canaryDecisions: canaryReader,
    attacks,
    incidents: incidentReader,
    failed,
    stop() {
      stopping ??= (async () => {
        await feed?.stop();
        // past the deadline the application abandons what is in flight and rejects: close the rest all the same
        const stopped = await app.stop().then(
          () => undefined,
          (error: unknown) => ({ error }),
        );
        sinksGiveUp.abort(new Error('the application has stopped'));
        await api.close();
        await canaryCommands.close();
        await incidentCommands.close();
        await remediationResults?.close();
        await triage?.close();
        await transport.close();
        // without an offline queue QUIT fails while Redis is down: then just close the socket
        for (const connection of [redis, apiRedis])
          await connection.quit().catch(() => connection.disconnect());
        if (stopped !== undefined) throw stopped.error;
      })();
      return stopping;
    },
  };
}

/** A start-up that did not finish closes its Redis connections at once: no QUIT to wait for. */
function closeRedis(redis: { disconnect(): void }): void {
  redis.disconnect();
}

/** The demo enforcer's confirmations on `remediation_results`, keyed by command id. */
function demoEnforcerResults(transport: Transport, serdeOptions: TopicSerdeOptions) {
  return new TransportCommandPublisher<RemediationResult>({
    transport,
    serde: remediationResultSerde(serdeOptions),
    commands: {
      topic: REMEDIATION_RESULTS_TOPIC,
      name: 'remediation results',
      keyOf: (result) => result.commandId,
      timeOf: (result) => result.at,
      describe: (result) => `remediation result of '${result.commandId}'`,
      missingTopicHint: "create the application's topics (veroai topics create)",
    },
  });
}
