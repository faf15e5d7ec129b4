/** Slots of the per-key epochs: fixed, so the table never grows with traffic. */
const SLOTS = 4096;

/**
 * Write epochs of an L1: a read of the L2 fills the L1 only if no write, delete or coherence message touched
 * its key (its slot) or everything (`all`) while the read was in flight. Otherwise an L2 reply that left
 * Redis before a write could land in the L1 after the write's eviction and stay there.
 */
export class L1Epochs {
  private readonly slots = new Uint32Array(SLOTS);
  private whole = 0;

  /** The epoch of `key` now (a token to give `unchanged`). */
  of(key: string): number {
    // NOTE: exact up to 2^53; `whole` wrapping at 2^21 during one in-flight read is the only (theoretical) collision.
    return this.slots[slotOf(key)]! * 0x200000 + (this.whole & 0x1fffff);
  }

  unchanged(key: string, token: number): boolean {
    return this.of(key) === token;
  }

  /** Marks a write to `key`. */
  touch(key: string): void {
    const i = slotOf(key);
    this.slots[i] = (this.slots[i]! + 1) >>> 0;
  }

  /** Marks a write to every key (a prefix deleted, the L1 cleared, the subscriber lost). */
  touchAll(): void {
    this.whole++;
  }
}

/** FNV-1a over the UTF-16 units of `key`, folded into the slots. */
function slotOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % SLOTS;
}
