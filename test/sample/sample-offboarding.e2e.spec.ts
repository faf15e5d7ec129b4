import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppModule } from '../../sample/app.module.js';
import { type RunningApp, startApp } from '../http/http-app.js';

/** The sample's offboarding route: DELETE /admin/tenants/:id purges the tenant, then shreds its data key. */
describe('sample app: offboarding a tenant (purgeTenant + shredTenant)', () => {
  let app: RunningApp;
  const get = (path: string, tenant: string) => app.call(path, { headers: { 'x-tenant-id': tenant } });
  const saved = { secret: process.env.CACHE_SECRET, token: process.env.ADMIN_TOKEN };
  const TOKEN = 'sample-operator-token-0123';
  const operator = { 'x-admin-token': TOKEN };

  beforeAll(async () => {
    process.env.CACHE_SECRET = 'sample-offboarding-secret-0123456789abcdef';
    process.env.ADMIN_TOKEN = TOKEN;
    app = await startApp('express', AppModule);
  });
  afterAll(async () => {
    await app?.close();
    for (const [name, value] of [
      ['CACHE_SECRET', saved.secret],
      ['ADMIN_TOKEN', saved.token],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it("removes the tenant's cached responses, reports it, destroys its key, and leaves the other tenant's", async () => {
    for (const tenant of ['acme', 'globex']) {
      await get('/products/1', tenant);
      expect((await get('/products/1', tenant)).headers['x-cache']).toBe('HIT');
    }
    expect((await app.call('/admin/tenants/acme', { method: 'DELETE' })).status).toBe(403); // operators only
    const res = await app.call('/admin/tenants/acme', { method: 'DELETE', headers: operator });
    expect(res.status).toBe(200);
    const body = res.body as { purge: { tenant: string; removed: number; complete: boolean }; shred: { stores: string[] } };
    expect(body.purge).toMatchObject({ tenant: 'acme', complete: true });
    expect(body.purge.removed).toBeGreaterThan(0);
    expect(body.shred).toEqual({ tenant: 'acme', stores: ['default'] });
    expect((await get('/products/1', 'acme')).headers['x-cache']).toBe('MISS');
    expect((await get('/products/1', 'globex')).headers['x-cache']).toBe('HIT');
  });

  it('refuses an invalid tenant id', async () => {
    const res = await app.call('/admin/tenants/a%3Ab', { method: 'DELETE', headers: operator });
    expect(res.status).toBeGreaterThanOrEqual(400);
  });
});
