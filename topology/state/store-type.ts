import { TopologyError } from '../errors.js';
import type { StoreType } from './store.js';

const STORE_TYPES: readonly StoreType[] = ['memory', 'rocksdb'];

/**
 * Checks a store type from options (plain JavaScript callers may pass
 * anything); `where` names the option in the error, e.g. `store 'counts'`.
 */
export function checkStoreType(type: StoreType | undefined, where: string): StoreType | undefined {
  if (type === undefined || STORE_TYPES.includes(type)) return type;
  throw new TopologyError(
    `${where}: '${String(type)}' is not a store type`,
    `use one of ${STORE_TYPES.map((t) => `'${t}'`).join(', ')}, or omit it for the application's default`,
  );
}
