import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Decorator metadata is read in one place per folder (issue 12): lib/decorators/tenant-cache-metadata.accessor.ts
// and lib/http/response-cache-metadata.accessor.ts. Any other file of those folders that reads metadata
// (Reflect.get*Metadata, Reflector.get / getAllAndOverride / getAllAndMerge) fails this test.
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FOLDERS = ['lib/decorators', 'lib/http'];
/** Files allowed to read metadata besides the accessors, and why. */
const ALLOWED: Readonly<Record<string, string>> = {
  // Copies every key of a wrapped method onto its wrapper, whatever library wrote it.
  'lib/decorators/copy-method-metadata.ts': 'copies metadata',
  // Stacks one more @CacheEvict onto the list already recorded (a write); the accessor type-imports this
  // file, so importing the accessor here would close a file cycle.
  'lib/decorators/cache-evict.decorator.ts': 'appends to its own list',
};
const READ = /Reflect\.(getMetadata|getOwnMetadata|hasMetadata|hasOwnMetadata)\(|reflector\.(get|getAll|getAllAndOverride|getAllAndMerge)\b/;

function filesUnder(folder: string): string[] {
  return readdirSync(join(REPO, folder), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(REPO, join(entry.parentPath, entry.name)));
}

describe('decorator metadata reads', () => {
  it('go through the accessor of their folder', () => {
    const offenders: string[] = [];
    for (const file of FOLDERS.flatMap(filesUnder)) {
      if (file.endsWith('.accessor.ts') || file in ALLOWED) continue;
      readFileSync(join(REPO, file), 'utf8')
        .split('\n')
        .forEach((line, index) => {
          if (READ.test(line)) offenders.push(`${file}:${index + 1}: ${line.trim()}`);
        });
    }
    expect(offenders).toEqual([]);
  });
});
