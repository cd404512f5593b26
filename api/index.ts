/** The query API's public surface: the server factory, its options, API-key parsing and the error catalogue. */
export { ADMIN_TENANT, type ApiKeys, parseApiKeys } from './auth.js';
export { apiErrors } from './errors.js';
export { type CanaryCommandPublisher, MAX_LISTED_ROLLOUTS } from './routes/canary.js';
export { MAX_BATCH_ENTITIES } from './routes/features.js';
export type { OpenSessionLookup } from './routes/sessions.js';
export { type ApiServerOptions, buildApiServer } from './server.js';
