import 'reflect-metadata';
import {
  Controller,
  Get,
  Header,
  HttpCode,
  Module,
  NotFoundException,
  Param,
  Post,
  Query,
  Req,
  Res,
  Sse,
  StreamableFile,
  type Type,
  UseInterceptors,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Readable } from 'node:stream';
import { interval, map, take } from 'rxjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type CacheRequest,
  CacheResponse,
  KeyConstructor,
  NoCache,
  ResponseKey,
  Surrogate,
  TenantCacheInterceptor,
  TenantCacheModule,
  TenantCacheService,
  TenantContext,
  TenantGuard,
  versioned,
} from '../../lib/index.js';
import { StoreRegistry } from '../../lib/engine/store-registry.js';
import { type StoreCase, storeCases } from '../support/store-cases.js';
import { ADAPTERS, type AdapterKind, CapturingLogger, type RunningApp, startApp } from './http-app.js';

/** A key constructor over the request: only the page parameter counts. */
class PageKey extends KeyConstructor.params('req')<[req: CacheRequest]> {
  page = this.arg('req.query');
}

/** Counts handler runs per route, so a test can tell a hit (no run) from a miss. */
class Runs {
  readonly counts = new Map<string, number>();
  hit(name: string): number {
    const n = (this.counts.get(name) ?? 0) + 1;
    this.counts.set(name, n);
    return n;
  }
  of(name: string): number {
    return this.counts.get(name) ?? 0;
  }
}

const BYTES = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 10, 13, 0x7f]);
type Req = { user?: { id: string }; doNotCache?: boolean; headers: Record<string, string | undefined> };
type Res = { cookie?: (n: string, v: string) => void; setCookie?: unknown; header(n: string, v: string): unknown; setHeader?: (n: string, v: string) => unknown };

@Controller()
@UseInterceptors(TenantCacheInterceptor)
class CachedController {
  constructor(readonly runs: Runs) {}

  @CacheResponse({ ttl: 60_000 })
  @Get('items')
  items(@Query() query: Record<string, unknown>) {
    return { tenant: TenantContext.current(), query, run: this.runs.hit('items') };
  }

  @CacheResponse({ ttl: 60_000 })
  @Get('me')
  me(@Req() req: Req) {
    return { user: req.user?.id ?? null, auth: req.headers.authorization ?? null, run: this.runs.hit('me') };
  }

  @CacheResponse({ ttl: 60_000, scope: 'tenant' })
  @Get('tenant-wide')
  tenantWide(@Req() req: Req) {
    return { user: req.user?.id ?? null, run: this.runs.hit('tenant-wide') };
  }

  @CacheResponse({ ttl: 60_000 })
  @Get('text')
  @Header('content-type', 'text/plain; charset=utf-8')
  text() {
    this.runs.hit('text');
    return 'plain text ✓ body';
  }

  @CacheResponse({ ttl: 60_000 })
  @Get('bytes')
  @Header('content-type', 'image/png')
  bytes() {
    this.runs.hit('bytes');
    return BYTES;
  }

  @CacheResponse({ ttl: 60_000 })
  @Get('stream')
  stream() {
    this.runs.hit('stream');
    return new StreamableFile(Readable.from([Buffer.from('streamed')]), { type: 'text/csv' });
  }

  @CacheResponse({ ttl: 60_000, streams: true })
  @Get('stream-ok')
  streamOk() {
    this.runs.hit('stream-ok');
    return new StreamableFile(Readable.from([Buffer.from('a,b\n'), Buffer.from('1,2\n')]), { type: 'text/csv' });
  }

  @CacheResponse({ ttl: 60_000, streams: true })
  @Get('stream-big')
  streamBig() {
    this.runs.hit('stream-big');
    return new StreamableFile(Readable.from(Array.from({ length: 100 }, (_, i) => Buffer.alloc(1024, 97 + (i % 26)))), { type: 'application/octet-stream' });
  }

  @CacheResponse({ ttl: 60_000 })
  @Get('raw')
  raw(@Res() res: { send?: (b: string) => void; status(n: number): { send(b: string): void } }) {
    this.runs.hit('raw');
    res.status(200).send('sent by the handler');
  }

  @CacheResponse({ ttl: 60_000 })
  @Sse('events')
  events() {
    this.runs.hit('events');
    return interval(5).pipe(
      take(3),
      map((i) => ({ data: { i } })),
    );
  }

  @CacheResponse({ ttl: 60_000 })
  @Get('session')
  @Header('Vary', 'Cookie')
  session() {
    return { run: this.runs.hit('session') };
  }

