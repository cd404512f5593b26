/** An in-test double of the Confluent Schema Registry REST API: the endpoints the client calls. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeSchemaRegistry {
  readonly url: string;
  /** `METHOD /path` of every request, in order. */
  readonly requests: string[];
  /** Registers a schema (its JSON text) as another producer would, under `<subject>`; its id. */
  register(subject: string, schema: string): Promise<number>;
  close(): Promise<void>;
}

/** Ids start at 100, one per distinct schema text, whatever the subject. */
export async function startFakeSchemaRegistry(): Promise<FakeSchemaRegistry> {
  const schemas: string[] = [];
  const requests: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      requests.push(`${req.method} ${req.url}`);
      res.setHeader('content-type', 'application/vnd.schemaregistry.v1+json');
      const send = (status: number, payload: unknown) => {
        res.statusCode = status;
        res.end(JSON.stringify(payload));
      };
      const url = req.url ?? '';
      if (req.method === 'GET' && url.startsWith('/config/'))
        return send(404, { error_code: 40401, message: 'Subject not found' });
      if (req.method === 'PUT' && url.startsWith('/config/')) return send(200, JSON.parse(body));
      if (req.method === 'POST' && /^\/subjects\/[^/]+\/versions$/.test(url)) {
        const { schema } = JSON.parse(body) as { schema: string };
        let index = schemas.indexOf(schema);
        if (index < 0) index = schemas.push(schema) - 1;
        return send(200, { id: 100 + index });
      }
      const byId = /^\/schemas\/ids\/(\d+)$/.exec(url);
      if (req.method === 'GET' && byId) {
        const schema = schemas[Number(byId[1]) - 100];
        return schema === undefined
          ? send(404, { error_code: 40403, message: 'Schema not found' })
          : send(200, { schema });
      }
      send(404, { error_code: 404, message: `no route ${req.method} ${url}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    async register(subject, schema) {
      const response = await fetch(`${url}/subjects/${encodeURIComponent(subject)}/versions`, {
        method: 'POST',
        body: JSON.stringify({ schema }),
      });
      return ((await response.json()) as { id: number }).id;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
