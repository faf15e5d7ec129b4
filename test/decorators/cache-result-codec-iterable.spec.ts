import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheResult, InvalidKeyConstructorError, KeyConstructor, TenantCacheService, UnsupportedOperationError } from '../../lib/index.js';
import { ADVERSARIAL_TENANTS, as, boot } from './fixtures.js';
import { storeCases } from '../support/store-cases.js';

class ReportKey extends KeyConstructor.params('year')<[year: number]> {
  year = this.arg('year');
}

@Injectable()
class ReportService {
  runs = 0;
  started = 0;

  @CacheResult({ key: ReportKey, ttl: 60_000, iterable: true })
  async *rows(year: number): AsyncGenerator<{ tenant: string | undefined; year: number; n: number }> {
    this.started++;
    const tenant = (await import('../../lib/index.js')).TenantContext.current();
    for (let n = 0; n < 5; n++) {
      await new Promise((r) => setImmediate(r));
      yield { tenant, year, n };
    }
    this.runs++;
  }

  @CacheResult({ iterable: { pageBytes: 64 }, ttl: 60_000 })
  async *failing(): AsyncGenerator<number> {
    this.started++;
    yield 1;
    throw new Error('source failed');
  }

  @CacheResult({ ttl: 60_000, codec: { compression: { algorithm: 'gzip', threshold: 0 }, chunkSize: 2048 } })
  async big(id: string): Promise<string> {
    this.runs++;
    return `${id}:` + 'x'.repeat(20_000);
  }
}

async function collect<T>(it: AsyncIterable<T>, max = Infinity): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) {
    out.push(v);
    if (out.length >= max) break;
  }
  return out;
}

describe.each(storeCases())('@CacheResult iterable and codec options on $name', ({ definition }) => {
  let svc: ReportService;
  let cache: TenantCacheService;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const app = await boot(definition(), [ReportService]);
    svc = app.moduleRef.get(ReportService);
    cache = app.cache;
    close = app.close;
  });
  afterAll(() => close());

  it('streams an async generator while storing it, then replays it without running the method', async () => {
    const first = await as('acme', () => collect(svc.rows(2026)));
    expect(first.map((r) => r.n)).toEqual([0, 1, 2, 3, 4]);
    const runs = svc.runs;
    const again = await as('acme', () => collect(svc.rows(2026)));
    expect(again).toEqual(first);
    expect(svc.runs).toBe(runs);
  });

  it('keeps each tenant its own items, also for adversarial tenant ids', async () => {
    for (const tenant of ['globex', ...ADVERSARIAL_TENANTS]) {
      const rows = await as(tenant, () => collect(svc.rows(1999)));
      expect(rows.every((r) => r.tenant === tenant)).toBe(true);
      const cached = await as(tenant, () => collect(svc.rows(1999)));
      expect(cached.every((r) => r.tenant === tenant)).toBe(true);
    }
  });

  it('stores nothing when the caller stops early or the source throws', async () => {
    const before = svc.started;
    await as('acme', () => collect(svc.rows(2001), 2));
    await as('acme', () => collect(svc.rows(2001)));
    expect(svc.started).toBe(before + 2); // the abandoned run was not cached
    await expect(as('acme', () => collect(svc.failing()))).rejects.toThrow('source failed');
    await expect(as('acme', () => collect(svc.failing()))).rejects.toThrow('source failed');
    expect(svc.started).toBe(before + 4);
  });

  it('invalidates an iterable entry by its arguments, and refuses value-only operations on it', async () => {
    await as('acme', () => collect(svc.rows(2030)));
    const handle = () => cache.method(ReportService, 'rows');
    expect(await as('acme', () => handle().invalidate(2030))).toBe(true);
    const runs = svc.runs;
    await as('acme', () => collect(svc.rows(2030)));
    expect(svc.runs).toBe(runs + 1);
    await expect(as('acme', () => handle().peek(2030))).rejects.toBeInstanceOf(UnsupportedOperationError);
  });

  it('applies a per-method codec (compressed, chunked) and reads it back', async () => {
    const value = await as('acme', () => svc.big('p1'));
    const runs = svc.runs;
    expect(await as('acme', () => svc.big('p1'))).toBe(value);
    expect(svc.runs).toBe(runs);
    const { hit } = await as('acme', () => cache.method(ReportService, 'big').peek('p1'));
    expect(hit).toBe(true);
    expect((await as('globex', () => cache.method(ReportService, 'big').peek('p1'))).hit).toBe(false);
  });
});

describe('@CacheResult iterable and codec start-up checks', () => {
  const store = () => storeCases()[0]!.definition();

  it('refuses tags, unless or a bad pageBytes on an iterable method, naming the method', async () => {
    @Injectable()
    class Tagged {
      // @ts-expect-error -- tags do not apply to iterable methods (also refused at start-up)
      @CacheResult({ iterable: true, tags: ['rows'] })
      async *rows(): AsyncGenerator<number> {
        yield 1;
      }
    }
    await expect(boot(store(), [Tagged])).rejects.toThrow(/Tagged\.rows[\s\S]*tags does not apply to an iterable method/);

    @Injectable()
    class BadPage {
      @CacheResult({ iterable: { pageBytes: -1 } })
      async *rows(): AsyncGenerator<number> {
        yield 1;
      }
    }
    await expect(boot(store(), [BadPage])).rejects.toBeInstanceOf(InvalidKeyConstructorError);
  });

  it('refuses a codec option that cannot be set per method', async () => {
    @Injectable()
    class BadCodec {
      // @ts-expect-error -- secrets belong to the module or store codec
      @CacheResult({ codec: { secrets: ['x'] } })
      async get(): Promise<number> {
        return 1;
      }
    }
    await expect(boot(store(), [BadCodec])).rejects.toThrow(/BadCodec\.get[\s\S]*cannot be set per call/);
  });
});
