// The package's types, as a TypeScript Nest 11 app compiles against them: a CommonJS app (the
// classic `module: commonjs` set-up, and `module: nodenext`, where TypeScript >= 5.8 accepts
// require(esm)) and an ESM app. The fixture is written under node_modules/ so the repo's own
// tsconfig (which includes test/) never sees it.
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
import { Injectable, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { CacheResult, TenantCacheModule, TenantCacheService, TenantContext, TenantGuard, memoryStore } from 'nestjs-tenant-cache';

@Injectable()
export class Reports {
  constructor(private readonly cache: TenantCacheService) {}

  @CacheResult({ ttl: 60_000 })
  async report(id: string): Promise<{ id: string; tenant: string | undefined }> {
    await this.cache.set('last', id);
    return { id, tenant: TenantContext.current() };
  }
}

@Module({
  imports: [TenantCacheModule.forRoot({ isGlobal: true, stores: { default: memoryStore({ maxEntries: 100 }) } })],
  providers: [Reports, { provide: APP_GUARD, useClass: TenantGuard }],
})
export class AppModule {}

// @ts-expect-error a TTL is a number: the types are real, not \`any\`
TenantCacheModule.forRoot({ defaultTtl: '1m' });
`;

const SET_UPS = [
  { name: 'CommonJS app, module commonjs', dir: 'commonjs', type: 'commonjs', module: 'commonjs', moduleResolution: 'node10' },
  { name: 'CommonJS app, module nodenext', dir: 'cjs-nodenext', type: 'commonjs', module: 'nodenext', moduleResolution: 'nodenext' },
  { name: 'ESM app, module nodenext', dir: 'esm-nodenext', type: 'module', module: 'nodenext', moduleResolution: 'nodenext' },
];

after(() => rmSync(WORK, { recursive: true, force: true }));

describe('the package\'s types compile in a TypeScript Nest 11 app', () => {
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
            strict: true,
            experimentalDecorators: true,
            emitDecoratorMetadata: true,
            skipLibCheck: true,
            noEmit: true,
            types: [],
          },
          files: ['app.ts'],
        }),
      );
      const result = spawnSync(process.execPath, [TSC, '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
      assert.equal(result.status, 0, `tsc failed:\n${result.stdout}${result.stderr}`);
    });
  }
});
