// SCAN cursors. Redis calls them opaque strings, but redis-cli, redis-py and go-redis parse them as
// unsigned 64-bit integers, and a quorumkv cursor is a key (up to keyBytesMax bytes). So the node
// hands out decimal numbers and remembers which key each stands for (the last key examined): the
// most recent `scanCursorsMax` cursors, least recently used forgotten first. A forgotten cursor, or
// one issued by another node, answers `-ERR invalid cursor`; "0" starts and ends an iteration.

/** Cursors a node remembers (about 100 bytes each plus the key). */
export const scanCursorsMax = 100_000;
const idMax = Number.MAX_SAFE_INTEGER;

export class ScanCursors {
  /** cursor -> last key examined, in least-recently-used order. */
  private readonly keys = new Map<number, string>();
  private nextId: number;

  constructor(
    private readonly capacity = scanCursorsMax,
    firstId = 1 + Math.floor(Math.random() * 2 ** 32),
  ) {
    this.nextId = firstId;
  }

  get size(): number {
    return this.keys.size;
  }

  /** The cursor to continue after `key`; "0" when the iteration is complete (null). */
  issue(key: string | null): string {
    if (key === null) return '0';
    const id = this.nextId;
    this.nextId = id >= idMax ? 1 : id + 1;
    this.keys.delete(id);
    this.keys.set(id, key);
    while (this.keys.size > this.capacity) {
      const oldest = this.keys.keys().next().value as number;
      this.keys.delete(oldest);
    }
    return String(id);
  }

  /** The key a cursor stands for: null for "0", undefined for a cursor this node does not know. */
  resolve(cursor: string): string | null | undefined {
    if (cursor === '0') return null;
    if (!/^[1-9][0-9]{0,15}$/.test(cursor)) return undefined;
    const id = Number(cursor);
    const key = this.keys.get(id);
    if (key === undefined) return undefined;
    this.keys.delete(id);
    this.keys.set(id, key);
    return key;
  }
}
