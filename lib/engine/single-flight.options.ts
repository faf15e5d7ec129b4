/** Where concurrent misses of one key share one load. See docs/decorators.md, "Stampedes". */
export interface SingleFlightOptions {
  /**
   * `process` (default): one load per key per process. `cluster`: one load per key across every process
   * sharing the store (Redis, Redis Cluster): the others wait for its value. Needs a store with leases.
   */
  scope?: 'process' | 'cluster';
  /** How long a lease lasts without renewal (ms): a crashed holder's load is taken over after at most this long. Default 5000. */
  leaseTtl?: number;
  /** Longest a call waits for another instance's load (ms); then it follows `onWaitTimeout`. Default 10000. */
  waitTimeout?: number;
  /** After `waitTimeout`: `load` the value itself, uncoordinated (default), or `throw` a `SingleFlightTimeoutError`. */
  onWaitTimeout?: 'load' | 'throw';
}

/** The `singleFlight` of a call or a decorator: a scope, or options over the module's. */
export type SingleFlightOption = 'process' | 'cluster' | SingleFlightOptions;

/** `SingleFlightOptions` with every default applied. */
export interface SingleFlightSettings {
  readonly scope: 'process' | 'cluster';
  readonly leaseTtl: number;
  readonly waitTimeout: number;
  readonly onWaitTimeout: 'load' | 'throw';
}

export const DEFAULT_SINGLE_FLIGHT: SingleFlightSettings = Object.freeze({ scope: 'process', leaseTtl: 5000, waitTimeout: 10_000, onWaitTimeout: 'load' });

/** The problems of a `singleFlight` option (empty when valid), as `[option, problem, fix]`, for the start-up and call checks. */
export function singleFlightProblems(value: unknown, name = 'singleFlight'): [string, string, string][] {
  if (value === undefined || value === 'process' || value === 'cluster') return [];
  if (typeof value !== 'object' || value === null) return [[name, `is ${JSON.stringify(value)}`, `Use 'process', 'cluster' or { scope, leaseTtl, waitTimeout }.`]];
  const problems: [string, string, string][] = [];
  const o = value as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!['scope', 'leaseTtl', 'waitTimeout', 'onWaitTimeout'].includes(key))
      problems.push([`${name}.${key}`, 'is not an option', 'Use scope, leaseTtl, waitTimeout or onWaitTimeout.']);
  }
  if (o.scope !== undefined && o.scope !== 'process' && o.scope !== 'cluster')
    problems.push([`${name}.scope`, `is ${JSON.stringify(o.scope)}`, `Use 'process' or 'cluster'.`]);
  for (const ms of ['leaseTtl', 'waitTimeout'] as const) {
    const v = o[ms];
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= 10))
      problems.push([`${name}.${ms}`, `is ${String(v)}`, 'Give a finite number of milliseconds >= 10.']);
  }
  if (o.onWaitTimeout !== undefined && o.onWaitTimeout !== 'load' && o.onWaitTimeout !== 'throw') {
    problems.push([`${name}.onWaitTimeout`, `is ${JSON.stringify(o.onWaitTimeout)}`, `Use 'load' or 'throw'.`]);
  }
  return problems;
}

/** The settings of `option` over `base`. */
export function singleFlightSettings(option: SingleFlightOption | undefined, base: SingleFlightSettings = DEFAULT_SINGLE_FLIGHT): SingleFlightSettings {
  if (option === undefined) return base;
  if (typeof option === 'string') return option === base.scope ? base : { ...base, scope: option };
  return {
    scope: option.scope ?? base.scope,
    leaseTtl: option.leaseTtl ?? base.leaseTtl,
    waitTimeout: option.waitTimeout ?? base.waitTimeout,
    onWaitTimeout: option.onWaitTimeout ?? base.onWaitTimeout,
  };
}

/** The lease of a load this process leads: the write of its value is fenced on it (`held`). */
export interface Lease {
  /** Whether this load still holds its lease: false once an invalidation on any instance revoked it (or it expired). */
  held(): Promise<boolean>;
}
