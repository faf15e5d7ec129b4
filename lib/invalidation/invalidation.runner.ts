import { Injectable, Logger } from '@nestjs/common';
import { TenantContext } from '../context/tenant-context.js';
import { InvalidationFailedError } from '../errors/invalidation-failed.error.js';
import { StoreUnavailableError } from '../errors/store-unavailable.error.js';
import { canonicalEncode } from '../keys/canonical-encoding.js';
import { type CacheScope, SHARED_SCOPE } from '../keys/key-builder.js';
import { CacheEngine } from '../engine/cache-engine.js';
import { type TagInput, resolveTags, versioned } from '../engine/tags.js';
import { TenantCacheService } from '../service/tenant-cache.service.js';
import type { EntityValues } from './entity-change.js';
import type { InvalidationJobRunner } from './dispatchers/invalidation-dispatcher.js';
import type { InvalidationJob } from './invalidation-job.js';
import type { CompiledRule } from './invalidation-rule.validator.js';
import { InvalidationRegistry } from './invalidation.registry.js';
import { invalidationFailed, refreshFailed } from './invalidation.messages.js';

/** One cache operation a batch performs; operations with the same `id` run once. */
interface Operation {
  id: string;
  /** Operations on a method's entries, dropped when the batch also drops every entry of that method. */
  group?: string;
  job: InvalidationJob;
  rule: CompiledRule;
  run: () => Promise<void>;
}

/**
 * Applies invalidation jobs in this process: works out the entries, partitions and tags each rule
 * addresses for the row, deduplicates them across the batch, and runs them inside the job's tenant.
 */
@Injectable()
export class InvalidationRunner implements InvalidationJobRunner {
  private readonly logger = new Logger('TenantCache');
  private readonly recomputing = new Set<Promise<void>>();

  constructor(
    private readonly registry: InvalidationRegistry,
    private readonly engine: CacheEngine,
    private readonly service: TenantCacheService,
  ) {}

  async run(jobs: readonly InvalidationJob[]): Promise<InvalidationFailedError[]> {
    const failures: InvalidationFailedError[] = [];
    const operations = new Map<string, Operation>();
    const wiped = new Set<string>();
    for (const job of jobs) {
      try {
        for (const op of this.plan(job)) {
          if (operations.has(op.id)) continue;
          operations.set(op.id, op);
          if (op.id.endsWith('\u0000all')) wiped.add(op.group!);
        }
      } catch (error) {
        failures.push(failure(job, error));
      }
    }
    for (const op of operations.values()) {
      if (op.group && wiped.has(op.group) && !op.id.endsWith('\u0000all')) continue;
      try {
        await (op.job.tenantId === undefined ? op.run() : TenantContext.run(op.job.tenantId, op.run));
      } catch (error) {
        failures.push(failure(op.job, error));
      }
    }
    return failures;
  }

  settle(failures: readonly InvalidationFailedError[], mayRaise: boolean): void {
    if (failures.length === 0) return;
    if (mayRaise && this.registry.options.onError === 'raise') throw failures[0]!;
    this.report(failures);
  }

  report(failures: readonly InvalidationFailedError[], context?: string): void {
    for (const f of failures) {
      // NOTE: a store that is down fails every invalidation: rate-limited by the outage log, not one line each.
      if (f.cause instanceof StoreUnavailableError) this.engine.registry.outages.invalidationFailed(f.cause.store ?? 'unknown', f.rule, f.tenant, f.cause);
      else this.logger.error(invalidationFailed(f.message, context));
    }
  }

