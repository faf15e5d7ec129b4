import { type BeforeApplicationShutdown, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { InvalidEntityChangeError } from '../errors/invalid-entity-change.error.js';
import { InvalidationFailedError } from '../errors/invalidation-failed.error.js';
import { TenantCacheService } from '../service/tenant-cache.service.js';
import { ENTITY_CHANGE_EVENTS, type EntityChange, type EntityValues, entityName, snapshot } from './entity-change.js';
import type { EntityChangePublisher } from './entity-change-source.js';
import { type InvalidationDispatcher, isDispatcherDefinition } from './dispatchers/invalidation-dispatcher.js';
import type { InvalidationJob } from './invalidation-job.js';
import type { CompiledRule } from './invalidation-rule.validator.js';
import { InvalidationRegistry } from './invalidation.registry.js';
import { InvalidationRunner } from './invalidation.runner.js';
import { dispatchFailed } from './invalidation.messages.js';

/** Changes collected for one unit of work, published together when it commits. */
export interface EntityChangeBatch {
  /** Records a change now (its tenant is captured now); nothing is invalidated yet. */
  add(change: EntityChange): void;
  /** Publishes the collected changes (call after your transaction committed). */
  commit(): Promise<void>;
  /** Forgets the collected changes (your transaction rolled back). */
  discard(): void;
  readonly size: number;
}

/**
 * The seam every entity-change source publishes to: the TypeORM subscriber, a Prisma client extension,
 * MikroORM hooks, or your code after a raw SQL update. Matches the change against the rules that
 * follow its entity (events, `onCreate`, `watchFields`, `when`), captures the tenant, and hands one job
 * per rule to the rule's dispatcher.
 *
 * @example
 * await this.db.query('UPDATE product SET price = price * 1.1 WHERE tenant_id = $1', [tenant]);
 * await this.changes.publish({ entity: Product, event: 'update' }); // no row: every mapped entry of the tenant goes
 */
@Injectable()
export class EntityChangeBus implements EntityChangePublisher, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('TenantCache');
  private readonly dispatchers = new Map<string, Promise<InvalidationDispatcher>>();
  private closed = false;

  constructor(
    private readonly registry: InvalidationRegistry,
    private readonly runner: InvalidationRunner,
    private readonly service: TenantCacheService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { sources } = this.registry.options;
    for (const source of sources) this.registry.verifyColumns(source);
    // Dispatchers some rule uses (or that start workers) are created now, so a bad one fails start-up.
    for (const name of this.registry.dispatcherNames) await this.dispatcher(name);
    for (const source of sources) await source.attach(this);
  }

  /** Detaches the sources, then lets every dispatcher finish what it accepted (background drains). */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const source of this.registry.options.sources) await source.detach?.();
    for (const [name, d] of this.dispatchers) {
      try {
        await (await d).close?.();
      } catch (error) {
        this.logger.warn(`Dispatcher "${name}" failed to close: ${(error as Error).message}`);
      }
    }
    await this.runner.idle();
  }

  /**
   * Applies the rules matching these changes. With the inline dispatcher it resolves once the cache is
   * invalidated; failures are logged, or rejected as `InvalidationFailedError` with `onError: 'raise'`.
   */
  async publish(changes: EntityChange | readonly EntityChange[]): Promise<void> {
    const list = (Array.isArray(changes) ? changes : [changes]) as readonly EntityChange[];
    const byDispatcher = new Map<string, InvalidationJob[]>();
    for (const change of list) {
      for (const { rule, job } of this.jobsFor(change)) {
        const jobs = byDispatcher.get(rule.dispatcher) ?? [];
        jobs.push(job);
        byDispatcher.set(rule.dispatcher, jobs);
      }
    }
    let raised: Error | undefined;
    for (const [name, jobs] of byDispatcher) {
      try {
        const dispatcher = await this.dispatcher(name);
        await dispatcher.dispatch(jobs, this.runner);
      } catch (error) {
        if (error instanceof InvalidationFailedError) {
          raised ??= error;
          continue;
        }
        const err = error instanceof Error ? error : new Error(String(error));
        const rules = [...new Set(jobs.map((j) => j.rule))];
        this.logger.error(dispatchFailed(name, rules, err));
        if (this.registry.options.onError === 'raise')
          raised ??= new InvalidationFailedError(rules.join(', '), jobs[0]!.entity, jobs[0]!.tenantId, `dispatcher "${name}" failed: ${err.message}`, err);
      }
    }
    if (raised) throw raised;
  }

  /** The tenant in context now, validated; `undefined` when there is none (or it is not a valid id). */
  currentTenant(): string | undefined {
    try {
      return this.service.currentTenant();
    } catch {
      return undefined;
    }
  }

  /** Starts collecting the changes of one unit of work (e.g. a Prisma `$transaction`). */
  collect(): EntityChangeBatch {
    let pending: EntityChange[] = [];
    return {
      add: (change) => {
        assertChange(change);
        pending.push({ ...change, tenantId: change.tenantId ?? this.currentTenant(), data: snapshot(change.data), previous: snapshot(change.previous) });
      },
      commit: async () => {
        const changes = pending;
        pending = [];
        if (changes.length > 0) await this.publish(changes);
      },
      discard: () => {
        pending = [];
      },
      get size() {
        return pending.length;
      },
    };
  }

  /** The jobs a change gives: one per matching rule, with the tenant resolved. */
  jobsFor(change: EntityChange): { rule: CompiledRule; job: InvalidationJob }[] {
    assertChange(change);
    const entity = entityName(change.entity);
    const data = snapshot(change.data);
    const previous = snapshot(change.previous);
    const out: { rule: CompiledRule; job: InvalidationJob }[] = [];
    for (const rule of this.registry.forEntity(entity)) {
      if (!applies(rule, change, data, previous)) continue;
      const tenantId = this.tenantOf(rule, change, data, previous);
      out.push({
        rule,
        job: {
          rule: rule.name,
          entity,
          event: change.event,
          ...(tenantId === undefined ? {} : { tenantId }),
          ...(data === undefined ? {} : { data }),
          ...(previous === undefined ? {} : { previous }),
        },
      });
    }
    return out;
  }

  /** The dispatcher of a name, created once. */
  private dispatcher(name: string): Promise<InvalidationDispatcher> {
    let found = this.dispatchers.get(name);
    if (!found) {
      const def = this.registry.options.dispatchers[name];
      if (!def) return Promise.reject(new Error(`no dispatcher is named "${name}"`));
      found = (async () => {
        const d = isDispatcherDefinition(def) ? await def.create(name) : def;
        await d.start?.(this.runner);
        return d;
      })();
      this.dispatchers.set(name, found);
    }
    return found;
  }

  /** The row's tenant column wins; then the change's tenant; then the tenant in context now. */
  private tenantOf(rule: CompiledRule, change: EntityChange, data: EntityValues | undefined, previous: EntityValues | undefined): string | undefined {
    if (rule.tenantField) {
      const value = data?.[rule.tenantField] ?? previous?.[rule.tenantField];
      if (value !== undefined && value !== null) return String(value);
    }
    return change.tenantId ?? this.service.currentTenant();
  }
}

