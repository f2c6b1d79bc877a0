// A min-heap of (deadline, id): the coordinator expires what ran past its deadline in O(log n) per
// operation, instead of scanning every operation in flight on every tick.

export class DeadlineQueue {
  private readonly deadlines: number[] = [];
  private readonly ids: number[] = [];

  get size(): number {
    return this.ids.length;
  }

  push(deadlineMs: number, id: number): void {
    this.deadlines.push(deadlineMs);
    this.ids.push(id);
    this.up(this.ids.length - 1);
  }

  /** Removes and returns the ids whose deadline is at or before `nowMs`, earliest first. */
  popDue(nowMs: number): number[] {
    const due: number[] = [];
    while (this.ids.length > 0 && (this.deadlines[0] as number) <= nowMs) due.push(this.pop());
    return due;
  }

  private pop(): number {
    const top = this.ids[0] as number;
    const lastDeadline = this.deadlines.pop() as number;
    const lastId = this.ids.pop() as number;
    if (this.ids.length > 0) {
      this.deadlines[0] = lastDeadline;
      this.ids[0] = lastId;
      this.down(0);
    }
    return top;
  }

  private up(index: number): void {
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((this.deadlines[parent] as number) <= (this.deadlines[i] as number)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(index: number): void {
    let i = index;
    const n = this.ids.length;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < n && (this.deadlines[left] as number) < (this.deadlines[smallest] as number)) smallest = left;
      if (right < n && (this.deadlines[right] as number) < (this.deadlines[smallest] as number)) smallest = right;
      if (smallest === i) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }

  private swap(a: number, b: number): void {
    const d = this.deadlines[a] as number;
    this.deadlines[a] = this.deadlines[b] as number;
    this.deadlines[b] = d;
    const id = this.ids[a] as number;
    this.ids[a] = this.ids[b] as number;
    this.ids[b] = id;
  }
}
