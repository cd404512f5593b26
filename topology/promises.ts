/**
 * True when `v` is a promise (a thenable): the engine's synchronous paths
 * (a serde, a store read, a processor step) return a value when they can and
 * a promise only when they must wait.
 */
export const isPromise = <T>(v: T | Promise<T>): v is Promise<T> =>
  typeof (v as Promise<T> | undefined)?.then === 'function';
