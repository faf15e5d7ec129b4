// The installed tarball's "exports" map, read at run time so new subpaths are covered: every entry
// resolves and loads with both import and require, and the main entry loads none of the optional
// integrations. Each load runs in a fresh process (support/probe.mjs) confined to this project.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGE_DIR = join(ROOT, 'node_modules', 'nestjs-tenant-cache');
const manifest = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8'));
const require = createRequire(import.meta.url);
const scratch = mkdtempSync(join(tmpdir(), 'ntc-compat-probe-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Optional integrations: a memory-only user has none of them, so the main entry must not load them. */
const OPTIONAL_INTEGRATIONS = [
  'typeorm',
  '@nestjs/typeorm',
  'bullmq',
  '@nestjs/bullmq',
  'keyv',
  '@keyv/redis',
  'cache-manager',
  '@nestjs/cache-manager',
  'cache-manager-redis-yet',
  'ioredis',
  'nestjs-cls',
  '@opentelemetry/api',
  '@nestjs/terminus',
];
const optionalPeers = new Set(Object.keys(manifest.peerDependencies ?? {}).filter((name) => manifest.peerDependenciesMeta?.[name]?.optional === true));

let probes = 0;
/** Loads `specifier` in a fresh process with `mode` = 'import' | 'require'; returns probe.mjs's report. */
function probe(mode, specifier) {
  const log = join(scratch, `resolutions-${probes++}.jsonl`);
  const out = execFileSync(process.execPath, [join(ROOT, 'support', 'probe.mjs'), mode, specifier, log], { cwd: ROOT, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1));
}

/** `@scope/name/deep` -> `@scope/name`; `name/deep` -> `name`. */
function packageOf(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Every string target under `condition` in an exports entry (conditions may nest). */
function targetsFor(entry, condition) {
  if (typeof entry === 'string') return condition === 'default' ? [entry] : [];
  return Object.entries(entry ?? {}).flatMap(([key, value]) =>
    key === condition && typeof value === 'string' ? [value] : typeof value === 'object' ? targetsFor(value, condition) : [],
  );
}

function assertInsidePackage(file, what) {
  assert.ok(file.startsWith(PACKAGE_DIR + sep), `${what} resolved to ${file}, outside the installed package`);
  assert.ok(existsSync(file), `${what} resolved to ${file}, which the tarball does not contain`);
}

const entries = typeof manifest.exports === 'string' ? { '.': manifest.exports } : manifest.exports;

describe('package.json "exports" of the packed tarball', () => {
  it('has a main entry with types, import and require', () => {
    assert.ok(entries['.'], 'no "." entry');
    for (const condition of ['types', 'import', 'require']) {
      assert.ok(targetsFor(entries['.'], condition).length > 0, `"." has no "${condition}" condition`);
    }
  });

  for (const [subpath, entry] of Object.entries(entries)) {
    const specifier = subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`;
    if (subpath.includes('*')) {
      it(`${subpath}: pattern entries are not probed`, (t) => t.skip('pattern subpath'));
      continue;
    }

    describe(specifier, () => {
      it('resolves with import and require to files in the tarball, and its types exist', () => {
        assertInsidePackage(fileURLToPath(import.meta.resolve(specifier)), `import "${specifier}"`);
        assertInsidePackage(require.resolve(specifier), `require("${specifier}")`);
        for (const types of targetsFor(entry, 'types')) assertInsidePackage(join(PACKAGE_DIR, types), `types of ${specifier}`);
      });

      if (subpath !== '.' && !subpath.endsWith('.json')) {
        it('has the same types under node10 resolution ("typesVersions", which classic Nest CLI projects read)', () => {
          const mapped = manifest.typesVersions?.['*']?.[subpath.slice(2)];
          assert.ok(Array.isArray(mapped), `"typesVersions" has no "${subpath.slice(2)}" entry`);
          assert.deepEqual(mapped, targetsFor(entry, 'types'));
        });
      }

      it('loads with import and with require, using only what a user installs', (t) => {
        const imported = probe('import', specifier);
        if (!imported.ok) {
          const missing = probeMissing(imported);
          const name = missing && packageOf(missing);
          // A subpath for an integration may need its optional peer; the main entry never may.
          if (subpath !== '.' && name && optionalPeers.has(name)) {
            t.skip(`needs the optional peer ${name}, which this Nest 11 smoke does not install`);
            return;
          }
          assert.fail(`import "${specifier}" failed: ${imported.error.code} ${imported.error.message}`);
        }
        assert.ok(imported.exports > 0, `import "${specifier}" has no exports`);

        const required = probe('require', specifier);
        assert.ok(required.ok, `require("${specifier}") failed: ${required.error?.code} ${required.error?.message}`);
        if (!specifier.endsWith('.json')) assert.equal(required.exports, imported.exports, 'require and import see different exports');
        const outside = required.resolved.filter((r) => r.outside).map((r) => r.specifier);
        assert.deepEqual(outside, [], `require("${specifier}") loaded files from outside the compat project`);
      });
    });
  }
});

/** The specifier a refused resolution names (confine-hooks.mjs: "Cannot find 'x' in the compat project"). */
function probeMissing(report) {
  return /Cannot find '([^']+)'/.exec(report.error?.message ?? '')?.[1];
}

describe('the main entry loads no optional integration', () => {
  for (const mode of ['import', 'require']) {
    it(`${mode} "${manifest.name}"`, () => {
      const report = probe(mode, manifest.name);
      assert.ok(report.ok, `${mode} failed: ${report.error?.code} ${report.error?.message}`);
      const loaded = report.resolved.filter((r) => r.url.startsWith('file:')).map((r) => fileURLToPath(r.url));
      const offending = loaded.filter((file) => OPTIONAL_INTEGRATIONS.some((name) => file.includes(`${sep}node_modules${sep}${name.split('/').join(sep)}${sep}`)));
      assert.deepEqual(offending, [], 'the main entry loaded optional integrations');
      assert.ok(
        loaded.some((file) => file.startsWith(PACKAGE_DIR + sep)),
        "the probe saw none of the package's files",
      );
    });
  }
});

describe("the tarball's files", () => {
  it('are the build, the docs, README, CHANGELOG, LICENSE and package.json only: no specs, tests, sample or bench', () => {
    const files = readdirSync(PACKAGE_DIR, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) =>
        relative(PACKAGE_DIR, join(entry.parentPath ?? entry.path, entry.name))
          .split(sep)
          .join('/'),
      )
      .filter((file) => !file.startsWith('node_modules/')); // dependencies npm nested here, not the tarball's
    const unexpected = files.filter(
      (file) => !file.startsWith('dist/') && !/^docs\/[^/]+\.md$/.test(file) && !['README.md', 'CHANGELOG.md', 'LICENSE', 'package.json'].includes(file),
    );
    assert.deepEqual(unexpected, []);
    assert.deepEqual(
      files.filter((file) => /\.(spec|test)\.|(^|\/)(sample|bench|test|__tests__)\//.test(file)),
      [],
    );
    assert.ok(files.includes('LICENSE'), 'LICENSE is not in the tarball');
    assert.ok(files.includes('dist/index.d.ts'), 'the types are not in the tarball');
    assert.ok(files.includes('docs/tenancy.md'), 'the docs the README links to are not in the tarball');
  });
});
