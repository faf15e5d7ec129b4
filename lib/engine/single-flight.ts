/** Runs one loader per key at a time in this process; concurrent callers of the same key share its promise. */
export class SingleFlight {
  private readonly inflight = new Map<string, Promise<unknown>>();
  /** Flights whose loader resolved but which stay open until `hold`'s promise settles. */
  private readonly heldOpen = new Set<Promise<unknown>>();

  /**
   * Runs `loader` unless a flight of `key` is open. The loader may call `hold(until)`: the flight then
   * stays open (later callers get the same result) until `until` settles, or until `release(key)`.
   */
  run<T>(key: string, loader: (hold: (until: Promise<unknown>) => void) => Promise<T>): Promise<T> {
    const existing = this.inflight.get(key);
    if (existing) return existing as Promise<T>;
    let until: Promise<unknown> | undefined;
    let promise: Promise<T> | undefined = undefined;
    promise = (async () => {
      try {
        return await loader((p) => {
          until = p;
        });
      } finally {
        if (until === undefined) this.forget(key, promise);
        else if (promise !== undefined) {
          this.heldOpen.add(promise);
          const close = () => this.forget(key, promise);
          until.then(close, close);
        }
      }
    })();
    this.inflight.set(key, promise);
    return promise;
  }

  /** Whether a flight of `key` is open (running or held open). */
  has(key: string): boolean {
    return this.inflight.has(key);
  }

  /** Closes the flight of `key` if its loader already resolved (it is only held open). */
  release(key: string): void {
    const flight = this.inflight.get(key);
    if (flight !== undefined && this.heldOpen.has(flight)) this.forget(key, flight);
  }

  /** Whether any flight is held open (rare: a write-back after a failed read); `held` is only worth a lookup then. */
  get holding(): boolean {
    return this.heldOpen.size > 0;
  }

  /** The result of the flight of `key` when its loader resolved and it is only held open, else `undefined`. */
  held<T>(key: string): Promise<T> | undefined {
    const flight = this.inflight.get(key);
    return flight !== undefined && this.heldOpen.has(flight) ? (flight as Promise<T>) : undefined;
  }

  private forget(key: string, flight: Promise<unknown> | undefined): void {
    // NOTE: `flight` is undefined only when a loader settled synchronously, before the map was set.
    if (flight === undefined || this.inflight.get(key) === flight) this.inflight.delete(key);
    if (flight !== undefined) this.heldOpen.delete(flight);
  }
}
