/**
 * Which tenants are counted on their own (`metrics.topTenants` slots): the busiest, in bounded memory.
 *
 * A tenant without a slot is a candidate of the current window, counted apart, while the window has room
 * (`4 × slots` candidates; the tenants seen once it is full count as `other` until the next one). A window
 * ends when the counters are read (a metric collection, `stats()`): the free slots go to the busiest
 * candidates that stand out, that is, that made at least two requests in the window and more than the
 * busiest candidate left without a slot. A slot is kept for the life of the process: an exported series
 * never changes tenant, and OpenTelemetry keeps reporting every series it has seen, so giving slots back
 * would let series grow with the number of tenants.
 *
 * When all tenants are about as busy (a thousand tenants, a request or two each), none stands out and
 * none gets a slot: they are all `other`. When a window sees fewer tenants than there are free slots,
 * each that made two requests gets one.
 */
export class TopTenants {
  private readonly tracked = new Set<string>();
  private readonly candidates = new Set<string>();
  private readonly maxCandidates: number;

  constructor(private readonly slots: number) {
    this.maxCandidates = Math.max(64, 4 * slots);
  }

  /** Whether `tenant` has a slot. */
  has(tenant: string): boolean {
    return this.tracked.has(tenant);
  }

  /** The tenants with a slot, in the order they got it. */
  get names(): IterableIterator<string> {
    return this.tracked.values();
  }

  /** Whether `tenant` (which has no slot) is, or now becomes, a candidate of this window. */
  admit(tenant: string): boolean {
    if (this.candidates.has(tenant)) return true;
    if (this.candidates.size >= this.maxCandidates) return false;
    this.candidates.add(tenant);
    return true;
  }

  /** Ends the window: gives the free slots to the candidates that stand out (see the class) and returns them. */
  endWindow(requests: ReadonlyMap<string, number>): Set<string> {
    const promoted = new Set<string>();
    const free = this.slots - this.tracked.size;
    if (free > 0 && requests.size > 0) {
      const ranked = [...requests].sort((x, y) => y[1] - x[1]);
      const leftOut = ranked[free]?.[1] ?? 0;
      for (const [tenant, n] of ranked.slice(0, free)) {
        if (n < 2 || n <= leftOut) break;
        this.tracked.add(tenant);
        promoted.add(tenant);
      }
    }
    this.candidates.clear();
    return promoted;
  }
}
