// The package page a user reads on npm and in node_modules: every relative link of README.md,
// CHANGELOG.md and docs/*.md, as shipped in the installed tarball, names a file the tarball contains
// (npm shows the README with its relative links; they must not lead to files left out of "files"),
// and the manifest says where the project lives (repository, homepage, bugs).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGE_DIR = join(ROOT, 'node_modules', 'nestjs-tenant-cache');
const manifest = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8'));

/** Markdown links and images, `[text](target "title")`, outside fenced code blocks. */
function linksOf(markdown) {
  const prose = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  return [...prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
}

function isRelative(target) {
  return !/^([a-z][a-z0-9+.-]*:|#|\/\/)/i.test(target);
}

const pages = ['README.md', 'CHANGELOG.md'].filter((file) => existsSync(join(PACKAGE_DIR, file)));
if (existsSync(join(PACKAGE_DIR, 'docs'))) {
  for (const file of readdirSync(join(PACKAGE_DIR, 'docs')).sort()) if (file.endsWith('.md')) pages.push(`docs/${file}`);
}

describe('links of the packed README, CHANGELOG and docs', () => {
  it('the tarball has a README and a CHANGELOG', () => {
    assert.ok(pages.includes('README.md'), 'README.md is not in the tarball');
    assert.ok(pages.includes('CHANGELOG.md'), 'CHANGELOG.md is not in the tarball');
  });

  it('every relative link of README.md names a file in the tarball', () => {
    const readme = readFileSync(join(PACKAGE_DIR, 'README.md'), 'utf8');
    assert.ok(linksOf(readme).some(isRelative), 'README.md has no relative link: this test would check nothing');
  });

  for (const page of pages) {
    it(`${page}: every relative link names a file in the tarball`, () => {
      const broken = [];
      for (const target of linksOf(readFileSync(join(PACKAGE_DIR, page), 'utf8')).filter(isRelative)) {
        const path = decodeURIComponent(target.split('#')[0].split('?')[0]);
        if (path === '') continue;
        const file = normalize(join(PACKAGE_DIR, dirname(page), path));
        const inside = file.startsWith(PACKAGE_DIR + sep) && !relative(PACKAGE_DIR, file).startsWith('node_modules');
        if (!inside || !existsSync(file) || !statSync(file).isFile()) broken.push(target);
      }
      assert.deepEqual(broken, [], `${page} links to files the tarball does not contain`);
    });
  }
});

describe('package.json metadata npm shows', () => {
  it('names the repository, the homepage and where to report bugs', () => {
    assert.match(manifest.repository?.url ?? '', /^git\+https:\/\/github\.com\/[^/]+\/[^/]+\.git$/);
    assert.match(manifest.homepage ?? '', /^https:\/\//);
    assert.match(manifest.bugs?.url ?? '', /^https:\/\/.*\/issues$/);
  });
});