  @CacheResponse({ ttl: 60_000, key: [ResponseKey.path(), ResponseKey.headers('accept-language')] })
  @Get('localized')
  @Header('Vary', 'Origin, Accept-Language')
  localized() {
    return { run: this.runs.hit('localized') };
  }

  @CacheResponse({ ttl: 60_000 })
  @Get('cookie')
  cookie(@Res({ passthrough: true }) res: Res) {
    if (res.setHeader) res.setHeader('set-cookie', 'sid=1');
    else res.header('set-cookie', 'sid=1');
    return { run: this.runs.hit('cookie') };
  }

  @CacheResponse({ ttl: 60_000 })
  @Get('private')
  @Header('cache-control', 'private, max-age=10')
  private() {
    return { run: this.runs.hit('private') };
  }

  @CacheResponse({ ttl: 60_000 })
  @Get('no-store')
  @Header('Cache-Control', 'no-store')
  noStore() {
    return { run: this.runs.hit('no-store') };
  }

  @CacheResponse({ ttl: 60_000 })
  @Get('accepted')
  @HttpCode(202)
  accepted() {
    return { run: this.runs.hit('accepted') };
  }

  @CacheResponse({ ttl: 60_000, statuses: [200] })
  @Get('only-200')
  @HttpCode(203)
  only200() {
    return { run: this.runs.hit('only-200') };
  }

  @CacheResponse({ ttl: 60_000 })
  @Get('missing/:id')
  missing(@Param('id') id: string) {
    this.runs.hit('missing');
    throw new NotFoundException(`no ${id}`);
  }

  @CacheResponse({ ttl: 60_000 })
  @Get('throws')
  throws() {
    this.runs.hit('throws');
    throw new Error('boom');
  }

  @CacheResponse({ ttl: 60_000 })
  @Get('cyclic')
  cyclic() {
    const a: Record<string, unknown> = { run: this.runs.hit('cyclic') };
    a.self = a;
    return a;
  }

  @CacheResponse({ ttl: 60_000 })
  @Get('dnc')
  dnc(@Req() req: Req, @Query('skip') skip?: string) {
    if (skip) req.doNotCache = true;
    return { run: this.runs.hit('dnc') };
  }

  @CacheResponse({ ttl: 60_000, onlyIf: (req) => req.headers['x-cacheable'] === 'yes' })
  @Get('only-if')
  onlyIf() {
    return { run: this.runs.hit('only-if') };
  }

  @NoCache()
  @CacheResponse({ ttl: 60_000 })
  @Get('never')
  never() {
    return { run: this.runs.hit('never') };
  }

  @CacheResponse({ ttl: 60_000, key: () => 'same for everyone', scope: 'tenant' })
  @Get('custom-key')
  customKey(@Req() req: Req) {
    return { tenant: TenantContext.current(), user: req.user?.id ?? null, run: this.runs.hit('custom-key') };
  }

  @CacheResponse({ ttl: 60_000, key: PageKey })
  @Get('constructor-key')
  constructorKey(@Query('page') page: string) {
    return { tenant: TenantContext.current(), page, run: this.runs.hit('constructor-key') };
  }

  @CacheResponse({ ttl: 60_000, key: () => 'fixed' })
  @Post('post-with-key')
  post() {
    return { run: this.runs.hit('post') };
  }

  @CacheResponse({ ttl: 60_000, key: [ResponseKey.path(), ResponseKey.query({ allow: ['page'] }), ResponseKey.headers('accept-language')] })
  @Get('keyed')
  keyed(@Query('page') page: string, @Req() req: Req) {
    return { page, lang: req.headers['accept-language'] ?? null, run: this.runs.hit('keyed') };
  }

  @CacheResponse({ ttl: 60_000, tags: ['products', versioned('catalog'), Surrogate.entity('product')] })
  @Get('products/:id')
  product(@Param('id') id: string) {
    return { id, run: this.runs.hit(`product:${id}`) };
  }

  @CacheResponse({ ttl: 1, staleIfError: 60_000 })
  @Get('stale')
  stale(@Query('fail') fail?: string) {
    const run = this.runs.hit('stale');
    if (fail && run > 1) throw new Error('upstream down');
    return { run };
  }

  @CacheResponse({ ttl: 60_000, cacheControl: { maxAge: 30, sMaxAge: 300, public: true } })
  @Get('public')
  publicPage() {
    return { run: this.runs.hit('public') };
  }
}

