import { KeyBuilder } from '../../lib/keys/key-builder.js';
import { MemoryStore } from '../../lib/stores/memory/memory.store.js';
import type { OverQuotaPolicy, TenantQuotaOptions } from '../../lib/stores/quota/tenant-quota.js';

/**
 * The noisy-neighbour workload of issue 16 (shared by test/stores/memory-fair-share.spec.ts and
 * bench/fair-share.bench.ts): a 64 MiB memory store, 10 tenants. Nine quiet tenants read through
 * (`get`, then `set` on a miss) a working set of `QUIET_KEYS` keys each, uniformly at random; one loud
 * tenant writes 50x more unique keys over the same time (each once: it never hits). Physical keys are
 * built by the real `KeyBuilder`, so the store parses them as the module would hand them over.
 */
export const STORE_BYTES = 64 * 1024 * 1024;
export const TENANTS = 10;
export const QUIET_KEYS = 1500;
export const ROUNDS = 10;
export const LOUD_FACTOR = 50;
export const VALUE_BYTES = 4000;

/** One run of the workload. */
export interface FairShareCase {
  name: string;
  /** Give the store `perTenant` (fair share); without it, one shared LRU. */
  perTenant?: TenantQuotaOptions;
  overQuota?: OverQuotaPolicy;
  /** Run the loud tenant (without it: the quiet tenants' solo baseline). */
  loud: boolean;
}

/** What a run measured. */
export interface FairShareResult {
  name: string;
  /** Hit ratio of all quiet tenants together, 0..1. */
  quiet: number;
  /** Lowest hit ratio of one quiet tenant. */
  worstQuiet: number;
  /** Bytes the loud tenant held at the end. */
  loudBytes: number;
  /** Store operations per second over the run. */
  opsPerSecond: number;
}

/** Deterministic PRNG (mulberry32), so every case sees the same key sequence. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs one case on a fresh store; synchronous (the store's `getSync`/`setSync`), so it measures the store alone. */
export function runFairShare(c: FairShareCase): FairShareResult {
  const store = new MemoryStore('fair', { maxEntries: 1_000_000, maxBytes: STORE_BYTES, perTenant: c.perTenant, overQuota: c.overQuota });
  const keys = new KeyBuilder('tc:', store.capabilities);
  const value = Buffer.alloc(VALUE_BYTES, 7);
  const quiet = Array.from({ length: TENANTS - 1 }, (_, i) => ({ kind: 'tenant' as const, tenantId: `quiet-${i}` }));
  const loud = { kind: 'tenant' as const, tenantId: 'loud' };
  const hits = quiet.map(() => 0);
  const random = prng(16);
  const steps = QUIET_KEYS * ROUNDS;
  // Loud writes per step, so that over the run it writes LOUD_FACTOR x QUIET_KEYS unique keys.
  const loudPerStep = (LOUD_FACTOR * QUIET_KEYS) / steps;
  let loudDebt = 0;
  let loudNext = 0;
  let ops = 0;
  const start = performance.now();
  for (let step = 0; step < steps; step++) {
    for (let t = 0; t < quiet.length; t++) {
      const key = keys.entryKey(quiet[t]!, 1, `item:${Math.floor(random() * QUIET_KEYS)}`);
      ops++;
      if (store.getSync(key) !== undefined) hits[t]!++;
      else {
        store.setSync(key, value);
        ops++;
      }
    }
    if (!c.loud) continue;
    for (loudDebt += loudPerStep; loudDebt >= 1; loudDebt--) {
      const key = keys.entryKey(loud, 1, `unique:${loudNext++}`);
      if (store.getSync(key) === undefined) store.setSync(key, value);
      ops += 2;
    }
  }
  const seconds = (performance.now() - start) / 1000;
  const ratios = hits.map((h) => h / steps);
  const loudBytes = [...store.tenantUsage().values()].find((u) => u.tenant === 'loud')?.bytes ?? Number.NaN;
  return {
    name: c.name,
    quiet: ratios.reduce((a, b) => a + b, 0) / ratios.length,
    worstQuiet: Math.min(...ratios),
    loudBytes,
    opsPerSecond: ops / seconds,
  };
}

/** The cases of the table: solo baseline, shared LRU with the loud tenant, and fair share (a bound per tenant; equal shares). */
export const FAIR_SHARE_CASES: readonly FairShareCase[] = [
  { name: 'solo baseline (no loud tenant)', loud: false },
  { name: 'shared LRU (no perTenant)', loud: true },
  { name: 'perTenant.maxBytes = 64 MiB / 10', loud: true, perTenant: { maxBytes: STORE_BYTES / TENANTS } },
  { name: "perTenant.maxBytes, overQuota 'reject'", loud: true, perTenant: { maxBytes: STORE_BYTES / TENANTS }, overQuota: 'reject' },
  { name: 'perTenant: {} (equal shares, no bound)', loud: true, perTenant: {} },
];
