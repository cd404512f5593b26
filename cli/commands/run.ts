import type { Command } from 'commander';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { buildApiServer } from '../../api/server.js';
import { telemetryEventSerde } from '../../schemas/index.js';
import { StreamsApplication } from '../../topology/index.js';
import { loadConfig } from '../config.js';
import { defaultTopology } from '../default-topology.js';
import { createLogger } from '../logger.js';
import { SampleFeed } from '../sample-feed.js';
import { transportFor } from '../transport.js';

interface RunOptions {
  sample?: boolean;
  duration?: number;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description(
      'run the default topology from the environment (TRANSPORT, KAFKA_BROKERS, ...), with the API and /metrics; stops cleanly on SIGINT/SIGTERM',
    )
    .option('--no-sample', 'do not feed built-in sample traffic (default: fed on the memory transport only)')
    .option('--duration <seconds>', 'stop by itself after this many seconds', (v) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new Error('--duration: expected a positive number of seconds');
      return n;
    })
    .action(async (options: RunOptions) => {
      await runDefault(options);
    });
}

async function runDefault(options: RunOptions): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL);
  const { topology, topics, inputTopic } = defaultTopology(config);
  const transport = transportFor(config, logger);
  if (transport.kind === 'memory') await transport.ensureTopics(topics);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'veroai_process_' });
  const app = new StreamsApplication(topology, {
    applicationId: config.APPLICATION_ID,
    transport,
    processingGuarantee: config.PROCESSING_GUARANTEE,
    commitIntervalMs: config.COMMIT_INTERVAL_MS,
    logger,
    metricsRegistry: registry,
  });
  const api = await buildApiServer({ registry, app, logger });
  const feed =
    transport.kind === 'memory' && options.sample !== false
      ? new SampleFeed({
          transport,
          topic: inputTopic,
          serde: telemetryEventSerde(
            config.SCHEMA_REGISTRY_URL === undefined ? {} : { registryUrl: config.SCHEMA_REGISTRY_URL },
          ),
          eventsPerSecond: config.SAMPLE_EVENTS_PER_SECOND,
          logger,
        })
      : undefined;

  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string) => {
    stopping ??= (async () => {
      logger.info(
        { reason },
        'shutting down: finishing the batch in progress, committing, leaving the group',
      );
      await feed?.stop();
      await app.stop();
      await api.close();
      await transport.close();
      logger.info('stopped');
    })();
    return stopping;
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  app.on('error', () => void shutdown('fatal error').finally(() => process.exit(1)));

  await app.start();
  const address = await api.listen({ host: config.API_HOST, port: config.API_PORT });
  await feed?.start();
  process.stderr.write(
    `veroai: application '${config.APPLICATION_ID}' running on the ${transport.kind} transport; API and /metrics on ${address}\n`,
  );
  if (options.duration !== undefined) {
    setTimeout(() => void shutdown('--duration elapsed'), options.duration * 1000).unref();
  }
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (stopping !== undefined) {
        clearInterval(check);
        void stopping.then(resolve);
      }
    }, 100);
  });
}
