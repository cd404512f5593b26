import type { FeatureUpdate } from '../../schemas/index.js';

/** Where feature updates are written (Redis in production). Resolves once they are durable. */
export interface FeatureSink {
  write(updates: readonly FeatureUpdate[]): Promise<void>;
}
