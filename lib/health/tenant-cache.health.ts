import { Injectable } from '@nestjs/common';
import { type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { CacheEngine } from '../engine/cache-engine.js';

/** Options of `TenantCacheHealthIndicator.isHealthy`. */
export interface TenantCacheHealthOptions {
  /** Store aliases to probe. Default: every configured store. */
  stores?: readonly string[];
  /**
   * Longest wait for one store's answer, ms. Default 5000. Redis stores answer within their own
   * `commandTimeout` (a frozen server is down after it); this bounds stores without one.
   */
  timeout?: number;
}

/** What the indicator reports of one store. */
export interface StoreHealth {
  status: 'up' | 'down';
  /** `memory`, `redis`, or the store's class name. */
  tier: string;
  /** The circuit breaker of a remote store. */
  breaker?: 'closed' | 'open' | 'half-open';
  /** How long the probe took, ms. */
  responseTimeMs: number;
  /** Why the probe failed (down only). */
  error?: string;
  /** The store's last failure seen by the cache (any operation), with its ISO time. */
  lastError?: { message: string; at: string };
}

/**
 * A `@nestjs/terminus` health indicator of the cache's stores (entry point `nestjs-tenant-cache/health`):
 * each store is probed with one read of a key no tenant can write; the result is `up` when every store
 * answered, else `down`, with each store's breaker state, last error and response time.
 *
 * @example
 * @Controller('health')
 * class HealthController {
 *   constructor(private readonly health: HealthCheckService, private readonly cache: TenantCacheHealthIndicator) {}
 *   @Get() @HealthCheck() check() { return this.health.check([() => this.cache.isHealthy('cache')]); }
 * }
 * // providers: [TenantCacheHealthIndicator], imports: [TerminusModule, TenantCacheModule.forRoot(...)]
 */
@Injectable()
export class TenantCacheHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly engine: CacheEngine,
  ) {}

  /** Probes the stores (all of them, or `options.stores`) at once. */
  async isHealthy<const Key extends string = 'tenantCache'>(
    key: Key = 'tenantCache' as Key,
    options: TenantCacheHealthOptions = {},
  ): Promise<HealthIndicatorResult<Key, 'up' | 'down', { stores: Record<string, StoreHealth> }>> {
    const session = this.indicators.check(key);
    const aliases = options.stores ?? this.engine.registry.aliases;
    const timeout = options.timeout ?? 5000;
    const probed = await Promise.all(aliases.map(async (alias) => [alias, await this.probe(alias, timeout)] as const));
    const stores: Record<string, StoreHealth> = Object.fromEntries(probed);
    return probed.every(([, h]) => h.status === 'up') ? session.up({ stores }) : session.down({ stores });
  }

  private async probe(alias: string, timeout: number): Promise<StoreHealth> {
    const started = performance.now();
    let tier = 'unknown';
    let breaker: StoreHealth['breaker'];
    let error: string | undefined;
    try {
      const resolved = await within(this.engine.registry.get(alias), timeout, alias);
      const info = this.engine.storeInfo(alias);
      tier = info?.tier ?? tier;
      // NOTE: the prefix ends in a mark no key layout writes after it: a read that never meets an entry.
      await within(resolved.store.has(`${this.engine.options.keyPrefix}\u0000health`), timeout, alias);
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    const info = this.engine.storeInfo(alias);
    if (info !== undefined) {
      tier = info.tier;
      breaker = info.breaker;
    }
    const last = this.engine.stats.lastErrors.get(alias);
    const health: StoreHealth = { status: error === undefined && breaker !== 'open' ? 'up' : 'down', tier, responseTimeMs: Math.round(performance.now() - started) };
    if (breaker !== undefined) health.breaker = breaker;
    if (error !== undefined) health.error = error;
    if (last !== undefined) health.lastError = { message: last.message, at: new Date(last.at).toISOString() };
    return health;
  }
}

function within<T>(promise: Promise<T>, ms: number, alias: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`store "${alias}" did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
