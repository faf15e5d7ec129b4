import 'reflect-metadata';
import type { INestApplication, LoggerService, ModuleMetadata, Type } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test, type TestingModule } from '@nestjs/testing';
import { TenantCacheModule, type TenantCacheModuleOptions, TenantCacheService } from '../../lib/index.js';

/**
 * The one way tests boot Nest: a testing module (initialised) or, with `http`, an application on a
 * free loopback port. Start-up failures reject; whatever was created is closed first.
 */

/** The two HTTP platforms every e2e suite runs on. */
export const ADAPTERS = ['express', 'fastify'] as const;
export type AdapterKind = (typeof ADAPTERS)[number];

/** What to put in the testing module and how to start it. */
export interface BootOptions extends ModuleMetadata {
  /** Start an HTTP application on this platform (without it: a module, no HTTP). */
  http?: AdapterKind;
  /** HTTP only: `false` initialises the application without listening on a port. */
  listen?: boolean;
  /**
   * A logger for Nest and the library. Without HTTP it is set on the builder (it sees compile-time
   * logs); `false` silences the module after compile. With HTTP it is the application's logger
   * (default `false`).
   */
  logger?: LoggerService | false;
  /** HTTP only: runs on the application before it starts (global prefix, pipes...). */
  setup?: (app: INestApplication) => void;
}

/** A started module; `close()` can be called any number of times and closes once. */
export interface TestModule {
  moduleRef: TestingModule;
  /** The HTTP application, when booted with `http`. */
  app: INestApplication | undefined;
  /** The module's `TenantCacheService` (resolved on first use). */
  readonly cache: TenantCacheService;
  get<T>(token: Type<T> | string | symbol): T;
  close(): Promise<void>;
}

/** A started HTTP application; `url` is empty when it was not asked to listen. */
export interface TestHttpModule extends TestModule {
  app: INestApplication;
  url: string;
}

/** Boots a testing module with these imports, providers and controllers. */
export function bootModule(boot: BootOptions & { http: AdapterKind }): Promise<TestHttpModule>;
export function bootModule(boot: BootOptions): Promise<TestModule>;
export async function bootModule(boot: BootOptions): Promise<TestModule> {
  const { http, listen = true, logger, setup, ...metadata } = boot;
  const builder = Test.createTestingModule(metadata);
  if (logger && !http) builder.setLogger(logger);
  const moduleRef = await builder.compile();
  let app: INestApplication | undefined;
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= (app ?? moduleRef).close());
  let url = '';
  try {
    if (http) {
      const appLogger = logger ?? false;
      app = http === 'fastify' ? moduleRef.createNestApplication(new FastifyAdapter(), { logger: appLogger }) : moduleRef.createNestApplication({ logger: appLogger });
      if (appLogger !== false) app.useLogger(appLogger);
      setup?.(app);
      if (listen) {
        await app.listen(0, '127.0.0.1');
        url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
      } else {
        await app.init();
      }
    } else {
      if (logger === false) moduleRef.useLogger(false);
      await moduleRef.init();
    }
  } catch (error) {
    await close().catch(() => undefined); // the start-up error is the one to report
    throw error;
  }
  let cache: TenantCacheService | undefined;
  return {
    moduleRef,
    app,
    url,
    get cache() {
      return (cache ??= moduleRef.get(TenantCacheService));
    },
    get: <T>(token: Type<T> | string | symbol) => moduleRef.get<T>(token),
    close,
  } as TestModule;
}

/** Boots `TenantCacheModule.forRoot(options)` with the given extra imports, providers and controllers. */
export function bootCache(options: TenantCacheModuleOptions, boot: BootOptions & { http: AdapterKind }): Promise<TestHttpModule>;
export function bootCache(options?: TenantCacheModuleOptions, boot?: BootOptions): Promise<TestModule>;
export function bootCache(options: TenantCacheModuleOptions = {}, boot: BootOptions = {}): Promise<TestModule> {
  return bootModule({ ...boot, imports: [TenantCacheModule.forRoot(options), ...(boot.imports ?? [])] });
}
