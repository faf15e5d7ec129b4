import type { Lease } from './single-flight.options.js';
import type { SingleFlight } from './single-flight.js';
import type { CacheScope } from '../keys/key-builder.js';
import type { ResolvedStore } from './store-registry.js';
import type { Target } from './target.js';

/** A load in flight; `invalidated` turns true when its key, a tag or a partition of it is invalidated meanwhile. */
export interface LoadMark {
  invalidated: boolean;
  /** The single-flight key of the load, released when the load is invalidated while its write-back is in flight. */
  readonly flight?: string;
  /** Store alias + scope prefix (`keySpace`): marks only match loads of the same key space. */
  readonly space: string;
  readonly logicalKey: string;
  readonly plain: readonly string[];
  readonly versioned: readonly string[];
  /** The cluster lease of the load (`singleFlight: 'cluster'`): its value is kept only while the lease is held. */
  readonly fence?: Lease;
}

const NONE: readonly string[] = [];

/**
 * The loads in flight in this process, by physical key. An invalidation marks the loads it covers, so a
 * value loaded across it is not stored (or is removed again when its write was already on the way).
 */
export class LoadMarks {
  private readonly loading = new Map<string, LoadMark>();
  /**
   * Loads of a key still running after a later load of it started (a refresh beside a load, a load gone
   * on in the background past its timeout), by physical key: invalidations still mark them.
   */
  private readonly overlapped = new Map<LoadMark, string>();

  constructor(private readonly flights: SingleFlight) {}

  /** Marks a load of `logicalKey` at `t` as in flight, until `end`. */
  start(
    t: Target,
    logicalKey: string,
    tags: { plain: readonly string[]; versioned: readonly string[] } = { plain: NONE, versioned: NONE },
    flight?: string,
    fence?: Lease,
  ): LoadMark {
    const mark: LoadMark = { invalidated: false, flight, space: keySpace(t.resolved, t.scope), logicalKey, plain: tags.plain, versioned: tags.versioned, fence };
    const running = this.loading.get(t.key);
    if (running !== undefined) this.overlapped.set(running, t.key);
    this.loading.set(t.key, mark);
    return mark;
  }

  /** The load of `mark` is over (a later load of the same key keeps its own mark). */
  end(t: Target, mark: LoadMark): void {
    if (this.loading.get(t.key) === mark) this.loading.delete(t.key);
    else if (this.overlapped.size > 0) this.overlapped.delete(mark);
  }

  /** Marks every load in flight that `matches` invalidated. */
  invalidate(matches: (physicalKey: string, mark: LoadMark) => boolean): void {
    for (const [key, mark] of this.loading) if (matches(key, mark)) this.mark(mark);
    for (const [mark, key] of this.overlapped) if (matches(key, mark)) this.mark(mark);
  }

  private mark(mark: LoadMark): void {
    mark.invalidated = true;
    // A load whose value is being written in the background no longer answers new callers.
    if (mark.flight !== undefined) this.flights.release(mark.flight);
  }
}

/** Store alias + scope prefix: the key space of a scope in one store (in-flight marks match on it). */
export function keySpace(resolved: ResolvedStore, scope: CacheScope): string {
  return `${resolved.alias}\u0000${resolved.keys.scopePrefix(scope)}`;
}
