import { InvalidCacheKeyError } from '../errors/invalid-cache-key.error.js';
import { InvalidKeyConstructorError } from '../errors/invalid-key-constructor.error.js';
import { InvalidPartitionError } from '../errors/invalid-partition.error.js';
import { canonicalEncode, lengthPrefixed, sliceHash } from './canonical-encoding.js';
import { type KeyConstructor, type KeyContext, type KeyFieldOptions, type KeyFieldSpec, KEY_FIELD, isKeyField } from './key-constructor.js';
import { sha256 } from './sha256.js';
import { METHOD_KEY_MARK as METHOD_KEY } from './logical-key-marks.js';

/** Slices longer than this are hashed. */
const MAX_SLICE = 64;
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);

/** The method a key is compiled for. */
export interface KeyTarget {
  className: string;
  methodName: string;
  /** Declared parameter count, when known (from `design:paramtypes`). */
  paramCount?: number;
}

/** Which entries a partition invalidation addresses: a literal prefix, and a filter when the subset is not a prefix. */
export interface PartitionSelector {
  prefix: string;
  /** Present when the given fields are not a leading run of the partition fields. */
  matches?: (logicalKey: string) => boolean;
}

interface CompiledField {
  name: string;
  kind: KeyFieldSpec['kind'];
  options: KeyFieldOptions;
  value: (args: readonly unknown[], ctx: KeyContext) => unknown;
  describe: string;
}

/** The logical-key prefix of every entry of a `@CacheResult` method namespace (`ClassName.methodName` by default), every version and shape. */
export function methodNamespacePrefix(namespace: string): string {
  return `${METHOD_KEY}${lengthPrefixed(namespace)}v`;
}

/**
 * A key constructor or key function compiled for one method: builds logical keys from a call's
 * arguments, and the prefixes that address its partitions, its whole version and its namespace.
 */
export class CompiledKey {
  /** Prefix of every entry of this method, all versions. */
  readonly namespacePrefix: string;
  /** Prefix of every entry of this method at the current version and shape. */
  readonly head: string;
  readonly partitionNames: readonly string[];

  private constructor(
    readonly namespace: string,
    version: string,
    shape: string,
    private readonly partitions: readonly CompiledField[],
    private readonly rest: readonly CompiledField[],
    private readonly maxLength: number,
    private readonly target: KeyTarget,
    private readonly fn?: (...args: unknown[]) => unknown,
  ) {
    this.namespacePrefix = methodNamespacePrefix(namespace);
    this.head = `${this.namespacePrefix}${lengthPrefixed(version)}s${shape};`;
    this.partitionNames = partitions.map((f) => f.name);
  }

  /** Compiles a `KeyConstructor` subclass; throws `InvalidKeyConstructorError` for a bad declaration. */
  static fromConstructor(type: new () => object, target: KeyTarget, namespace?: string): CompiledKey {
    const where = `${type.name || 'KeyConstructor'} on ${target.className}.${target.methodName}`;
    let instance: Pick<KeyConstructor, 'namespace' | 'version' | 'maxLength'>;
    try {
      instance = new type() as Pick<KeyConstructor, 'namespace' | 'version' | 'maxLength'>;
    } catch (error) {
      throw new InvalidKeyConstructorError(where, `it could not be constructed (${(error as Error).message})`, error);
    }
    const names = (type as unknown as { paramNames?: readonly string[] }).paramNames;
    if (names && target.paramCount !== undefined && names.length > target.paramCount) {
      throw new InvalidKeyConstructorError(where, `it names ${names.length} parameters but the method declares ${target.paramCount}`);
    }
    const fields: CompiledField[] = [];
    for (const [name, value] of Object.entries(instance)) {
      if (!isKeyField(value)) continue;
      const spec = value[KEY_FIELD];
      fields.push(compileField(name, spec, spec.options, names, target, where));
    }
    const ns = instance.namespace ?? namespace ?? `${target.className}.${target.methodName}`;
    if (typeof ns !== 'string' || ns.length === 0) throw new InvalidKeyConstructorError(where, 'namespace must be a non-empty string');
    const version = instance.version;
    if ((typeof version !== 'string' && typeof version !== 'number') || String(version).length === 0) {
      throw new InvalidKeyConstructorError(where, 'version must be a non-empty string or a number');
    }
    const maxLength = instance.maxLength;
    if (!Number.isInteger(maxLength) || maxLength < 64) throw new InvalidKeyConstructorError(where, 'maxLength must be an integer >= 64');
    const shape = sliceHash(fields.map((f) => `${f.name}=${f.describe}`).join('\n')).slice(0, 8);
    return new CompiledKey(
      ns,
      String(version),
      shape,
      fields.filter((f) => f.options.partition),
      fields.filter((f) => !f.options.partition),
      maxLength,
      target,
    );
  }

