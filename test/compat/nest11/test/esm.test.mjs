// An ESM consumer: `import` of the package, with Nest 11 (CommonJS) imported beside it.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as common from '@nestjs/common';
import * as core from '@nestjs/core';
import * as lib from 'nestjs-tenant-cache';
import { describeSmoke } from '../app/smoke-suite.cjs';

describeSmoke('ESM consumer: import "nestjs-tenant-cache" on Nest 11', {
  load: async () => ({ common, core, lib }),
  entry: () => fileURLToPath(import.meta.resolve('nestjs-tenant-cache')),
});

it('import and require of the package give the same module (one TenantContext, one module class)', () => {
  const required = createRequire(import.meta.url)('nestjs-tenant-cache');
  assert.equal(required.TenantCacheModule, lib.TenantCacheModule);
  assert.equal(required.TenantContext, lib.TenantContext);
});
