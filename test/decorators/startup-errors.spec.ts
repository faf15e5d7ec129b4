import 'reflect-metadata';
import { Controller, Get, Injectable, type Type } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import {
  CacheEvict,
  CacheResponse,
  CacheResult,
  type CacheResultOptions,
  InvalidKeyConstructorError,
  InvalidOptionsError,
  InvalidTtlError,
  UnknownStoreError,
  memoryStore,
} from '../../lib/index.js';
import { bootCache } from '../support/test-module.js';
import { boot } from './fixtures.js';

/** The start-up error of an application with these providers (real Nest, memory store). */
const failure = (providers: Type[]) =>
  boot(memoryStore(), providers).then(
    async (app) => {
      await app.close();
      return undefined;
    },
    (error: unknown) => error as Error,
  );

/** The start-up error of an HTTP application with this controller (the response cache checks routes at init). */
async function routeFailure(controller: Type): Promise<Error | undefined> {
  try {
    const app = await bootCache({ stores: { default: memoryStore() } }, { controllers: [controller], http: 'express', listen: false });
    await app.close();
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

describe('@CacheResult / @CacheEvict start-up errors name Class.method and the option', () => {
  it('@CacheResult({ ttl: -1 })', async () => {
    @Injectable()
    class Ttl {
      @CacheResult({ ttl: -1 })
      async get(): Promise<number> {
        return 1;
      }
    }
    const error = await failure([Ttl]);
    expect(error).toBeInstanceOf(InvalidTtlError);
    expect(error!.message).toMatch(/@CacheResult on Ttl\.get: option "ttl" is -1/);
  });

  it("@CacheResult({ store: 'redis' }) with no such store", async () => {
    @Injectable()
    class Routed {
      @CacheResult({ store: 'redis' })
      async get(): Promise<number> {
        return 1;
      }
    }
    const error = await failure([Routed]);
    expect(error).toBeInstanceOf(UnknownStoreError);
    expect(error!.message).toMatch(/@CacheResult on Routed\.get: option "store": no cache store named "redis"\. Known stores: "default"/);
  });

  it("@CacheEvict({ store: 'nope' })", async () => {
    @Injectable()
    class Evicting {
      @CacheEvict({ tags: ['t'], store: 'nope' })
      async save(): Promise<void> {}
    }
    const error = await failure([Evicting]);
    expect(error).toBeInstanceOf(UnknownStoreError);
    expect(error!.message).toMatch(/@CacheEvict on Evicting\.save: option "store": no cache store named "nope"/);
  });

  it('unknown keys of @CacheResult, nested ones too, with the closest name', async () => {
    @Injectable()
    class Typo {
      @CacheResult({ tll: 5, tag: ['x'] } as unknown as CacheResultOptions)
      async get(): Promise<number> {
        return 1;
      }
    }
    const error = await failure([Typo]);
    expect(error).toBeInstanceOf(InvalidKeyConstructorError);
    expect(error!.message).toMatch(
      /@CacheResult on Typo\.get: option "tll" is not an option\. Did you mean "ttl"\?.*option "tag" is not an option\. Did you mean "tags"\?/,
    );

    @Injectable()
    class Pages {
      @CacheResult({ iterable: { pageByte: 10 } } as never)
      async *items(): AsyncGenerator<number> {
        yield 1;
      }
    }
    const nested = await failure([Pages]);
    expect(nested!.message).toMatch(/@CacheResult on Pages\.items: option "iterable\.pageByte" is not an option\. Did you mean "iterable\.pageBytes"\?/);
  });

  it('unknown keys of @CacheEvict', async () => {
    @Injectable()
    class Typo {
      @CacheEvict({ tags: ['x'], beforeInvokation: true } as never)
      async save(): Promise<void> {}
    }
    const error = await failure([Typo]);
    expect(error).toBeInstanceOf(InvalidKeyConstructorError);
    expect(error!.message).toMatch(/@CacheEvict on Typo\.save: option "beforeInvokation" is not an option\. Did you mean "beforeInvocation"\?/);
  });
});

describe('@CacheResponse start-up errors name Controller.handler and the option', () => {
  it('ttl: -1', async () => {
    @Controller()
    class TtlController {
      @CacheResponse({ ttl: -1 })
      @Get('x')
      x() {
        return 1;
      }
    }
    const error = await routeFailure(TtlController);
    expect(error).toBeInstanceOf(InvalidTtlError);
    expect(error!.message).toMatch(/@CacheResponse on TtlController\.x: option "ttl" is -1/);
  });

  it('a bad tag names the option', async () => {
    @Controller()
    class TagController {
      @CacheResponse({ tags: [''] })
      @Get('x')
      x() {
        return 1;
      }
    }
    const error = await routeFailure(TagController);
    expect(error!.message).toMatch(/@CacheResponse\(tags\) on TagController\.x/);
  });

  it('unknown keys, cacheControl included, all at once', async () => {
    @Controller()
    class TypoController {
      @CacheResponse({ tll: 5, cacheControl: { maxage: 5 } } as never)
      @Get('x')
      x() {
        return 1;
      }
    }
    const error = (await routeFailure(TypoController)) as InvalidOptionsError;
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect(error.problems.map((p) => p.option)).toEqual(['@CacheResponse(tll) on TypoController.x', '@CacheResponse(cacheControl.maxage) on TypoController.x']);
    expect(error.message).toMatch(/Did you mean "ttl"\?/);
    expect(error.message).toMatch(/Did you mean "cacheControl\.maxAge"\?/);
  });
});
