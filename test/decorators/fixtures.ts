import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { type LoggerService, type Provider } from '@nestjs/common';
import { type StoreDefinition, type TenantCacheModuleOptions, TenantContext } from '../../lib/index.js';
import { bootCache } from '../support/test-module.js';

export const ADVERSARIAL_TENANTS = ['a:b', '*', '{x}', 'ü租户', 't'.repeat(200), 'a', 'tc:t1:a', '4*'];
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const as = <T>(tenant: string, fn: () => Promise<T>) => TenantContext.run(tenant, fn);

/** A real LoggerService that keeps what Nest and the library log, to assert on warnings. */
export class CapturingLogger implements LoggerService {
  readonly lines: { level: string; message: string }[] = [];
  log(message: unknown) {
    this.lines.push({ level: 'log', message: String(message) });
  }
  error(message: unknown) {
    this.lines.push({ level: 'error', message: String(message) });
  }
  warn(message: unknown) {
    this.lines.push({ level: 'warn', message: String(message) });
  }
  debug() {}
  verbose() {}
  warnings(): string[] {
    return this.lines.filter((l) => l.level === 'warn').map((l) => l.message);
  }
}

/** A deferred promise: lets a test hold a cached method's body open while it invalidates. */
export function gate<T = void>() {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

/** A loader that waits until `open()` is called, then throws `message`; `calls` counts its runs. */
export function failingOnOpen(message = 'the database is down') {
  const release = gate();
  const held = {
    calls: 0,
    open: release.open,
    loader: async (): Promise<string> => {
      held.calls++;
      await release.promise;
      throw new Error(message);
    },
  };
  return held;
}

/** Boots a Nest testing module with the cache and the given providers (no HTTP). */
export async function boot(store: StoreDefinition, providers: Provider[], options: Partial<TenantCacheModuleOptions> = {}, logger = new CapturingLogger()) {
  const app = await bootCache(
    { stores: { default: store }, keyPrefix: `dec-${randomUUID().slice(0, 8)}:`, tenant: { pattern: /^[\s\S]+$/u, maxLength: 300 }, ...options },
    { providers, logger },
  );
  return { moduleRef: app.moduleRef, cache: app.cache, logger, close: app.close };
}
