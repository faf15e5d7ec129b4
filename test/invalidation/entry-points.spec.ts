import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

/** Runtime imports (not `import type`) of a source file: relative files and package names. */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(?!type\b)([^;]*?)\s+from\s+'([^']+)'/gms)) {
    // `import { type A, type B } from` brings nothing at runtime.
    if (/^\{\s*(type\s+[^,}]+\s*,?\s*)+\}$/.test(m[2]!.trim())) continue;
    out.push(m[3]!);
  }
  for (const m of text.matchAll(/import\(\s*'([^']+)'\s*\)/g)) out.push(m[1]!);
  return out;
}

/** Every package the module graph of `entry` loads at runtime. */
function packagesLoadedBy(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of runtimeImports(file)) {
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  };
  visit(entry);
  return packages;
}

describe('entry points', () => {
  it('the main entry never loads typeorm or bullmq (optional peers behind subpath exports)', () => {
    const loaded = packagesLoadedBy(resolve(root, 'lib/index.ts'));
    expect(loaded.has('@nestjs/common')).toBe(true); // the walk does follow the graph
    expect(loaded.has('typeorm')).toBe(false);
    expect(loaded.has('bullmq')).toBe(false);
  });

  it('nestjs-tenant-cache/bullmq loads bullmq; /typeorm needs typeorm only for types', () => {
    expect(packagesLoadedBy(resolve(root, 'lib/invalidation/bullmq/index.ts')).has('bullmq')).toBe(true);
    expect(packagesLoadedBy(resolve(root, 'lib/invalidation/typeorm/index.ts')).has('typeorm')).toBe(false);
  });

  it('package.json exports both subpaths the way it exports "."', () => {
    const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as {
      exports: Record<string, Record<string, string>>;
      peerDependenciesMeta: Record<string, { optional?: boolean }>;
    };
    for (const [sub, dir] of [
      ['./typeorm', 'invalidation/typeorm'],
      ['./bullmq', 'invalidation/bullmq'],
    ] as const) {
      expect(pkg.exports[sub]).toEqual({
        types: `./dist/${dir}/index.d.ts`,
        import: `./dist/${dir}/index.js`,
        require: `./dist/${dir}/index.js`,
        default: `./dist/${dir}/index.js`,
      });
    }
    expect(pkg.peerDependenciesMeta.typeorm?.optional).toBe(true);
    expect(pkg.peerDependenciesMeta.bullmq?.optional).toBe(true);
  });
});
