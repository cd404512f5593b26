import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { StreamsApplication } from '../topology/index.js';
import { operationsRoutes } from './routes/operations.js';

export interface ApiServerOptions {
  readonly registry: Registry;
  readonly app: StreamsApplication;
  readonly logger: Logger;
}

/** The query API. Each resource is one plugin; errors are JSON with a message. */
export async function buildApiServer(options: ApiServerOptions): Promise<FastifyInstance> {
  const server: FastifyInstance = Fastify({
    loggerInstance: options.logger.child({ component: 'api' }) as FastifyBaseLogger,
    disableRequestLogging: true,
  });
  server.setErrorHandler(
    (error: { statusCode?: number; message: string; code?: string }, _request, reply) => {
      const status = error.statusCode ?? 500;
      void reply.code(status).send({
        error: status >= 500 ? 'internal error' : error.message,
        code: error.code ?? 'VEROAI_ERR_API',
      });
    },
  );
  server.setNotFoundHandler((request, reply) => {
    void reply
      .code(404)
      .send({ error: `no route ${request.method} ${request.url}`, code: 'VEROAI_ERR_NOT_FOUND' });
  });
  await server.register(operationsRoutes, { registry: options.registry, app: options.app });
  return server;
}
