import type { EntityChange, EntityTarget } from './entity-change.js';

/** What a source publishes to (the `EntityChangeBus`). */
export interface EntityChangePublisher {
  /** Applies the rules matching these changes through their dispatchers. */
  publish(changes: EntityChange | readonly EntityChange[]): Promise<void>;
  /** The tenant in context now (TenantContext, or the nestjs-cls store), for sources that capture it at change time. */
  currentTenant(): string | undefined;
}

/**
 * Something that sees entity changes and publishes them: an ORM integration (`typeOrmSource(dataSource)`),
 * or your own. Attached at application start-up, detached on shutdown.
 */
export interface EntityChangeSource {
  /** Shown in logs. */
  readonly name: string;
  attach(bus: EntityChangePublisher): void | Promise<void>;
  detach?(): void | Promise<void>;
  /**
   * The property names of an entity, so rules naming a column it lacks fail start-up; `undefined` when
   * the source does not know the entity.
   */
  columnsOf?(entity: EntityTarget): readonly string[] | undefined;
}
