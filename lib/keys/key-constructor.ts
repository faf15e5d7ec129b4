import type { ArgPath, ArgPathValue } from './key-constructor.types.js';

/** Marks the objects a key constructor's fields hold. */
export const KEY_FIELD = Symbol.for('nestjs-tenant-cache:key-field');

/** Options of one key field. */
export interface KeyFieldOptions {
  /**
   * Put this field in the key's prefix, so that every entry sharing its value can be invalidated at
   * once (`invalidatePartition`). Partition fields come first, in declaration order.
   */
  partition?: boolean;
  /** Replace this field's slice by a 128-bit hash (for large or sensitive values). */
  hash?: boolean;
  /** Encode lists in a canonical order, for lists whose order does not change the result. */
  sortLists?: boolean;
}

/** What a custom field sees besides the call's arguments. */
export interface KeyContext {
  /** The tenant the call runs for; `undefined` for methods cached in the shared scope. */
  readonly tenantId: string | undefined;
  readonly className: string;
  readonly methodName: string;
}

/** How a field gets its value. Internal; read by the key compiler. */
export type KeyFieldSpec =
  | { readonly kind: 'arg'; readonly path: string | number }
  | { readonly kind: 'constant'; readonly value: unknown }
  | { readonly kind: 'custom'; readonly fn: (args: readonly unknown[], ctx: KeyContext) => unknown }
  | { readonly kind: 'fingerprint'; readonly type: abstract new (...args: never[]) => unknown };

/**
 * One slice of a key, as declared on a `KeyConstructor` subclass. `V` is the field's value type and
 * `P` whether it is a partition field (both used only by the compiler).
 */
export interface KeyField<V = unknown, P extends boolean = boolean> {
  readonly [KEY_FIELD]: KeyFieldSpec & { readonly options: KeyFieldOptions };
  /** Type carrier only; never set. */
  readonly valueType?: V;
  /** Type carrier only; never set. */
  readonly partitionType?: P;
}

type IsPartition<O> = O extends { partition: true } ? true : false;

/**
 * A declarative cache key: each field of a subclass contributes one deterministic slice. The tenant is
 * always part of the key (implicitly, through the tenant's key space). Fields are read in declaration
 * order; partition fields form the key's prefix.
 *
 * `A` is the tuple of the cached method's parameters: a wrong position, name or path is a compile
 * error, and `@CacheResult({ key })` only accepts a method whose parameters match.
 *
 * @example
 * class ProductKey extends KeyConstructor.params('id', 'query')<[id: string, query: ProductQuery]> {
 *   override version = 2;
 *   org = this.custom((_args, ctx) => ctx.tenantId, { partition: true });
 *   id = this.arg('id', { partition: true });
 *   page = this.arg('query.page');
 *   schema = this.constant('v1');
 *   shape = this.fingerprint(ProductDto);
 * }
 */
export abstract class KeyConstructor<A extends readonly unknown[] = readonly unknown[], N extends readonly string[] = readonly []> {
  /** Names of the parameters, in order, when declared with `KeyConstructor.params(...)`. */
  static readonly paramNames?: readonly string[];

  /** Namespace of the keys; default `ClassName.methodName` of the decorated method. */
  namespace?: string;
  /** Bump to start over with fresh keys; `purgeOldVersions()` deletes the entries of other versions. */
  version: string | number = 1;
  /** Longest logical key; past it the non-partition part of the key is replaced by its SHA-256. */
  maxLength = 160;

  /** Type carrier of the parameters; never set. */
  declare readonly argsType?: (args: A) => void;

  /**
   * A base class whose parameters have names, so fields can say `'dto.id'` instead of `'0.id'`.
   *
   * @example
   * class K extends KeyConstructor.params('dto', 'page')<[dto: SearchDto, page: number]> {
   *   q = this.arg('dto.q');
   * }
   */
  static params<const P extends readonly string[]>(...names: P): abstract new <T extends readonly unknown[]>() => KeyConstructor<T, P> {
    abstract class Named<T extends readonly unknown[]> extends KeyConstructor<T, P> {
      static override readonly paramNames = Object.freeze([...names]);
    }
    return Named;
  }

  /** The value of an argument, or of a path into one: `0`, `'0.filters.page'`, `'dto.id'`. */
  protected arg<const P extends ArgPath<A, N>, const O extends KeyFieldOptions = Record<never, never>>(
    path: P,
    options?: O,
  ): KeyField<ArgPathValue<A, N, P>, IsPartition<O>> {
    return field({ kind: 'arg', path }, options);
  }

  /** A fixed value (e.g. a schema version): changing it changes every key. */
  protected constant<const V, const O extends KeyFieldOptions = Record<never, never>>(value: V, options?: O): KeyField<V, IsPartition<O>> {
    return field({ kind: 'constant', value }, options);
  }

  /** A value computed from the call's arguments and context (tenant, class, method). */
  protected custom<V, const O extends KeyFieldOptions = Record<never, never>>(fn: (args: A, ctx: KeyContext) => V, options?: O): KeyField<V, IsPartition<O>> {
    return field({ kind: 'custom', fn: fn as unknown as (args: readonly unknown[], ctx: KeyContext) => unknown }, options);
  }

  /**
   * A hash of a DTO or entity class's shape (its compiled source and members, and its ancestors'),
   * so that changing the class changes the keys.
   */
  protected fingerprint(type: abstract new (...args: never[]) => unknown, options?: Pick<KeyFieldOptions, 'partition'>): KeyField<string, false> {
    return field({ kind: 'fingerprint', type }, { ...options, partition: false });
  }
}

function field<V, P extends boolean>(spec: KeyFieldSpec, options: KeyFieldOptions = {}): KeyField<V, P> {
  return Object.freeze({ [KEY_FIELD]: Object.freeze({ ...spec, options: Object.freeze({ ...options }) }) });
}

/** Whether a value is a field declared on a key constructor. */
export function isKeyField(value: unknown): value is KeyField {
  return typeof value === 'object' && value !== null && KEY_FIELD in value;
}

/** A key constructor class, as given to `@CacheResult({ key })`. */
export type KeyConstructorType<A extends readonly unknown[] = readonly unknown[]> = new () => KeyConstructor<A, readonly string[]>;

/** A plain function returning the key: the shorthand for a key constructor. */
export type KeyFunction<A extends readonly unknown[] = readonly unknown[]> = (...args: A) => string;

/** Values of a key constructor's partition fields, by field name (any subset). */
export type PartitionValues<K> = {
  [F in keyof K as K[F] extends KeyField<unknown, true> ? F : never]?: K[F] extends KeyField<infer V, true> ? V : never;
};
