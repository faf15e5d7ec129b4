import type { DataSource } from 'typeorm';
import type { EntityChangeSource } from '../entity-change-source.js';
import { TypeOrmInvalidationSubscriber } from './typeorm-invalidation.subscriber.js';

/**
 * Entity changes of a TypeORM `DataSource`, acted on after commit. Registers a subscriber on the
 * DataSource at start-up (removed on shutdown), and checks at start-up that every column a rule names
 * exists on the entity.
 *
 * @example
 * TenantCacheModule.forRootAsync({
 *   inject: [DataSource],
 *   useFactory: (dataSource: DataSource) => ({ invalidation: { sources: [typeOrmSource(dataSource)] } }),
 * })
 */
export function typeOrmSource(dataSource: DataSource): EntityChangeSource {
  if (!dataSource || !Array.isArray((dataSource as { subscribers?: unknown }).subscribers)) {
    throw new TypeError('typeOrmSource() takes a TypeORM DataSource.');
  }
  let subscriber: TypeOrmInvalidationSubscriber | undefined;
  return {
    name: 'TypeORM',
    attach(bus) {
      subscriber = new TypeOrmInvalidationSubscriber(bus);
      dataSource.subscribers.push(subscriber);
    },
    detach() {
      const at = subscriber ? dataSource.subscribers.indexOf(subscriber) : -1;
      if (at >= 0) dataSource.subscribers.splice(at, 1);
      subscriber = undefined;
    },
    columnsOf(entity) {
      if (!dataSource.isInitialized) return undefined;
      const match = dataSource.entityMetadatas.find((m) => (typeof entity === 'string' ? m.name === entity || m.targetName === entity : m.target === entity));
      return match ? [...match.columns.map((c) => c.propertyPath), ...match.relations.map((r) => r.propertyPath)] : undefined;
    },
  };
}