@Controller()
class UncachedController {
  constructor(private readonly cache: TenantCacheService) {}

  @Post('invalidate')
  async invalidate(@Query('tag') tag: string, @Query('versioned') v?: string) {
    return { result: await this.cache.invalidateTag(v ? versioned(tag) : tag) };
  }
}

/** A fake authentication: `x-user` becomes `req.user`. */
class FakeAuthGuard {
  canActivate(context: { switchToHttp(): { getRequest(): Req } }) {
    const req = context.switchToHttp().getRequest();
    const user = req.headers['x-user'];
    if (user) req.user = { id: user };
    return true;
  }
}

function appFor(store: StoreCase, prefix: string): Type {
  @Module({
    imports: [
      TenantCacheModule.forRoot({ keyPrefix: prefix, stores: { default: store.definition() }, tenant: { authorize: () => true }, http: { maxBodyBytes: 64 * 1024 } }),
    ],
    controllers: [CachedController, UncachedController],
    providers: [Runs, { provide: APP_GUARD, useClass: FakeAuthGuard }, { provide: APP_GUARD, useClass: TenantGuard }],
  })
  class ResponseApp {}
  return ResponseApp;
}

const STORES = storeCases().filter((s) => s.name === 'memory' || s.name.startsWith('redis (node-redis'));

