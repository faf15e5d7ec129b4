// The package's types, as a TypeScript Nest 11 app compiles against them: a CommonJS app (the
// classic Nest CLI set-up, `module: commonjs` with `moduleResolution: node10`, and `module: nodenext`,
// where TypeScript >= 5.8 accepts require(esm)) and an ESM app. `skipLibCheck: false`, so every
// published .d.ts is checked against Nest 11's own types, and the app imports the root and every
// subpath of "exports" (node10 resolution ignores "exports": `typesVersions` must map them). The
// fixture is written under node_modules/ so the repo's own tsconfig (which includes test/) never sees it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const WORK = join(ROOT, 'node_modules', '.types-check');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

const APP = `
import 'reflect-metadata';
import { Controller, Get, Injectable, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { CacheResult, CurrentTenant, TenantCacheModule, TenantCacheService, TenantContext, TenantGuard, memoryStore } from 'nestjs-tenant-cache';
import { runStoreConformanceSuite, type StoreConformanceOptions } from 'nestjs-tenant-cache/testing';
import { typeOrmSource } from 'nestjs-tenant-cache/typeorm';
import { bullmqDispatcher, type BullmqDispatcherOptions } from 'nestjs-tenant-cache/bullmq';

@Injectable()
export class Reports {
  constructor(private readonly cache: TenantCacheService) {}

  @CacheResult({ ttl: 60_000 })
  async report(id: string): Promise<{ id: string; tenant: string | undefined }> {
    await this.cache.set('last', id);
    return { id, tenant: TenantContext.current() };
  }
}

@Controller('me')
export class MeController {
  @Get()
  me(@CurrentTenant() tenantId: string, @CurrentTenant({ optional: true }) maybe: string | undefined): string {
    return tenantId + (maybe ?? '');
  }
}

@Module({
  imports: [TenantCacheModule.forRoot({ isGlobal: true, stores: { default: memoryStore({ maxEntries: 100 }) } })],
  controllers: [MeController],
  providers: [Reports, { provide: APP_GUARD, useClass: TenantGuard }],
})
export class AppModule {}

// @ts-expect-error a TTL is a number: the types are real, not \`any\`
TenantCacheModule.forRoot({ defaultTtl: '1m' });

// Every subpath entry resolves to its real types.
export const subpaths = {
  conformance: runStoreConformanceSuite as (name: string, options: StoreConformanceOptions) => void,
  typeorm: typeOrmSource,
  bullmq: (connection: BullmqDispatcherOptions['connection']) => bullmqDispatcher({ connection }),
};
// @ts-expect-error typeOrmSource takes a DataSource: the subpath's types are real, not \`any\`
typeOrmSource('not a data source');
`;

const SET_UPS = [
  // The classic Nest CLI tsconfig (`nest new`): node10 resolution, allowSyntheticDefaultImports.
  {
    name: 'CommonJS app, module commonjs, moduleResolution node10 (Nest CLI)',
    dir: 'commonjs',
    type: 'commonjs',
    module: 'commonjs',
    moduleResolution: 'node10',
    allowSyntheticDefaultImports: true,
  },
  { name: 'CommonJS app, module nodenext', dir: 'cjs-nodenext', type: 'commonjs', module: 'nodenext', moduleResolution: 'nodenext' },
  { name: 'ESM app, module nodenext', dir: 'esm-nodenext', type: 'module', module: 'nodenext', moduleResolution: 'nodenext' },
];

after(() => rmSync(WORK, { recursive: true, force: true }));

describe("the package's types compile in a TypeScript Nest 11 app", () => {
  for (const setUp of SET_UPS) {
    it(setUp.name, () => {
      const dir = join(WORK, setUp.dir);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: setUp.type }));
      writeFileSync(join(dir, 'app.ts'), APP);
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: setUp.module,
            moduleResolution: setUp.moduleResolution,
            ...(setUp.allowSyntheticDefaultImports ? { allowSyntheticDefaultImports: true } : {}),
            strict: true,
            experimentalDecorators: true,
            emitDecoratorMetadata: true,
            skipLibCheck: false,
            noEmit: true,
            types: ['node'],
          },
          files: ['app.ts'],
        }),
      );
      const result = spawnSync(process.execPath, [TSC, '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
      assert.equal(result.status, 0, `tsc failed:\n${result.stdout}${result.stderr}`);
    });
  }
});
