/** Runs one loader per key at a time in this process; concurrent callers of the same key share its promise. */
export class SingleFlight {
  private readonly inflight = new Map<string, Promise<unknown>>();

  run<T>(key: string, loader: () => Promise<T>): Promise<T> {
    const existing = this.inflight.get(key);
    if (existing) return existing as Promise<T>;
    const promise = (async () => {
      try {
        return await loader();
      } finally {
        this.inflight.delete(key);
      }
    })();
    this.inflight.set(key, promise);
    return promise;
  }

  /** Whether a loader for `key` is running. */
  has(key: string): boolean {
    return this.inflight.has(key);
  }
}
