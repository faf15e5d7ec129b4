'use strict';
// The checks both consumers (CommonJS and ESM) run over real HTTP on a free loopback port.
const assert = require('node:assert/strict');
const path = require('node:path');
const { createRequire } = require('node:module');
const { after, before, describe, it } = require('node:test');
const { defineSmokeApp } = require('./smoke-app.cjs');

/** The compat project's own node_modules: Nest 11 must come from here, never from the repo above. */
const COMPAT_MODULES = path.join(__dirname, '..', 'node_modules') + path.sep;

/** Sends a real HTTP request; `tenant` goes in the default `x-tenant-id` header. */
async function call(base, route, { tenant, method = 'GET', json } = {}) {
  const headers = {};
  if (tenant !== undefined) headers['x-tenant-id'] = tenant;
  if (json !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(base + route, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

/**
 * Boots the smoke app with the modules `load()` returns (`{ common, core, lib }`) and checks it.
 * `entry` is the file the consumer's `nestjs-tenant-cache` resolved to.
 */
function describeSmoke(label, { load, entry }) {
  describe(label, () => {
    let app;
    let base;
    let reports;

    before(async () => {
      const modules = await load();
      const { AppModule, ReportService } = defineSmokeApp(modules);
      app = await modules.core.NestFactory.create(AppModule, { logger: false });
      await app.listen(0, '127.0.0.1');
      base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
      reports = app.get(ReportService);
    });

    after(async () => {
      await app?.close();
    });

    it('loads the packed package with Nest 11 from the compat project', () => {
      const file = entry();
      assert.ok(file.startsWith(COMPAT_MODULES + 'nestjs-tenant-cache' + path.sep), `package resolved to ${file}`);
      const fromPackage = createRequire(file);
      for (const name of ['@nestjs/common', '@nestjs/core']) {
        const manifest = fromPackage.resolve(`${name}/package.json`);
        assert.ok(manifest.startsWith(COMPAT_MODULES), `${name} resolved to ${manifest}`);
        assert.match(fromPackage(`${name}/package.json`).version, /^11\./, `${name} is not Nest 11`);
      }
    });

    it("keeps two tenants' values apart under the same key", async () => {
      assert.equal((await call(base, '/values/greeting', { tenant: 'acme', method: 'PUT', json: { value: 'hello acme' } })).status, 200);
      assert.equal((await call(base, '/values/greeting', { tenant: 'globex', method: 'PUT', json: { value: { from: 'globex' } } })).status, 200);

      assert.deepEqual(await call(base, '/values/greeting', { tenant: 'acme' }), { status: 200, body: { value: 'hello acme' } });
      assert.deepEqual(await call(base, '/values/greeting', { tenant: 'globex' }), { status: 200, body: { value: { from: 'globex' } } });
      assert.deepEqual(await call(base, '/values/greeting', { tenant: 'initech' }), { status: 200, body: { value: null } });
    });

    it('refuses a request without a tenant with 400 naming the header', async () => {
      for (const route of ['/values/greeting', '/reports/r1']) {
        const response = await call(base, route);
        assert.equal(response.status, 400, route);
        assert.match(response.body.message, /x-tenant-id/, route);
      }
      const malformed = await call(base, '/values/greeting', { tenant: 'not a tenant!' });
      assert.equal(malformed.status, 400);
    });

    it('@CacheResult: the second call is a hit, and each tenant has its own entry', async () => {
      const runsBefore = reports.runs;
      const first = await call(base, '/reports/r1', { tenant: 'acme' });
      const second = await call(base, '/reports/r1', { tenant: 'acme' });
      assert.equal(first.status, 200);
      assert.deepEqual(second, first, 'the second call returned a different result');
      assert.equal(first.body.tenantId, 'acme');
      assert.equal(first.body.report.tenant, 'acme');
      assert.equal(reports.runs, runsBefore + 1, 'the method ran again on the second call');

      const other = await call(base, '/reports/r1', { tenant: 'globex' });
      assert.equal(other.body.report.tenant, 'globex', "globex was served acme's entry");
      assert.equal(reports.runs, runsBefore + 2);
      assert.deepEqual(await call(base, '/reports/r1', { tenant: 'globex' }), other);
      assert.equal(reports.runs, runsBefore + 2);
    });
  });
}

module.exports = { describeSmoke };
