import type { FastifyInstance } from 'fastify';
import { Histogram, type Registry } from 'prom-client';

/**
 * Times every response into `veroai_api_request_seconds{route,method,status_code}`.
 * `route` is the route's pattern (`/v1/features/:view/:entity`), never the
 * raw URL, so the label's values stay few; requests matching no route count
 * as `unmatched`.
 */
export function recordRequestLatency(server: FastifyInstance, registry: Registry): void {
  const name = 'veroai_api_request_seconds';
  const histogram =
    (registry.getSingleMetric(name) as Histogram<'route' | 'method' | 'status_code'> | undefined) ??
    new Histogram({
      name,
      help: 'Query API request latency, by route pattern, method and status code',
      labelNames: ['route', 'method', 'status_code'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
  // one child per (route, method, status): prom-client then hashes the labels once, not per request
  const children = new Map<string, { observe(seconds: number): void }>();
  server.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const statusCode = String(reply.statusCode);
    const id = `${request.method} ${statusCode} ${route}`;
    let child = children.get(id);
    if (child === undefined) {
      child = histogram.labels({ route, method: request.method, status_code: statusCode });
      children.set(id, child);
    }
    child.observe(reply.elapsedTime / 1000);
  });
}
