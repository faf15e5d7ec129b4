import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppModule } from '../../sample/app.module.js';
import { type RunningApp, startApp } from '../http/http-app.js';

/** The sample's operator routes: the cache's counters and the admin module, behind ADMIN_TOKEN. */
describe('sample app: operator routes (stats, admin module)', () => {
  let app: RunningApp;
  const TOKEN = 'sample-ops-token-0123456789';
  const saved = process.env.ADMIN_TOKEN;
  const get = (path: string, tenant: string) => app.call(path, { headers: { 'x-tenant-id': tenant } });
  const operator = (path: string, token = TOKEN) => app.call(path, { headers: { 'x-admin-token': token } });

  beforeAll(async () => {
    process.env.ADMIN_TOKEN = TOKEN;
    app = await startApp('express', AppModule);
  });
  afterAll(async () => {
    await app?.close();
    if (saved === undefined) delete process.env.ADMIN_TOKEN;
    else process.env.ADMIN_TOKEN = saved;
  });

  it('refuses without the token, with a wrong one, and to a tenant header alone', async () => {
    for (const path of ['/ops/cache-stats', '/ops/cache/acme/footprint', '/ops/cache']) {
      expect((await app.call(path)).status, path).toBe(403);
      expect((await operator(path, 'x'.repeat(TOKEN.length))).status, path).toBe(403);
      expect((await get(path, 'acme')).status, path).toBe(403);
    }
  });

  it("shows the hit ratio per tenant, and the tenant's footprint, never another tenant's numbers", async () => {
    for (let i = 0; i < 4; i++) await get('/products/2', 'acme'); // 1 miss, 3 hits
    await get('/products/2', 'globex'); // 1 miss
    const acme = await operator('/ops/cache-stats/acme');
    expect(acme.status).toBe(200);
    expect(acme.body).toMatchObject({ tenant: 'acme', tracked: true });
    expect(acme.body.requests.hit).toBeGreaterThanOrEqual(3);
    const all = await operator('/ops/cache-stats');
    expect(all.body.requests.hit).toBeGreaterThanOrEqual(acme.body.requests.hit);
    expect(all.body.tenants.acme.requests).toEqual(acme.body.requests);
    expect(all.body.tenants.globex?.requests.hit ?? 0).toBe(0);
    const footprint = await operator('/ops/cache/acme/footprint');
    expect(footprint.status).toBe(200);
    expect(footprint.body).toMatchObject({ tenant: 'acme', complete: true, stats: { tenant: 'acme', tracked: true } });
    expect(footprint.body.stores[0].entries).toBeGreaterThan(0);
  });
});
