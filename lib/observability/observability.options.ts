import { type InvalidOption } from '../errors/invalid-options.error.js';
import { optionKeys, unknownKeys } from '../tenant-cache.option-keys.js';

/**
 * How metrics label tenants: `none` (no tenant label), `top` (the `topTenants` busiest tenants of this
 * process get their own series, every other tenant shares `tenant="other"`), or a function mapping a
 * tenant to a label of your own (a plan, a tier): keep its range small.
 */
export type TenantLabel = 'none' | 'top' | ((tenantId: string) => string);

/**
 * The `metrics` option of `TenantCacheModule.forRoot`. Metrics go to the OpenTelemetry meter provider
 * registered before the module starts (nothing is loaded or measured without one); `false` turns them off.
 *
 * @example
 * TenantCacheModule.forRoot({ metrics: { tenantLabel: 'top', topTenants: 20 } })
 */
export interface MetricsOptions {
  /** Default `none`. */
  tenantLabel?: TenantLabel;
  /**
   * Tenants with series (and in-process stats) of their own: the busiest, each given its slot when the
   * counters are read (a metric collection, `stats()`) if it made at least 1/(4 × topTenants) of the other
   * tenants' requests since the last read, and keeping it. The others count as `other`. Default 50.
   */
  topTenants?: number;
  /** Record the logical key on spans and diagnostics_channel messages (keys may hold personal data). Default false. */
  recordKeys?: boolean;
  /**
   * Time one remote store round trip in N for `tenant_cache.store.duration` (counted per store member: its
   * 1st call, then its (N+1)th, ...); 1 times every call. Round trips are always counted exactly in
   * `tenant_cache.store.operations`. Default 16.
   */
  storeDurationSampling?: number;
}

/** `MetricsOptions` with defaults; `enabled` false when the user wrote `metrics: false`. */
export interface NormalizedMetricsOptions {
  readonly enabled: boolean;
  readonly tenantLabel: TenantLabel;
  readonly topTenants: number;
  readonly recordKeys: boolean;
  readonly storeDurationSampling: number;
}

/** The slice of the module options that lib/observability reads. */
export interface ObservabilityOptions {
  readonly metrics?: NormalizedMetricsOptions;
}

/** Round trips timed per remote store member by default: one in 16 (see `MetricsOptions.storeDurationSampling`). */
export const DEFAULT_STORE_DURATION_SAMPLING = 16;

export const DEFAULT_METRICS: NormalizedMetricsOptions = Object.freeze({
  enabled: true,
  tenantLabel: 'none',
  topTenants: 50,
  recordKeys: false,
  storeDurationSampling: DEFAULT_STORE_DURATION_SAMPLING,
});

const METRICS_KEYS = optionKeys<MetricsOptions>({ tenantLabel: true, topTenants: true, recordKeys: true, storeDurationSampling: true });

/** Validates the `metrics` option; problems are named `metrics.<key>`. */
export function normalizeMetricsOptions(metrics: MetricsOptions | false | undefined): { value: NormalizedMetricsOptions; problems: InvalidOption[] } {
  if (metrics === undefined) return { value: DEFAULT_METRICS, problems: [] };
  if (metrics === false) return { value: { ...DEFAULT_METRICS, enabled: false }, problems: [] };
  if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) {
    return {
      value: DEFAULT_METRICS,
      problems: [
        {
          option: 'metrics',
          problem: `is ${String(metrics)}`,
          fix: "Write metrics: { tenantLabel: 'none' | 'top' | (tenantId) => label }, metrics: false, or leave it out.",
        },
      ],
    };
  }
  const problems = unknownKeys(metrics, METRICS_KEYS, 'metrics.');
  const tenantLabel = metrics.tenantLabel ?? 'none';
  if (tenantLabel !== 'none' && tenantLabel !== 'top' && typeof tenantLabel !== 'function') {
    problems.push({ option: 'metrics.tenantLabel', problem: `is ${JSON.stringify(tenantLabel)}`, fix: "Use 'none', 'top' or a function (tenantId) => label." });
  }
  const topTenants = metrics.topTenants ?? 50;
  if (typeof topTenants !== 'number' || !Number.isInteger(topTenants) || topTenants < 1 || topTenants > 10_000) {
    problems.push({ option: 'metrics.topTenants', problem: `is ${String(topTenants)}`, fix: 'Give an integer from 1 to 10000 (default 50).' });
  }
  if (metrics.recordKeys !== undefined && typeof metrics.recordKeys !== 'boolean') {
    problems.push({ option: 'metrics.recordKeys', problem: `is ${String(metrics.recordKeys)}`, fix: 'Write recordKeys: true to record keys on spans, or leave it out.' });
  }
  const storeDurationSampling = metrics.storeDurationSampling ?? DEFAULT_STORE_DURATION_SAMPLING;
  if (typeof storeDurationSampling !== 'number' || !Number.isSafeInteger(storeDurationSampling) || storeDurationSampling < 1) {
    problems.push({
      option: 'metrics.storeDurationSampling',
      problem: `is ${String(storeDurationSampling)}`,
      fix: `Give an integer >= 1: time one store round trip in N (1 = every one; default ${DEFAULT_STORE_DURATION_SAMPLING}).`,
    });
  }
  return { value: { enabled: true, tenantLabel, topTenants, recordKeys: metrics.recordKeys ?? false, storeDurationSampling }, problems };
}
