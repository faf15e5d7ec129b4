import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliIo, runCli } from '../../lib/cli/cli.js';
import type { TenantCacheService } from '../../lib/index.js';
import { bootCache, type TestModule } from '../support/test-module.js';
import { CacheResult, TenantContext, redisStore } from '../../lib/index.js';
import { Injectable } from '@nestjs/common';
import { sharedRedisUrl } from '../support/redis-server.js';

@Injectable()
class Catalog {
  calls = 0;
  @CacheResult({ ttl: 60_000 })
  async product(id: string) {
    this.calls++;
    return { id };
  }
}

const PREFIX = `cli:${process.pid}:${Date.now().toString(36)}:`;
const TENANTS = ['acme', 'acme.', 'acm', 'ACME'];

/** Runs the CLI in process, collecting what it prints. */
async function cli(args: string[], extra: Partial<CliIo> = {}): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, {
    cwd: extra.cwd ?? tmpdir(),
    env: extra.env ?? { TENANT_CACHE_REDIS_URL: sharedRedisUrl(), TENANT_CACHE_KEY_PREFIX: PREFIX },
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    ask: extra.ask,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('nestjs-tenant-cache CLI (real Redis)', () => {
  let app: TestModule;
  let cache: TenantCacheService;

  beforeAll(async () => {
    // The CLI is another instance on the same Redis: counters are not cached here, so its invalidations are seen at once.
    app = await bootCache({ keyPrefix: PREFIX, versionCacheTtl: 0, stores: { default: redisStore({ url: sharedRedisUrl() }) } }, { providers: [Catalog] });
    cache = app.cache;
  });
  afterAll(async () => {
    for (const t of TENANTS) await cache.forTenant(t).clear();
    await app.close();
  });

  const seed = async () => {
    for (const t of TENANTS) for (let i = 0; i < 4; i++) await cache.forTenant(t).set(`user:${i}`, { t, i }, { ttl: 60_000, tags: ['users'] });
  };

  it('prints usage (exit 2) for no command, an unknown command or a flush without a target', async () => {
    expect((await cli([])).code).toBe(2);
    expect((await cli(['frobnicate', 'acme'])).err).toMatch(/Unknown command/);
    const flush = await cli(['flush', 'acme']);
    expect(flush.code).toBe(2);
    expect(flush.err).toMatch(/exactly one of --all/);
  });

  it('says how to configure it when no config is found', async () => {
    const res = await cli(['stores'], { env: {} });
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/TENANT_CACHE_REDIS_URL/);
  });

  it('footprint counts the tenant only (look-alike ids apart), as JSON and as text', async () => {
    await seed();
    const json = await cli(['footprint', 'acme', '--json']);
    expect(json.code).toBe(0);
    const f = JSON.parse(json.out);
    expect(f.tenant).toBe('acme');
    expect(f.stores[0].entries).toBe(4);
    const text = await cli(['footprint', 'acme.']);
    expect(text.out).toMatch(/tenant acme\.: \d+ keys/);
    expect(text.out).toMatch(/default: 4 entries/);
  });

  it('keys and inspect read what the application wrote; the value only with --value', async () => {
    await seed();
    const keys = JSON.parse((await cli(['keys', 'acme', '--prefix', 'user:', '--json'])).out);
    expect(keys.sort()).toEqual(['user:0', 'user:1', 'user:2', 'user:3']);
    const plain = JSON.parse((await cli(['inspect', 'acme', 'user:1', '--json'])).out);
    expect(plain).toMatchObject({ exists: true, key: 'user:1' });
    expect(plain.value).toBeUndefined();
    const withValue = JSON.parse((await cli(['inspect', 'acme', 'user:1', '--value', '--json'])).out);
    expect(withValue.value).toEqual({ t: 'acme', i: 1 });
  });

  it('a flush without --confirm and without a terminal deletes nothing (exit 2); a dry run counts; a wrong answer at the prompt deletes nothing', async () => {
    await seed();
    const refused = await cli(['flush', 'acme', '--prefix', 'user:']);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/would delete 4 entries of tenant "acme"/);
    expect(await cache.forTenant('acme').get('user:1')).toBeDefined();
    const dry = await cli(['flush', 'acme', '--tag', 'users', '--dry-run']);
    expect(dry.out).toMatch(/would delete 4 entries/);
    const wrong = await cli(['flush', 'acme', '--all'], { ask: async () => 'acme.' });
    expect(wrong.code).toBe(2);
    expect(await cache.forTenant('acme').get('user:1')).toBeDefined();
    const mismatched = await cli(['flush', 'acme', '--all', '--confirm', 'ACME']);
    expect(mismatched.code).toBe(2);
    expect(mismatched.err).toMatch(/E_ADMIN_CONFIRMATION/);
  });

  it('flushes by tag, prefix and tenant in the named tenant only (confirmed at the prompt or with --confirm)', async () => {
    await seed();
    const byTag = await cli(['flush', 'acme', '--tag', 'users'], { ask: async () => 'acme' });
    expect(byTag.code).toBe(0);
    expect(byTag.out).toMatch(/deleted 4 entries of tenant "acme"/);
    expect(await cache.forTenant('acme').get('user:1')).toBeUndefined();
    for (const t of TENANTS.slice(1)) expect(await cache.forTenant(t).get('user:1')).toEqual({ t, i: 1 });
    await seed();
    expect((await cli(['flush', 'acme.', '--prefix', 'user:', '--confirm', 'acme.'])).out).toMatch(/deleted 4 entries/);
    expect(await cache.forTenant('acme').get('user:2')).toEqual({ t: 'acme', i: 2 });
    expect((await cli(['flush', 'acm', '--all', '--confirm', 'acm'])).code).toBe(0);
    expect(await cache.forTenant('acm').get('user:1')).toBeUndefined();
    expect(await cache.forTenant('acme').get('user:2')).toEqual({ t: 'acme', i: 2 });
    expect(await cache.forTenant('ACME').get('user:2')).toEqual({ t: 'ACME', i: 2 });
  });

  it('flushes a @CacheResult method by ClassName.methodName without loading the application', async () => {
    const catalog = app.get(Catalog);
    await TenantContext.run('acme', () => catalog.product('1'));
    await TenantContext.run('acme', () => catalog.product('2'));
    await TenantContext.run('acme.', () => catalog.product('1'));
    expect((await cli(['flush', 'acme', '--method', 'Catalog.product', '--dry-run'])).out).toMatch(/would delete 2 entries/);
    expect((await cli(['flush', 'acme', '--method', 'Catalog.product', '--confirm', 'acme'])).code).toBe(0);
    const calls = catalog.calls;
    await TenantContext.run('acme', () => catalog.product('1'));
    await TenantContext.run('acme.', () => catalog.product('1'));
    expect(catalog.calls).toBe(calls + 1);
  });

  it('reads a config module (the options an application gives forRoot) with --config', async () => {
    await seed();
    const dir = mkdtempSync(join(tmpdir(), 'tc-cli-'));
    try {
      const lib = pathToFileURL(join(process.cwd(), 'lib/index.ts')).href;
      writeFileSync(
        join(dir, 'tenant-cache.config.mjs'),
        `import { redisStore } from ${JSON.stringify(lib)};\nexport default () => ({ keyPrefix: ${JSON.stringify(PREFIX)}, stores: { default: redisStore({ url: ${JSON.stringify(sharedRedisUrl())} }) } });\n`,
      );
      // Found in the working directory without --config.
      const res = await cli(['footprint', 'acme', '--json'], { cwd: dir, env: {} });
      expect(res.err).toBe('');
      expect(JSON.parse(res.out).stores[0].entries).toBeGreaterThanOrEqual(4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs as a program: its own process, exit code and output', () => {
    const run = spawnSync(process.execPath, ['--import', '@swc-node/register/esm-register', 'lib/cli/main.ts', 'stores'], {
      env: { ...process.env, TENANT_CACHE_REDIS_URL: sharedRedisUrl(), TENANT_CACHE_KEY_PREFIX: PREFIX },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.stderr).not.toMatch(/Error/);
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe('default');
  });
});