function assertChange(change: EntityChange): void {
  if (typeof change !== 'object' || change === null) throw new InvalidEntityChangeError('a change is an object { entity, event, data? }');
  const e = change.entity as unknown;
  if (!(typeof e === 'string' && e.length > 0) && typeof e !== 'function') throw new InvalidEntityChangeError('entity must be the entity class or its name');
  if (!ENTITY_CHANGE_EVENTS.includes(change.event)) {
    throw new InvalidEntityChangeError(`event must be "insert", "update" or "remove", got ${JSON.stringify(change.event)}`);
  }
  for (const k of ['data', 'previous'] as const) {
    if (change[k] !== undefined && (typeof change[k] !== 'object' || change[k] === null)) throw new InvalidEntityChangeError(`${k} must be an object of column values`);
  }
  if (change.changedFields !== undefined && !Array.isArray(change.changedFields)) throw new InvalidEntityChangeError('changedFields must be a list of column names');
  if (change.tenantId !== undefined && (typeof change.tenantId !== 'string' || change.tenantId.length === 0)) {
    throw new InvalidEntityChangeError('tenantId must be a non-empty string');
  }
}

/** Whether a rule acts on a change: its events, `onCreate`, `watchFields` and `when`. */
function applies(rule: CompiledRule, change: EntityChange, data: EntityValues | undefined, previous: EntityValues | undefined): boolean {
  if (!rule.events.has(change.event)) return false;
  if (change.event === 'insert' && !rule.onCreate) return false;
  if (change.event === 'update' && rule.watchFields && change.changedFields !== undefined) {
    if (!rule.watchFields.some((f) => change.changedFields!.includes(f))) return false;
  }
  if (rule.when && data !== undefined) {
    // A row that does not say enough to judge the condition is acted on (safe side).
    if (rule.whenColumns.some((c) => !(c in data))) return true;
    return rule.when(data) || (previous !== undefined && rule.when(previous));
  }
  return true;
}
