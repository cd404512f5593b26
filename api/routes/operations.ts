import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { DependencyProbe } from '../../sinks/index.js';
import { type BrokerOutageState, type StreamsApplication, VeroaiError } from '../../topology/index.js';

export interface OperationsRoutesOptions {
  readonly registry: Registry;
  readonly app: StreamsApplication;
  /** Backing stores the instance needs to serve (e.g. Redis), probed by readiness. */
  readonly dependencies: readonly DependencyProbe[];
}

/**
 * The longest readiness waits for a probe that does not bound itself; a Redis
 * probe fails sooner, at its connection's command timeout.
 */
const PROBE_TIMEOUT_MS = 1_000;

/** A dependency readiness found down: which, why, and the catalogue code of the failure. */
interface DownDependency {
  readonly dependency: string;
  readonly error: string;
  readonly code: string;
}

/** Liveness, readiness and Prometheus metrics: what an orchestrator and a scraper need. */
export async function operationsRoutes(
  server: FastifyInstance,
  options: OperationsRoutesOptions,
): Promise<void> {
  const { registry, app, dependencies } = options;

  server.get('/metrics', async (_request, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });

  server.get('/health/live', async () => ({ status: 'live' }));

  server.get('/health/ready', async (_request, reply) => {
    // ready once the consumer has joined, every assigned task is restored, the brokers answer and every
    // backing store answers
    const down = await downDependencies(dependencies);
    const outage = app.brokerOutage();
    if (outage !== undefined) down.unshift(brokersDown(outage));
    const restoring = app.restoring();
    if (app.state !== 'running' || restoring || down.length > 0) {
      return reply.code(503).send({ status: 'not_ready', state: app.state, restoring, down });
    }
    return { status: 'ready', state: app.state, tasks: app.activeTasks().size };
  });
}

/** The application's brokers, unreachable since `since` (it rides the outage out up to its bound). */
function brokersDown(outage: BrokerOutageState): DownDependency {
  const error = outage.lastError instanceof Error ? outage.lastError.message : String(outage.lastError);
  return {
    dependency: 'kafka',
    code: 'VEROAI_ERR_KAFKA_UNREACHABLE',
    error: `unreachable since ${new Date(outage.since).toISOString()}: ${error}`,
  };
}

async function downDependencies(dependencies: readonly DependencyProbe[]): Promise<DownDependency[]> {
  const results = await Promise.all(
    dependencies.map(async (check): Promise<DownDependency | undefined> => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)),
          PROBE_TIMEOUT_MS,
        );
      });
      try {
        await Promise.race([check.probe(), timeout]);
        return undefined;
      } catch (error) {
        return {
          dependency: check.dependency,
          error: error instanceof Error ? error.message : String(error),
          code: error instanceof VeroaiError ? error.code : 'VEROAI_ERR_UNAVAILABLE',
        };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return results.filter((down): down is DownDependency => down !== undefined);
}
