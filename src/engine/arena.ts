import type { Ptr } from './types.ts';

/**
 * Bump allocator over element offsets, shared by the backends. `base` is the first usable element (so that
 * 0 can mean "none"); every allocation is rounded up to 4 elements (16 bytes in a Float32 arena), which keeps
 * SIMD loads aligned. `grow(elements)` is the backend's hook to make room.
 */
export class Arena {
  top: number;
  constructor(readonly base: number, private readonly grow: (endElement: number) => void) {
    this.top = base;
  }
  alloc(n: number): Ptr {
    if (!Number.isInteger(n) || n < 0) throw new Error(`alloc: bad element count ${n}`);
    const p = this.top;
    this.top = p + ((n + 3) & ~3);
    this.grow(this.top);
    return p;
  }
  reserve(n: number): void {
    this.grow(this.top + ((n + 3) & ~3));
  }
  mark(): number {
    return this.top;
  }
  release(mark: number): void {
    if (mark < this.base || mark > this.top) throw new Error(`release: mark ${mark} outside [${this.base}, ${this.top}]`);
    this.top = mark;
  }
}
