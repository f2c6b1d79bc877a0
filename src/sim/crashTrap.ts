// Crashes in the middle of a storage transaction. The simulator wraps each node's storage so that an
// armed crash strikes inside one of the node's data writes: the write throws `SimulatedCrash`, the
// store rolls the transaction back (what it wrote is not durable), and the cluster discards the node
// with everything it produced in that step, as a process killed mid-commit would.

import type { Storage } from '../core/storage.js';

/** Thrown inside a node's storage to make it die mid-transaction; the cluster catches it. */
export class SimulatedCrash extends Error {
  override name = 'SimulatedCrash';
}

/** The writes a crash may strike in: the replica's data, its hints, purges and drops. */
const trappedWrites = new Set<PropertyKey>(['apply', 'addHint', 'removeHint', 'purgeTombstone', 'dropEntry']);

/**
 * `storage` with `strike(method)` asked before every trapped write; when it answers true, the write
 * throws `SimulatedCrash` instead. A Proxy passes every other method (including ones added to the
 * Storage port later) straight through.
 */
export function trapStorage<S extends Storage>(storage: S, strike: (method: string) => boolean): Storage {
  return new Proxy(storage, {
    get: (object, property) => {
      const value = Reflect.get(object, property) as unknown;
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      if (!trappedWrites.has(property)) return method.bind(object);
      return (...args: unknown[]) => {
        if (strike(String(property))) throw new SimulatedCrash(`crashed in ${String(property)}`);
        return method.apply(object, args);
      };
    },
  });
}