  /** The operations one job asks for. Throws (a failure of this job) on a bad row or a missing tenant. */
  private plan(job: InvalidationJob): Operation[] {
    const rule = this.registry.get(job.rule);
    if (!rule)
      throw new Error(
        `no rule has this name in this application (rules: ${
          this.registry
            .all()
            .map((r) => r.name)
            .join(', ') || 'none'
        })`,
      );
    const tenantId = job.tenantId;
    if (rule.scope === 'tenant' && tenantId === undefined && (rule.mode !== 'none' || rule.tags.length > 0)) {
      throw new Error(
        `the change has no tenant: publish it inside TenantContext.run(tenantId, ...) or give the rule a tenantField${rule.method ? ` (${rule.method.name} is cached per tenant)` : ''}`,
      );
    }
    // Validates the tenant id (length, pattern) as every cache operation does.
    const cache = tenantId === undefined ? this.service.shared() : this.service.forTenant(tenantId);
    const scope: CacheScope = rule.scope === 'shared' || tenantId === undefined ? SHARED_SCOPE : { kind: 'tenant', tenantId };
    const rows = distinctRows(job);
    const ops: Operation[] = [];
    const base = `${rule.name}\u0000${tenantId ?? ''}\u0000`;
    const method = rule.method;
    const group = method ? `${method.name}\u0000${tenantId ?? ''}` : undefined;
    const push = (suffix: string, run: () => Promise<unknown>) =>
      // NOTE: only method operations join the method's group: a wipe of the method (`all`) must not drop tag operations.
      ops.push({
        id: (group && suffix.startsWith('m') ? group + '\u0000' : base) + suffix,
        group: suffix.startsWith('m') ? group : undefined,
        job,
        rule,
        run: async () => void (await run()),
      });
    const all = () => push('m\u0000all', () => method!.invalidateAll(scope));
    if (method && rule.mode === 'all') all();
    for (const [i, row] of rows.entries()) {
      if (method && rule.mode === 'entry') {
        const args = complete(rule, row) ? argsOf(rule, row) : undefined;
        if (!args) {
          // NOTE: the row lacks a mapped value (e.g. repository.update(criteria, patch)): which entry
          // changed is unknown, so every entry of the method goes.
          all();
          continue;
        }
        const { key } = method.address(args, scope);
        const refresh = rule.action === 'refresh' && i === 0 && job.event !== 'remove';
        // NOTE: one id per entry whatever the action: the row after the change (first) decides.
        push(`m\u0000e\u0000${key}`, refresh ? () => this.refresh(rule, args, scope) : () => method.invalidate(args, scope));
      } else if (method && rule.mode === 'partition') {
        if (!complete(rule, row)) {
          all();
          continue;
        }
        const values = Object.fromEntries(rule.fields.map(([f, c]) => [f, row[c]]));
        push(`m\u0000p\u0000${canonicalEncode(values)}`, () => method.invalidatePartition(values, scope));
      }
      if (rule.tags.length > 0) {
        const tags = resolveTags(rule.tags as never, [row] as never, `rule "${rule.name}"`);
        // A plain name the application declares versioned (a tag function's result) moves its version on.
        for (const t of tags.plain) push(`t\u0000p\u0000${t}`, () => this.engine.invalidateTag(scope, this.engine.methods.tags.resolve(t), rule.store));
        for (const t of tags.versioned) push(`t\u0000v\u0000${t}`, () => this.engine.invalidateTag(scope, versioned(t) as TagInput, rule.store));
      }
    }
    if (rule.invalidate) {
      const invalidate = rule.invalidate;
      ops.push({
        id: `${base}c\u0000${ops.length}\u0000${Math.random()}`,
        job,
        rule,
        run: async () => invalidate({ rule: rule.name, entity: job.entity, event: job.event, data: job.data, previous: job.previous, tenantId, cache }),
      });
    }
    return ops;
  }

  /** Resolves once every recompute started by `refresh` rules is done (shutdown drains them). */
  async idle(): Promise<void> {
    while (this.recomputing.size > 0) await Promise.allSettled([...this.recomputing]);
  }

  /**
   * Deletes the entry now, then recomputes it in the background (the next reader hits). Not awaited:
   * an ORM calls this while still holding the committing connection, and a recompute needing another
   * connection from a busy pool must not wait on it. A failed recompute leaves the entry deleted.
   */
  private async refresh(rule: CompiledRule, args: unknown[], scope: CacheScope): Promise<void> {
    const method = rule.method!;
    await method.invalidate(args, scope);
    const recompute = method.refresh(args, scope).then(
      () => undefined,
      (error: unknown) => this.logger.warn(refreshFailed(rule.name, method.name, error instanceof Error ? error : new Error(String(error)))),
    );
    this.recomputing.add(recompute);
    void recompute.finally(() => this.recomputing.delete(recompute));
  }
}

/** The row, and the previous row when it differs in a column the rule reads. */
function distinctRows(job: InvalidationJob): EntityValues[] {
  const rows: EntityValues[] = [job.data ?? {}];
  if (job.previous && canonical(job.previous) !== canonical(job.data ?? {})) rows.push(job.previous);
  return rows;
}

function canonical(values: EntityValues): string {
  try {
    return canonicalEncode(values);
  } catch {
    return JSON.stringify(Object.keys(values));
  }
}

/** Whether the row holds every mapped column (args-based rules decide for themselves). */
function complete(rule: CompiledRule, row: EntityValues): boolean {
  return rule.fields.every(([, c]) => row[c] !== undefined);
}

function argsOf(rule: CompiledRule, row: EntityValues): unknown[] | undefined {
  try {
    return rule.argsOf!(row);
  } catch {
    return undefined;
  }
}

function failure(job: InvalidationJob, error: unknown): InvalidationFailedError {
  if (error instanceof InvalidationFailedError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new InvalidationFailedError(job.rule, job.entity, job.tenantId, message, error);
}
