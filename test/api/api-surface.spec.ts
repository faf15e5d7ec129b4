import { describe, expect, it } from 'vitest';
import { apiSurface } from './api-surface.js';

// Every name the package exports (root and subpaths), with its declaration as the published `.d.ts`
// spells it. The `.d.ts` files are emitted in memory from lib/, so no build is needed. When this fails,
// read the diff: if the change of the public API is meant, update the snapshot with
// `npx vitest run test/api -u` and commit it with the change.
describe('public API surface', () => {
  it('matches test/api/api-surface.snapshot.txt', { timeout: 120_000 }, async () => {
    await expect(apiSurface()).toMatchFileSnapshot('./api-surface.snapshot.txt');
  });
});
