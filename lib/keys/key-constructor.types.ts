/** Type-level helpers that let the compiler check key-constructor paths against a method's parameters. */

type Depth = [never, 0, 1, 2, 3, 4, 5];
type Leaf = Date | Map<unknown, unknown> | Set<unknown> | ArrayBufferView | RegExp | ((...args: never[]) => unknown);

/** Dot paths into a value, e.g. `filters` | `filters.page` | `tags.0`; at most 5 levels deep. */
export type PropertyPath<T, D extends number = 5> = [D] extends [never]
  ? never
  : T extends Leaf
    ? never
    : T extends readonly unknown[]
      ? `${number}` | `${number}.${PropertyPath<NonNullable<T[number]>, Depth[D]>}`
      : T extends object
        ? { [K in keyof T & string]: K | `${K}.${PropertyPath<NonNullable<T[K]>, Depth[D]>}` }[keyof T & string]
        : never;

/** Positions of a parameter tuple, as numbers: `[a: string, b: number]` -> `0 | 1`. */
export type ArgIndex<A extends readonly unknown[]> = {
  [I in keyof A & `${number}`]: I extends `${infer N extends number}` ? N : never;
}[keyof A & `${number}`];

/**
 * Every path a key field may take into a call's arguments: a position (`0`), a position and a path
 * (`'0.filters.page'`), or, when the constructor names its parameters, a name and a path (`'dto.id'`).
 */
export type ArgPath<A extends readonly unknown[], N extends readonly string[]> =
  | ArgIndex<A>
  | { [I in keyof A & `${number}`]: I | `${I}.${PropertyPath<NonNullable<A[I]>>}` }[keyof A & `${number}`]
  | {
      [I in keyof N & `${number}`]: I extends keyof A ? N[I] | `${N[I]}.${PropertyPath<NonNullable<A[I]>>}` : never;
    }[keyof N & `${number}`];

type IndexOfName<N extends readonly string[], Name extends string> = {
  [I in keyof N & `${number}`]: N[I] extends Name ? I : never;
}[keyof N & `${number}`];

type Get<T, K extends string> = T extends null | undefined
  ? undefined
  : T extends readonly unknown[]
    ? K extends `${number}`
      ? T[number] | undefined
      : never
    : K extends keyof T
      ? T[K]
      : never;

type Walk<T, P extends string> = P extends `${infer H}.${infer R}` ? Walk<Get<T, H>, R> : Get<T, P>;

/** The type of the value an `ArgPath` points at. */
export type ArgPathValue<A extends readonly unknown[], N extends readonly string[], P> = P extends number
  ? A[P]
  : P extends `${infer H}.${infer R}`
    ? H extends `${number}`
      ? Walk<A[H & keyof A], R>
      : Walk<A[IndexOfName<N, H> & keyof A], R>
    : P extends `${number}`
      ? A[P & keyof A]
      : P extends string
        ? A[IndexOfName<N, P> & keyof A]
        : never;