describe.each(STORES.flatMap((store) => ADAPTERS.map((adapter) => [adapter, store] as [AdapterKind, StoreCase])))('response cache (%s, %s)', (adapter, store) => {
  let app: RunningApp;
  let runs: Runs;
  const logger = new CapturingLogger();
  const prefix = `resp-e2e:${process.pid}:${Date.now().toString(36)}:${adapter}:`;
  const get = (path: string, tenant = 'acme', headers: Record<string, string> = {}) => app.call(path, { headers: { 'x-tenant-id': tenant, ...headers } });

  beforeAll(async () => {
    app = await startApp(adapter, appFor(store, prefix), { logger });
    runs = app.app.get(Runs);
  });
  afterAll(async () => {
    // NOTE: only this suite's keys: flushAllTenants() would FLUSHDB the Redis other suites share meanwhile.
    await (await app.app.get(StoreRegistry).get('default')).store.deleteByPrefix(prefix).catch(() => undefined);
    await app.close();
  });
  beforeEach(() => {
    logger.lines.length = 0;
  });

  it('misses, then hits with the same body, Age, X-Cached-At and a strong ETag', async () => {
    const first = await get('/items?b=2&a=1');
    expect(first.status).toBe(200);
    expect(first.headers['x-cache']).toBe('MISS');
    expect(first.body).toEqual({ tenant: 'acme', query: { a: '1', b: '2' }, run: 1 });
    expect(first.headers.etag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    expect(first.headers['content-type']).toMatch(/^application\/json/);
    const second = await get('/items?a=1&b=2');
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.bytes.equals(first.bytes)).toBe(true);
    expect(second.headers.etag).toBe(first.headers.etag);
    expect(second.headers['content-type']).toBe(first.headers['content-type']);
    expect(Number(second.headers.age)).toBeGreaterThanOrEqual(0);
    expect(new Date(second.headers['x-cached-at']!).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(runs.of('items')).toBe(1);
  });

  it('keys the query canonically: order does not matter, repeated values are kept whole', async () => {
    const a = await get('/items?tag=x&tag=y&q=1');
    const b = await get('/items?q=1&tag=y&tag=x');
    expect(b.headers['x-cache']).toBe('HIT');
    expect(b.body).toEqual(a.body);
    const c = await get('/items?q=1&tag=y');
    expect(c.headers['x-cache']).toBe('MISS');
    expect(c.body.query).toEqual({ q: '1', tag: 'y' });
  });

  it('answers 304 Not Modified to a matching If-None-Match, with no body', async () => {
    const first = await get('/items?etag=1');
    const etag = first.headers.etag!;
    const again = await get('/items?etag=1', 'acme', { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.bytes.length).toBe(0);
    expect(again.headers.etag).toBe(etag);
    const weak = await get('/items?etag=1', 'acme', { 'if-none-match': `"other", W/${etag}` });
    expect(weak.status).toBe(304);
    const other = await get('/items?etag=1', 'acme', { 'if-none-match': '"nope"' });
    expect(other.status).toBe(200);
    expect(other.body.run).toBe(first.body.run);
  });

  it('serves HEAD from the GET entry', async () => {
    const first = await get('/items?head=1');
    const before = runs.of('items');
    const head = await app.call('/items?head=1', { method: 'HEAD', headers: { 'x-tenant-id': 'acme' } });
    expect(head.status).toBe(200);
    expect(head.headers['x-cache']).toBe('HIT');
    expect(head.headers.etag).toBe(first.headers.etag);
    expect(head.bytes.length).toBe(0);
    expect(runs.of('items')).toBe(before);
  });

  it('keeps tenants apart on the same URL', async () => {
    const acme = await get('/items?iso=1', 'acme');
    const globex = await get('/items?iso=1', 'globex');
    expect(acme.body.tenant).toBe('acme');
    expect(globex.body.tenant).toBe('globex');
    expect(globex.headers['x-cache']).toBe('MISS');
    expect((await get('/items?iso=1', 'globex')).body.tenant).toBe('globex');
    expect((await get('/items?iso=1', 'acme')).body.tenant).toBe('acme');
  });

  it("never serves one user's /me to another (user or Authorization header in the key)", async () => {
    const alice = await get('/me', 'acme', { 'x-user': 'alice' });
    const bob = await get('/me', 'acme', { 'x-user': 'bob' });
    expect(alice.body.user).toBe('alice');
    expect(bob.body.user).toBe('bob');
    expect(bob.headers['x-cache']).toBe('MISS');
    expect((await get('/me', 'acme', { 'x-user': 'alice' })).body.user).toBe('alice');
    const anon = await get('/me');
    expect(anon.body.user).toBeNull();
    const tokenA = await get('/me', 'acme', { authorization: 'Bearer token-a' });
    const tokenB = await get('/me', 'acme', { authorization: 'Bearer token-b' });
    expect(tokenA.body.auth).toBe('Bearer token-a');
    expect(tokenB.body.auth).toBe('Bearer token-b');
    expect((await get('/me', 'acme', { authorization: 'Bearer token-a' })).headers['x-cache']).toBe('HIT');
    expect((await get('/me')).body.user).toBeNull();
  });

  it('shares a scope: "tenant" entry between the users of a tenant', async () => {
    const alice = await get('/tenant-wide', 'acme', { 'x-user': 'alice' });
    const bob = await get('/tenant-wide', 'acme', { 'x-user': 'bob' });
    expect(bob.headers['x-cache']).toBe('HIT');
    expect(bob.body).toEqual(alice.body);
  });

  it('replays text and binary bodies byte for byte, with their content type', async () => {
    const text1 = await get('/text');
    const text2 = await get('/text');
    expect(text2.headers['x-cache']).toBe('HIT');
    expect(text2.bytes.toString('utf8')).toBe('plain text ✓ body');
    expect(text2.headers['content-type']).toBe(text1.headers['content-type']);
    expect(text2.headers['content-type']).toMatch(/^text\/plain/);
    const bin1 = await get('/bytes');
    const bin2 = await get('/bytes');
    expect(bin1.headers['x-cache']).toBe('MISS');
    expect(bin2.headers['x-cache']).toBe('HIT');
    expect(bin1.bytes.equals(BYTES)).toBe(true);
    expect(bin2.bytes.equals(BYTES)).toBe(true);
    expect(bin2.headers['content-type']).toBe('image/png');
    expect(runs.of('bytes')).toBe(1);
  });

  it('never caches a streamed body unless streams: true', async () => {
    const s1 = await get('/stream');
    const s2 = await get('/stream');
    expect(s2.bytes.toString()).toBe('streamed');
    expect(s2.headers['x-cache']).toBe('BYPASS');
    expect(runs.of('stream')).toBe(2);
    const ok1 = await get('/stream-ok');
    const ok2 = await get('/stream-ok');
    expect(ok1.bytes.toString()).toBe('a,b\n1,2\n');
    expect(ok2.headers['x-cache']).toBe('HIT');
    expect(ok2.bytes.toString()).toBe('a,b\n1,2\n');
    expect(ok2.headers['content-type']).toBe('text/csv');
    expect(s1.status).toBe(200);
  });

  it('serves a streamed body over http.maxBodyBytes whole, uncached', async () => {
    const a = await get('/stream-big');
    const b = await get('/stream-big');
    expect(a.bytes.length).toBe(100 * 1024);
    expect(a.bytes.subarray(0, 3).toString()).toBe('aaa');
    expect(a.bytes.subarray(99 * 1024, 99 * 1024 + 3).toString()).toBe('vvv');
    expect(b.headers['x-cache']).toBe('BYPASS');
    expect(runs.of('stream-big')).toBe(2);
  });

  it('passes @Sse() streams through untouched (every event, as they come)', async () => {
    const a = await get('/events');
    const b = await get('/events');
    for (const r of [a, b]) {
      expect(r.headers['content-type']).toMatch(/^text\/event-stream/);
      expect(r.bytes.toString().match(/data: \{"i":\d\}/g)).toEqual(['data: {"i":0}', 'data: {"i":1}', 'data: {"i":2}']);
    }
    expect(runs.of('events')).toBe(2);
  });

  it('never caches a handler that sends the response itself (@Res() without passthrough)', async () => {
    const a = await get('/raw');
    const b = await get('/raw');
    expect(a.bytes.toString()).toBe('sent by the handler');
    expect(b.bytes.toString()).toBe('sent by the handler');
    expect(b.headers['x-cache']).toBe('BYPASS');
    expect(runs.of('raw')).toBe(2);
  });

  it.each([
    ['cookie', '/cookie'],
    ['private', '/private'],
    ['no-store', '/no-store'],
    ['only-200', '/only-200'],
  ])('never stores a response it must not (%s)', async (name, path) => {
    const a = await get(path);
    const b = await get(path);
    expect(a.headers['x-cache']).toBe('BYPASS');
    expect(b.headers['x-cache']).toBe('BYPASS');
    expect(b.body.run).toBe(a.body.run + 1);
    expect(runs.of(name)).toBeGreaterThanOrEqual(2);
  });

  it('never stores a response that varies on a header the key does not hold (e.g. a session cookie)', async () => {
    const a = await get('/session');
    const b = await get('/session');
    expect(b.headers['x-cache']).toBe('BYPASS');
    expect(b.body.run).toBe(a.body.run + 1);
    expect(logger.lines.some((l) => l.level === 'warn' && /varies on "cookie"/.test(l.message))).toBe(true);
    await get('/localized', 'acme', { 'accept-language': 'de' });
    const hit = await get('/localized', 'acme', { 'accept-language': 'de' });
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers.vary!.toLowerCase().split(', ').sort()).toEqual(['accept-language', 'origin']);
  });

  it('stores a 2xx status other than 200 and replays it', async () => {
    const a = await get('/accepted');
    const b = await get('/accepted');
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(b.headers['x-cache']).toBe('HIT');
  });

  it('never caches errors: thrown HttpExceptions and unexpected errors run every time', async () => {
    expect((await get('/missing/1')).status).toBe(404);
    expect((await get('/missing/1')).status).toBe(404);
    expect(runs.of('missing')).toBe(2);
    expect((await get('/throws')).status).toBe(500);
    expect((await get('/throws')).status).toBe(500);
    expect(runs.of('throws')).toBe(2);
  });

  it('does not cache a body it cannot serialize, and says so in the log', async () => {
    const before = runs.of('cyclic');
    const res = await get('/cyclic');
    expect(res.status).toBe(500); // what Nest does with a cyclic body, cached or not
    await get('/cyclic');
    expect(runs.of('cyclic')).toBe(before + 2);
    expect(logger.lines.some((l) => l.level === 'warn' && /not serializable/.test(l.message))).toBe(true);
  });

  it('bypasses with @NoCache, request.doNotCache, onlyIf, and for non-GET methods even with a custom key', async () => {
    expect((await get('/never')).headers['x-cache']).toBe('BYPASS');
    expect((await get('/never')).body.run).toBe(2);
    expect((await get('/dnc?skip=1')).headers['x-cache']).toBe('BYPASS');
    expect((await get('/dnc?skip=1')).headers['x-cache']).toBe('BYPASS');
    expect((await get('/only-if')).headers['x-cache']).toBe('BYPASS');
    expect((await get('/only-if', 'acme', { 'x-cacheable': 'yes' })).headers['x-cache']).toBe('MISS');
    expect((await get('/only-if', 'acme', { 'x-cacheable': 'yes' })).headers['x-cache']).toBe('HIT');
    const p1 = await app.call('/post-with-key', { method: 'POST', headers: { 'x-tenant-id': 'acme' } });
    const p2 = await app.call('/post-with-key', { method: 'POST', headers: { 'x-tenant-id': 'acme' } });
    expect(p2.body.run).toBe(p1.body.run + 1);
    expect(p2.headers['x-cache']).toBeUndefined();
  });

  it('keeps the tenant in the key whatever the custom key says (function or KeyConstructor)', async () => {
    const acme = await get('/custom-key', 'acme');
    const globex = await get('/custom-key', 'globex');
    expect(acme.body.tenant).toBe('acme');
    expect(globex.body.tenant).toBe('globex');
    expect(globex.headers['x-cache']).toBe('MISS');
    expect((await get('/custom-key', 'globex')).body.tenant).toBe('globex');
    const p1 = await get('/constructor-key?page=1&x=1', 'acme');
    const p1b = await get('/constructor-key?page=1&x=1', 'acme');
    const g1 = await get('/constructor-key?page=1&x=1', 'globex');
    expect(p1b.headers['x-cache']).toBe('HIT');
    expect(p1b.body).toEqual(p1.body);
    expect(g1.body.tenant).toBe('globex');
    expect((await get('/constructor-key?page=2', 'acme')).body.page).toBe('2');
  });

  it('keys on the allowed query parameters and the selected headers, and varies on them', async () => {
    const en = await get('/keyed?page=1&utm=a', 'acme', { 'accept-language': 'en' });
    const en2 = await get('/keyed?utm=b&page=1', 'acme', { 'accept-language': 'en' });
    const fr = await get('/keyed?page=1', 'acme', { 'accept-language': 'fr' });
    expect(en2.headers['x-cache']).toBe('HIT');
    expect(fr.headers['x-cache']).toBe('MISS');
    expect(fr.body.lang).toBe('fr');
    expect(en.headers.vary).toMatch(/accept-language/i);
  });

  it('invalidates by tag and by versioned tag, for the tenant only', async () => {
    await get('/products/1', 'acme');
    await get('/products/1', 'globex');
    expect((await get('/products/1', 'acme')).headers['x-cache']).toBe('HIT');
    await app.call('/invalidate?tag=products', { method: 'POST', headers: { 'x-tenant-id': 'acme' } });
    expect((await get('/products/1', 'acme')).headers['x-cache']).toBe('MISS');
    expect((await get('/products/1', 'globex')).headers['x-cache']).toBe('HIT');
    await app.call('/invalidate?tag=catalog&versioned=1', { method: 'POST', headers: { 'x-tenant-id': 'globex' } });
    expect((await get('/products/1', 'globex')).headers['x-cache']).toBe('MISS');
    expect((await get('/products/1', 'acme')).headers['x-cache']).toBe('HIT');
    await app.call('/invalidate?tag=product:1', { method: 'POST', headers: { 'x-tenant-id': 'acme' } });
    expect((await get('/products/1', 'acme')).headers['x-cache']).toBe('MISS');
  });

  it('sends Cache-Control for downstream caches, private for per-user entries, and Vary on the tenant header when public', async () => {
    const anon = await get('/public');
    expect(anon.headers['cache-control']).toBe('public, max-age=30, s-maxage=300');
    expect(anon.headers.vary).toMatch(/x-tenant-id/i);
    const user = await get('/public', 'acme', { 'x-user': 'alice' });
    expect(user.headers['cache-control']).toBe('private, max-age=30');
  });

  it('serves the expired entry with X-Cache: STALE when the handler throws (staleIfError), and refreshes when it succeeds', async () => {
    const first = await get('/stale?fail=1');
    expect(first.headers['x-cache']).toBe('MISS');
    await new Promise((resolve) => setTimeout(resolve, 10)); // past the 1 ms freshness
    const stale = await get('/stale?fail=1');
    expect(stale.status).toBe(200);
    expect(stale.headers['x-cache']).toBe('STALE');
    expect(stale.body).toEqual(first.body);
    const fresh = await get('/stale');
    expect(fresh.headers['x-cache']).toBe('MISS');
    expect(fresh.body.run).toBeGreaterThan(first.body.run);
  });

  it('hashes malformed and huge query strings into a bounded key without failing', async () => {
    const bad = await get('/items?a=%E0%A4%A&b=%ZZ&&=&c');
    expect(bad.status).toBe(200);
    expect((await get('/items?a=%E0%A4%A&b=%ZZ&&=&c')).headers['x-cache']).toBe('HIT');
    // Two malformed escapes that decode alike stay distinct keys.
    const ff = await get('/items?x=%FF');
    const fe = await get('/items?x=%FE');
    expect(fe.headers['x-cache']).toBe('MISS');
    expect(ff.body.run).not.toBe(fe.body.run);
    const huge = `/items?q=${'x'.repeat(6000)}&r=${'y'.repeat(2000)}`;
    const h1 = await get(huge);
    expect(h1.status).toBe(200);
    expect((await get(huge)).headers['x-cache']).toBe('HIT');
  });
});
