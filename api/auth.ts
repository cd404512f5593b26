import type { FastifyReply, FastifyRequest } from 'fastify';
import { ConfigError } from '../topology/errors.js';
import { apiErrors } from './errors.js';

/** The tenant an admin key is mapped to: it sees every tenant. */
export const ADMIN_TENANT = '*';

/** API key → the tenant it may read (or `*` for all). */
export type ApiKeys = ReadonlyMap<string, string>;

declare module 'fastify' {
  interface FastifyRequest {
    /** The tenant the caller's API key may read, or `*`; set by the authentication hook. */
    tenantScope: string;
  }
}

/**
 * Parses `key:tenant[,key:tenant…]` (the `API_KEYS` variable); tenant `*`
 * makes an admin key. Errors name the entry by position, never the key.
 * @example parseApiKeys('k1:acme,k2:globex,root:*') // Map { k1 → acme, k2 → globex, root → * }
 */
export function parseApiKeys(text: string): Map<string, string> {
  const keys = new Map<string, string>();
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  entries.forEach((entry, i) => {
    const colon = entry.lastIndexOf(':');
    const key = entry.slice(0, Math.max(colon, 0)).trim();
    const tenant = entry.slice(colon + 1).trim();
    const where = `API_KEYS: entry ${i + 1} of ${entries.length}`;
    if (colon <= 0 || key === '' || tenant === '') {
      throw new ConfigError(
        `${where} is not 'key:tenant' (expected e.g. API_KEYS=key1:acme,key2:globex,adminkey:*)`,
      );
    }
    if (tenant.includes('/')) throw new ConfigError(`${where}: tenant '${tenant}' must not contain '/'`);
    if (keys.has(key))
      throw new ConfigError(`${where} repeats a key given earlier; each key maps to one tenant`);
    keys.set(key, tenant);
  });
  if (keys.size === 0)
    throw new ConfigError('API_KEYS: no key given (expected e.g. API_KEYS=key1:acme,adminkey:*)');
  return keys;
}

/** The OpenAPI security requirement of every authenticated route: either header. */
export const apiKeySecurity: Array<Record<string, string[]>> = [{ bearer: [] }, { apiKey: [] }];

/** Whether a caller limited to `scope` may read data of `tenantId`. */
export function canRead(scope: string, tenantId: string): boolean {
  return scope === ADMIN_TENANT || scope === tenantId;
}

/**
 * An onRequest hook that admits a request only with a known key, from
 * `authorization: Bearer <key>` or `x-api-key`, and records the key's tenant
 * on `request.tenantScope`.
 */
export function apiKeyAuthentication(apiKeys: ApiKeys) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const key = presentedKey(request);
    if (key === undefined) {
      void reply.header('www-authenticate', 'Bearer');
      throw apiErrors.missingApiKey();
    }
    const tenant = apiKeys.get(key);
    if (tenant === undefined) {
      void reply.header('www-authenticate', 'Bearer error="invalid_token"');
      throw apiErrors.unknownApiKey();
    }
    request.tenantScope = tenant;
  };
}

function presentedKey(request: FastifyRequest): string | undefined {
  const bearer = /^bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
  if (bearer !== undefined) return bearer;
  const header = request.headers['x-api-key'];
  const key = Array.isArray(header) ? header[0] : header;
  return key === undefined || key.trim() === '' ? undefined : key.trim();
}
