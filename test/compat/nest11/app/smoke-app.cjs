'use strict';
// The smoke app, in plain JavaScript: what `tsc` emits for a small Nest 11 app using the package.
// It takes the modules the consumer loaded (with require or with import), so the CommonJS and the
// ESM test files boot the same app from their own copies of the imports.
require('reflect-metadata');

/** `@Decorator() class X {}`, as tsc's `__decorate` applies it. */
function decorateClass(target, decorators) {
  return Reflect.decorate(decorators, target);
}

/** `@Decorator() method() {}`, as tsc's `__decorate` applies it. */
function decorateMethod(target, name, decorators) {
  const descriptor = Object.getOwnPropertyDescriptor(target.prototype, name);
  Object.defineProperty(target.prototype, name, Reflect.decorate(decorators, target.prototype, name, descriptor));
}

/** A parameter decorator (`@Param('id') id`), as tsc's `__param` turns it into a method decorator. */
function param(index, decorator) {
  return (target, name) => decorator(target, name, index);
}

/**
 * Builds the app module from `{ common, core, lib }` = `@nestjs/common`, `@nestjs/core` and
 * `nestjs-tenant-cache` as the consumer loaded them.
 */
function defineSmokeApp({ common, core, lib }) {
  const { Body, Controller, Get, Injectable, Module, Param, Put } = common;
  const { APP_GUARD } = core;
  const { CacheResult, CurrentTenant, TenantCacheModule, TenantCacheService, TenantContext, TenantGuard, memoryStore } = lib;

  /** A slow computation, cached per tenant and argument; `runs` counts the real executions. */
  class ReportService {
    constructor() {
      this.runs = 0;
    }

    async report(id) {
      this.runs += 1;
      return { id, tenant: TenantContext.current(), run: this.runs };
    }
  }
  decorateClass(ReportService, [Injectable()]);
  decorateMethod(ReportService, 'report', [CacheResult({ ttl: 60_000 })]);

  class ReportsController {
    constructor(reports) {
      this.reports = reports;
    }

    async get(tenantId, id) {
      return { tenantId, report: await this.reports.report(id) };
    }
  }
  decorateMethod(ReportsController, 'get', [Get(':id'), param(0, CurrentTenant()), param(1, Param('id'))]);
  decorateClass(ReportsController, [Controller('reports'), Reflect.metadata('design:paramtypes', [ReportService])]);

  /** Reads and writes TenantCacheService directly: every call acts for the request's tenant. */
  class ValuesController {
    constructor(cache) {
      this.cache = cache;
    }

    async read(key) {
      const value = await this.cache.get(key);
      return { value: value === undefined ? null : value };
    }

    async write(key, body) {
      await this.cache.set(key, body.value);
      return { stored: true };
    }
  }
  decorateMethod(ValuesController, 'read', [Get(':key'), param(0, Param('key'))]);
  decorateMethod(ValuesController, 'write', [Put(':key'), param(0, Param('key')), param(1, Body())]);
  decorateClass(ValuesController, [Controller('values'), Reflect.metadata('design:paramtypes', [TenantCacheService])]);

  class AppModule {}
  decorateClass(AppModule, [
    Module({
      imports: [TenantCacheModule.forRoot({ isGlobal: true, stores: { default: memoryStore({ maxEntries: 1_000 }) } })],
      controllers: [ReportsController, ValuesController],
      providers: [ReportService, { provide: APP_GUARD, useClass: TenantGuard }],
    }),
  ]);

  return { AppModule, ReportService };
}

module.exports = { defineSmokeApp };