  /** Compiles the `(...args) => string` shorthand. */
  static fromFunction(fn: (...args: unknown[]) => unknown, target: KeyTarget, namespace?: string): CompiledKey {
    const ns = namespace ?? `${target.className}.${target.methodName}`;
    return new CompiledKey(ns, '1', 'f', [], [], Number.MAX_SAFE_INTEGER, target, fn);
  }

  /** The default key: every argument, canonically encoded (trailing `undefined`s dropped). */
  static fromArguments(target: KeyTarget, namespace?: string): CompiledKey {
    const all: CompiledField = {
      name: 'arguments',
      kind: 'arg',
      options: {},
      describe: 'arguments',
      value: (args) => {
        let end = args.length;
        while (end > 0 && args[end - 1] === undefined) end--;
        return args.slice(0, end);
      },
    };
    return new CompiledKey(namespace ?? `${target.className}.${target.methodName}`, '1', 'a', [], [all], 160, target);
  }

  /** The logical key of one call. Throws `InvalidCacheKeyError` naming the method when an argument cannot be encoded. */
  build(args: readonly unknown[], ctx: KeyContext): string {
    if (this.fn) {
      let out: unknown;
      try {
        out = this.fn(...args);
      } catch (error) {
        throw new InvalidCacheKeyError(`${this.method()}: the key function threw (${(error as Error).message})`);
      }
      if (typeof out !== 'string') {
        throw new InvalidCacheKeyError(`${this.method()}: the key function returned ${out === null ? 'null' : typeof out}, not a string`);
      }
      return `${this.head}|f${lengthPrefixed(out)}`;
    }
    let key = this.head;
    for (const f of this.partitions) key += `p${lengthPrefixed(this.slice(f, f.value(args, ctx)))}`;
    let tail = '|';
    for (const f of this.rest) tail += lengthPrefixed(this.slice(f, f.value(args, ctx)));
    // NOTE: only the tail is hashed, so partition prefixes stay literal and addressable.
    if (key.length + tail.length > this.maxLength) tail = `|#${sha256(tail)}`;
    return key + tail;
  }

  /**
   * The entries sharing the given partition values. A leading run of partition fields is a literal
   * prefix; any other subset adds a filter over the remaining partition slices.
   */
  partition(values: Readonly<Record<string, unknown>>, ctx: KeyContext): PartitionSelector {
    if (typeof values !== 'object' || values === null) {
      throw new InvalidPartitionError(this.method(), 'partition values must be an object of field name -> value');
    }
    const given = Object.keys(values);
    if (this.partitions.length === 0) {
      throw new InvalidPartitionError(this.method(), 'its key has no partition fields; mark fields with { partition: true }');
    }
    if (given.length === 0) throw new InvalidPartitionError(this.method(), 'no partition values given; use invalidateAll() to drop every entry');
    for (const name of given) {
      if (!this.partitionNames.includes(name)) {
        const isField = this.rest.some((f) => f.name === name);
        throw new InvalidPartitionError(
          this.method(),
          `"${name}" is ${isField ? 'a field but not a partition field' : 'not a field of its key'}; partition fields: ${this.partitionNames.join(', ')}`,
        );
      }
    }
    const wanted = this.partitions.map((f) => (given.includes(f.name) ? `p${lengthPrefixed(this.slice(f, values[f.name]))}` : undefined));
    let prefix = this.head;
    let i = 0;
    for (; i < wanted.length && wanted[i] !== undefined; i++) prefix += wanted[i];
    if (wanted.slice(i).every((w) => w === undefined)) return { prefix };
    const start = i;
    void ctx;
    return {
      prefix,
      matches: (logicalKey) => {
        if (!logicalKey.startsWith(prefix)) return false;
        let at = prefix.length;
        for (let j = start; j < wanted.length; j++) {
          const slice = readPartitionSlice(logicalKey, at);
          if (slice === undefined) return false;
          if (wanted[j] !== undefined && slice.text !== wanted[j]) return false;
          at = slice.end;
        }
        return true;
      },
    };
  }

  /** The values a call gives the partition fields, by name (for logs and tests). */
  partitionValuesOf(args: readonly unknown[], ctx: KeyContext): Record<string, unknown> {
    return Object.fromEntries(this.partitions.map((f) => [f.name, f.value(args, ctx)]));
  }

  private slice(f: CompiledField, value: unknown): string {
    let encoded: string;
    try {
      encoded = canonicalEncode(value, { sortLists: f.options.sortLists });
    } catch (error) {
      throw new InvalidCacheKeyError(`${this.method()}, field "${f.name}": ${(error as Error).message.replace(/^Invalid cache key: /, '')}`);
    }
    return f.options.hash || encoded.length > MAX_SLICE ? `#${sliceHash(encoded)}` : encoded;
  }

  private method(): string {
    return `${this.target.className}.${this.target.methodName}`;
  }
}

