import { Logger } from '@nestjs/common';
import { BatchOps } from './batch-ops.js';
import { ClusterFlight } from './cluster-flight.js';
import type { EngineOptions } from './engine.options.js';
import { EngineTelemetry } from './engine-telemetry.js';
import { EntryReader } from './entry-reader.js';
import { EntryWriter } from './entry-writer.js';
import { InvalidationHooks } from './invalidation-hooks.js';
import { Invalidator } from './invalidator.js';
import { KeyScan } from './key-scan.js';
import { LoadMarks } from './load-marks.js';
import { ReadThrough } from './read-through.js';
import { ScopePurge } from './scope-purge.js';
import { SingleFlight } from './single-flight.js';
import type { StoreRegistry } from './store-registry.js';
import { StoreFailures } from './store-failures.js';
import { TagIndex } from './tag-index.js';
import { TagStamps } from './tag-stamps.js';
import { TargetResolver } from './target-resolver.js';
import type { TenantCacheEvents } from './tenant-cache.events.js';
import { VersionCounters } from './version-counters.js';
import { MemoizedIterables } from './memoized-iterables.js';

/** The parts of lib/engine that `CacheEngine` delegates to, one idea each. */
export interface EngineParts {
  /** Told of every invalidation after the store was updated (CDN purges, the cross-instance bus). */
  readonly hooks: InvalidationHooks;
  readonly tagIndex: TagIndex;
  readonly telemetry: EngineTelemetry;
  readonly resolver: TargetResolver;
  readonly reader: EntryReader;
  readonly writer: EntryWriter;
  readonly readThrough: ReadThrough;
  readonly iterables: MemoizedIterables;
  readonly batch: BatchOps;
  readonly scan: KeyScan;
  readonly invalidator: Invalidator;
  readonly purger: ScopePurge;
}

/**
 * Builds the engine's parts and connects them once, at start-up: one failure policy, one set of
 * single flights and load marks, one version-counter cache, shared by every operation; the events and
 * hooks fed to the telemetry; the cluster flight fencing writes when it can.
 */
export function wireEngine(options: EngineOptions, registry: StoreRegistry, events: TenantCacheEvents): EngineParts {
  const logger = new Logger('TenantCache');
  const hooks = new InvalidationHooks((error, event) => logger.warn(`An invalidation listener failed on ${event.kind} (store "${event.store}"): ${error.message}`));
  const tagIndex = new TagIndex(options.tagIndex ?? 'store', (message) => logger.warn(message));
  const counters = new VersionCounters(options.versionCacheTtl);
  registry.onQuotaExceeded = (event) => events.emit('quota:exceeded', event);
  const telemetry = new EngineTelemetry(options, registry, events, hooks);
  const failures = new StoreFailures(events, registry.outages, options.onWriteError);
  const flights = new SingleFlight();
  const marks = new LoadMarks(flights);
  const stamps = new TagStamps(counters, failures, tagIndex.mode);
  const cluster = new ClusterFlight(options.singleFlight, (message) => logger.warn(message));
  const fence = cluster.fencing ? cluster : undefined;
  const resolver = new TargetResolver(registry, counters, failures, options.defaultTtl);
  const reader = new EntryReader(resolver, failures, stamps, events, logger, telemetry.stats);
  const batch = new BatchOps(resolver, reader, failures, marks, hooks, telemetry.stats, fence);
  const scan = new KeyScan(resolver, failures, marks, hooks, fence);
  return {
    hooks,
    tagIndex,
    telemetry,
    resolver,
    reader,
    writer: new EntryWriter(resolver, failures, marks, hooks, tagIndex, stamps, fence),
    readThrough: new ReadThrough(resolver, reader, failures, marks, flights, tagIndex, stamps, logger, events, options, telemetry.stats, cluster),
    iterables: new MemoizedIterables(resolver, reader, failures, marks, logger),
    batch,
    scan,
    invalidator: new Invalidator(resolver, failures, marks, hooks, tagIndex, scan, batch, stamps),
    purger: new ScopePurge(resolver, marks, hooks, failures),
  };
}
