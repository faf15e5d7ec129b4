import assert from 'node:assert/strict';
import { UnsupportedOperationError } from '../errors/unsupported-operation.error.js';
import type { CacheStore } from '../stores/cache-store.interface.js';

/** What each group of conformance cases is given by `runStoreConformanceSuite`. */
export interface ConformanceCases {
  /** Registers one case; `fn` gets the store under test (created before the first case). */
  it(name: string, fn: (store: CacheStore) => Promise<void>): void;
  /** A key of this run (recorded for the final clean-up). */
  k(suffix: string): string;
  /** The prefix of every key of this run. */
  readonly prefix: string;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The UTF-8 bytes of a text. */
export const bytes = (text: string) => Buffer.from(text, 'utf8');

/** Every key of a listing, checking that each page is an array of at most `pageSize` keys. */
export async function collect(pages: AsyncIterable<string[]>, pageSize?: number): Promise<string[]> {
  const out: string[] = [];
  for await (const page of pages) {
    assert.ok(Array.isArray(page), 'scan yields arrays of keys');
    if (pageSize !== undefined) assert.ok(page.length <= pageSize, `a page holds at most pageSize (${pageSize}) keys, got ${page.length}`);
    out.push(...page);
  }
  return out;
}

/** Asserts that `run` fails with `UnsupportedOperationError`. */
export async function rejectsUnsupported(run: () => Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(run, (error: unknown) => {
    assert.ok(error instanceof UnsupportedOperationError, `${what} must fail with UnsupportedOperationError, got ${String(error)}`);
    return true;
  });
}
