import { Logger } from '@nestjs/common';
import type {
  EntityMetadata,
  EntitySubscriberInterface,
  InsertEvent,
  ObjectLiteral,
  QueryRunner,
  RecoverEvent,
  RemoveEvent,
  SoftRemoveEvent,
  TransactionCommitEvent,
  TransactionRollbackEvent,
  UpdateEvent,
} from 'typeorm';
import { type EntityChange, type EntityChangeEvent, snapshot } from '../entity-change.js';
import type { EntityChangePublisher } from '../entity-change-source.js';
import { publishFailed } from '../invalidation.messages.js';

type Frames = EntityChange[][];

/**
 * A TypeORM entity subscriber that publishes entity changes to the `EntityChangeBus`. Changes made in a
 * transaction are collected per query runner and nesting level (savepoints), and published only once
 * the outermost transaction commits; a rollback (of the transaction or of a savepoint) drops its
 * changes. Changes outside a transaction are published at once. Rows and tenants are captured when
 * the event fires (TypeORM clears the id of a removed entity afterwards). Failures are logged: the
 * committed transaction stands.
 *
 * Registered for you by `typeOrmSource(dataSource)`; usable alone:
 * `dataSource.subscribers.push(new TypeOrmInvalidationSubscriber(app.get(EntityChangeBus)))`.
 */
export class TypeOrmInvalidationSubscriber implements EntitySubscriberInterface<ObjectLiteral> {
  private readonly logger = new Logger('TenantCache');
  private readonly pending = new WeakMap<QueryRunner, Frames>();
  /** Rows of entities being removed, captured before TypeORM clears their ids. */
  private readonly removing = new WeakMap<object, Record<string, unknown>>();

  constructor(private readonly bus: EntityChangePublisher) {}

  afterInsert(event: InsertEvent<ObjectLiteral>): Promise<void> {
    return this.record(event.queryRunner, event.metadata, 'insert', snapshot(event.entity));
  }

  afterUpdate(event: UpdateEvent<ObjectLiteral>): Promise<void> {
    const previous = snapshot(event.databaseEntity);
    const data = event.entity ? { ...previous, ...snapshot(event.entity) } : previous;
    // NOTE: a query-builder update reports no columns: unknown, so rules with watchFields act.
    const changed = event.updatedColumns.length > 0 ? event.updatedColumns.map((c) => c.propertyName) : undefined;
    return this.record(event.queryRunner, event.metadata, 'update', data, previous, changed);
  }

  beforeRemove(event: RemoveEvent<ObjectLiteral>): void {
    if (event.entity) this.removing.set(event.entity, { ...snapshot(event.databaseEntity), ...snapshot(event.entity) });
  }

  afterRemove(event: RemoveEvent<ObjectLiteral>): Promise<void> {
    return this.record(event.queryRunner, event.metadata, 'remove', this.removedRow(event));
  }

  beforeSoftRemove(event: SoftRemoveEvent<ObjectLiteral>): void {
    this.beforeRemove(event);
  }

  /** A soft-removed row disappears from queries: a remove, for rules. */
  afterSoftRemove(event: SoftRemoveEvent<ObjectLiteral>): Promise<void> {
    return this.record(event.queryRunner, event.metadata, 'remove', this.removedRow(event));
  }

  /** A recovered row reappears: an insert, for rules. */
  afterRecover(event: RecoverEvent<ObjectLiteral>): Promise<void> {
    return this.record(event.queryRunner, event.metadata, 'insert', snapshot(event.entity));
  }

  async afterTransactionCommit(event: TransactionCommitEvent): Promise<void> {
    const runner = event.queryRunner;
    const frames = this.pending.get(runner);
    if (!frames) return;
    if (!runner.isTransactionActive) {
      this.pending.delete(runner);
      await this.publish(frames.flat());
      return;
    }
    // A savepoint was released: its changes now belong to the enclosing level.
    const depth = depthOf(runner);
    const inner = frames.splice(depth).flat();
    (frames[depth - 1] ??= []).push(...inner);
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    const runner = event.queryRunner;
    if (!runner.isTransactionActive) this.pending.delete(runner);
    else this.pending.get(runner)?.splice(depthOf(runner));
  }

  private removedRow(event: RemoveEvent<ObjectLiteral>): Record<string, unknown> | undefined {
    const captured = event.entity ? this.removing.get(event.entity) : undefined;
    const row = { ...snapshot(event.databaseEntity), ...captured };
    // The id TypeORM reports separately (the row's own id is cleared by now).
    const id: unknown = event.entityId;
    const primary = event.metadata.primaryColumns;
    if (id !== undefined && id !== null) {
      if (typeof id === 'object' && !Array.isArray(id)) Object.assign(row, { ...(id as object), ...row });
      else if (primary.length === 1 && row[primary[0]!.propertyName] === undefined) row[primary[0]!.propertyName] = id;
    }
    return Object.keys(row).length > 0 ? row : undefined;
  }

  private async record(
    runner: QueryRunner | undefined,
    metadata: EntityMetadata,
    event: EntityChangeEvent,
    data: Record<string, unknown> | undefined,
    previous?: Record<string, unknown>,
    changedFields?: string[],
  ): Promise<void> {
    const change: EntityChange = {
      entity: typeof metadata.target === 'function' ? metadata.target.name : metadata.name,
      event,
      ...(data ? { data } : {}),
      ...(previous ? { previous } : {}),
      ...(changedFields ? { changedFields } : {}),
      tenantId: this.bus.currentTenant(),
    };
    if (runner?.isTransactionActive) {
      const frames = this.pending.get(runner) ?? [];
      this.pending.set(runner, frames);
      (frames[depthOf(runner) - 1] ??= []).push(change);
      return;
    }
    await this.publish([change]);
  }

  private async publish(changes: EntityChange[]): Promise<void> {
    if (changes.length === 0) return;
    try {
      await this.bus.publish(changes);
    } catch (error) {
      this.logger.error(publishFailed('TypeORM', error instanceof Error ? error : new Error(String(error))));
    }
  }
}

/** Nesting level of the runner's transaction (1 = outermost; savepoints add one each). */
function depthOf(runner: QueryRunner): number {
  const depth = (runner as unknown as { transactionDepth?: number }).transactionDepth;
  return typeof depth === 'number' && depth > 0 ? depth : 1;
}
