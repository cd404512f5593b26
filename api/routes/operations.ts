import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { StreamsApplication } from '../../topology/index.js';

export interface OperationsRoutesOptions {
  readonly registry: Registry;
  readonly app: StreamsApplication;
}

/** Liveness, readiness and Prometheus metrics: what an orchestrator and a scraper need. */
export async function operationsRoutes(
  server: FastifyInstance,
  options: OperationsRoutesOptions,
): Promise<void> {
  const { registry, app } = options;

  server.get('/metrics', async (_request, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });

  server.get('/health/live', async () => ({ status: 'live' }));

  server.get('/health/ready', async (_request, reply) => {
    // ready once the consumer has joined and every assigned task is restored
    if (app.state !== 'running') return reply.code(503).send({ status: 'not_ready', state: app.state });
    return { status: 'ready', state: app.state, tasks: app.activeTasks().size };
  });
}
