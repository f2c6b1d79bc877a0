// Assertions guard invariants: a failed one is a bug in quorumkv, never a user error, so it throws
// loudly (the simulator reports it with the seed). User-facing failures are `QuorumError`s with codes.

export class AssertionError extends Error {
  override name = 'AssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(`assertion failed: ${message}`);
}

export function unreachable(value: never, message = 'unreachable'): never {
  throw new AssertionError(`${message}: ${JSON.stringify(value)}`);
}
