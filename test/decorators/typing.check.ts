import { Injectable } from '@nestjs/common';
import { CacheEvict, CacheResult, KeyConstructor, TenantCacheService, versioned } from '../../lib/index.js';

interface Query {
  page: number;
  filters?: { category: string };
}
class ProductKey extends KeyConstructor.params('id', 'query')<[id: string, query: Query]> {
  id = this.arg('id', { partition: true });
  page = this.arg('query.page');
  cat = this.arg('1.filters.category', { partition: true });
}
class IdKey extends KeyConstructor<[id: number]> {
  id = this.arg(0);
}

@Injectable()
export class Svc {
  @CacheResult({ key: ProductKey, ttl: 1000, tags: ['p', (id: string) => `p:${id}`, versioned('cat')] })
  async get(id: string, query: Query): Promise<string> {
    return id + query.page;
  }

  // @ts-expect-error wrong parameter types for the key
  @CacheResult({ key: ProductKey })
  async wrong(id: number): Promise<string> {
    return String(id);
  }

  @CacheResult({ key: IdKey })
  async byNum(id: number): Promise<number> {
    return id;
  }

  @CacheResult({ key: (id: string) => id })
  fnKey(id: string): string | Promise<string> {
    return id;
  }

  @CacheResult()
  async noKey(a: string, b?: number): Promise<string> {
    return a + b;
  }

  @CacheResult({ unless: (r: string) => r === '' })
  async typedUnless(): Promise<string> {
    return '';
  }

  // @ts-expect-error unless takes the result type
  @CacheResult({ unless: (r: number) => r === 0 })
  async badUnless(): Promise<string> {
    return '';
  }

  @CacheEvict({ method: 'get', args: (id: string) => [id, { page: 1 }] as const })
  async update(id: string): Promise<void> {
    void id;
  }

  // @ts-expect-error no such method
  @CacheEvict({ method: 'nope' })
  async update2(id: string): Promise<void> {
    void id;
  }

  // @ts-expect-error args do not match get's parameters
  @CacheEvict({ method: 'get', args: (id: string) => [Number(id)] as const })
  async update3(id: string): Promise<void> {
    void id;
  }

  @CacheEvict({ tags: ['p', (id: string) => `p:${id}`] })
  async update4(id: string): Promise<void> {
    void id;
  }
}

class BadKey extends KeyConstructor<[id: string]> {
  // @ts-expect-error no argument 1
  x = this.arg(1);
  // @ts-expect-error no such path
  y = this.arg('0.length.foo');
  // @ts-expect-error names not declared
  z = this.arg('id');
}
void BadKey;

export async function use(cache: TenantCacheService) {
  const m = cache.method(Svc, 'get');
  const r: string = await m.refresh('a', { page: 1 });
  void r;
  // @ts-expect-error wrong args
  await m.invalidate(1);
  // @ts-expect-error not a method
  cache.method(Svc, 'nothing');
  const typed = cache.method(Svc, 'get', ProductKey);
  await typed.invalidatePartition({ id: 'x' });
  // @ts-expect-error page is not a partition field
  await typed.invalidatePartition({ page: 1 });
  const l = await cache.method(Svc, 'byNum').lookup(3);
  const n: number | undefined = l.value;
  void n;
}
@Injectable()
export class Svc2 {
  @CacheResult({ key: IdKey })
  async byNum(id: number): Promise<number> {
    return id;
  }

  @CacheEvict({ method: 'byNum' })
  async sameArgs(id: number): Promise<void> {
    void id;
  }

  // @ts-expect-error same arguments do not fit byNum
  @CacheEvict({ method: 'byNum' })
  async sameArgsWrong(id: string): Promise<void> {
    void id;
  }
}

export class Sync {
  // @ts-expect-error the wrapper returns a Promise: a plain `number` result type would lie
  @CacheResult()
  plain(): number {
    return 1;
  }

  @CacheResult()
  honest(): number | Promise<number> {
    return 1;
  }
}
