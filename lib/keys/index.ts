export {
  KeyConstructor,
  type KeyField,
  type KeyFieldOptions,
  type KeyContext,
  type KeyConstructorType,
  type KeyFunction,
  type PartitionValues,
} from './key-constructor.js';
export type { ArgPath, ArgPathValue, PropertyPath, ArgIndex } from './key-constructor.types.js';
export { canonicalEncode, type CanonicalOptions } from './canonical-encoding.js';
export type { CacheScope } from './key-builder.js';