/** Reads `p<len>:<text>` at `at`; `undefined` when the key has no partition slice there. */
function readPartitionSlice(key: string, at: number): { text: string; end: number } | undefined {
  if (key[at] !== 'p') return undefined;
  const colon = key.indexOf(':', at + 1);
  if (colon < 0) return undefined;
  const len = Number(key.slice(at + 1, colon));
  if (!Number.isInteger(len)) return undefined;
  const end = colon + 1 + len;
  return { text: key.slice(at, end), end };
}

function compileField(name: string, spec: KeyFieldSpec, options: KeyFieldOptions, names: readonly string[] | undefined, target: KeyTarget, where: string): CompiledField {
  const fail = (reason: string) => new InvalidKeyConstructorError(where, `field "${name}": ${reason}`);
  for (const opt of Object.keys(options)) {
    if (!['partition', 'hash', 'sortLists'].includes(opt)) throw fail(`unknown option "${opt}" (use partition, hash, sortLists)`);
  }
  const opts = `${options.partition ? 'P' : ''}${options.hash ? 'H' : ''}${options.sortLists ? 'S' : ''}`;
  switch (spec.kind) {
    case 'arg': {
      const { index, segments } = parsePath(spec.path, names, fail);
      if (target.paramCount !== undefined && index >= target.paramCount) {
        throw fail(`it reads argument ${index} but ${target.className}.${target.methodName} declares ${target.paramCount} parameter(s)`);
      }
      const shown = [String(index), ...segments].join('.');
      return {
        name,
        kind: 'arg',
        options,
        describe: `arg:${shown}:${opts}`,
        value: (args) => {
          let cur: unknown = args[index];
          for (let s = 0; s < segments.length; s++) {
            if (cur === undefined || cur === null) return undefined;
            if (typeof cur !== 'object' && typeof cur !== 'function') {
              throw new InvalidCacheKeyError(`${target.className}.${target.methodName}, field "${name}": path ${shown} walks into a ${typeof cur} at "${segments[s]}"`);
            }
            cur = (cur as Record<string, unknown>)[segments[s]!];
          }
          return cur;
        },
      };
    }
    case 'constant': {
      let encoded: string;
      try {
        encoded = canonicalEncode(spec.value);
      } catch (error) {
        throw fail((error as Error).message);
      }
      return { name, kind: 'constant', options, describe: `const:${encoded}:${opts}`, value: () => spec.value };
    }
    case 'custom': {
      if (typeof spec.fn !== 'function') throw fail('custom() takes a function');
      const fn = spec.fn;
      return {
        name,
        kind: 'custom',
        options,
        describe: `custom:${sliceHash(fn.toString())}:${opts}`,
        value: (args, ctx) => {
          try {
            return fn(args, ctx);
          } catch (error) {
            throw new InvalidCacheKeyError(`${target.className}.${target.methodName}, field "${name}": the custom field threw (${(error as Error).message})`);
          }
        },
      };
    }
    case 'fingerprint': {
      if (typeof spec.type !== 'function') throw fail('fingerprint() takes a class');
      const print = classFingerprint(spec.type);
      return { name, kind: 'fingerprint', options, describe: `fingerprint:${print}`, value: () => print };
    }
  }
}

function parsePath(path: string | number, names: readonly string[] | undefined, fail: (reason: string) => Error): { index: number; segments: string[] } {
  if (typeof path === 'number') {
    if (!Number.isInteger(path) || path < 0) throw fail(`argument position ${path} is not a non-negative integer`);
    return { index: path, segments: [] };
  }
  if (typeof path !== 'string' || path.length === 0) throw fail('arg() takes a position or a path such as "0.id" or "dto.id"');
  const [head, ...segments] = path.split('.');
  let index: number;
  if (/^\d+$/.test(head!)) index = Number(head);
  else {
    index = names?.indexOf(head!) ?? -1;
    if (index < 0) {
      throw fail(
        names
          ? `no parameter named "${head}" (parameters: ${names.join(', ')})`
          : `"${head}" is a name but the constructor does not name its parameters; extend KeyConstructor.params(...)`,
      );
    }
  }
  for (const s of segments) {
    if (s.length === 0) throw fail(`path "${path}" has an empty segment`);
    if (FORBIDDEN_SEGMENTS.has(s)) throw fail(`path "${path}" walks into "${s}"`);
  }
  return { index, segments };
}

/** Hash of a class's compiled source, prototype members and ancestors: changes when the class does. */
export function classFingerprint(type: abstract new (...args: never[]) => unknown): string {
  const parts: string[] = [];
  for (let t: unknown = type; typeof t === 'function' && t !== Function.prototype; t = Object.getPrototypeOf(t)) {
    const fn = t as { name: string; prototype?: object };
    parts.push(
      fn.name,
      Function.prototype.toString.call(fn),
      Object.getOwnPropertyNames(fn.prototype ?? {})
        .sort()
        .join(','),
    );
  }
  return sliceHash(parts.join('\n'));
}
