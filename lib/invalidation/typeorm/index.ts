export { typeOrmSource } from './typeorm.source.js';
export { TypeOrmInvalidationSubscriber } from './typeorm-invalidation.subscriber.js';
