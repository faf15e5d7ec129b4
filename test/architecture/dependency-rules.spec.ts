import { beforeAll, describe, it } from 'vitest';
import { buildImportGraph, cycles, shortestPath, type ImportEdge, type ImportGraph } from './import-graph.js';

// The layering rules of lib/ (issue 12, "Guardrails first"), checked on the import graph that
// test/architecture/import-graph.ts reads (a `type` import is one tsc erases, `runtime` one it keeps).
//
// This was a ratchet: KNOWN_VIOLATIONS named every violation the tree had when the rules were written,
// and issue 12 (the engine split) removed them all. The test fails on a violation that is not listed, and
// also on a listed one that is gone: delete its line in the commit that removes it, so the list only
// shrinks. Do not add lines to make a new violation pass.
const KNOWN_VIOLATIONS: Record<RuleName, readonly string[]> = {
  // (a) Folders read their own options; only the files at the top of lib/ (module, validator, index)
  // import lib/tenant-cache.options.ts; each folder declares the slice it reads (e.g. EngineOptions).
  optionsImport: [],
  // (b) Stores sit below the codec and the engine: lib/stores/ loads neither lib/codec/ nor the engine
  // (lib/engine/) at runtime: the store registry that builds each store's codec lives in lib/engine/.
  storesRuntime: [],
  // (c) No import cycle between the folders of lib/ (each file at the top of lib/ counts as its own
  // node): listed is every folder dependency that lies on a cycle, type imports included. The codec
  // declares what it needs of a store (codec/codec-store.ts), so it imports nothing from lib/stores/.
  folderCycles: [],
  // (d) No import cycle between files, type imports included: every import between two files of one
  // cycle.
  fileCycles: [],
};

type RuleName = 'optionsImport' | 'storesRuntime' | 'folderCycles' | 'fileCycles';

const OPTIONS_FILE = 'lib/tenant-cache.options.ts';

/** Today the engine is one file; issue 12 moves it into lib/engine/. */
function isEngine(file: string): boolean {
  return file === 'lib/service/cache-engine.ts' || file.startsWith('lib/engine/');
}

/** The node of a file in the folder graph: `lib/<folder>`, or the file itself when it sits at the top of lib/. */
function folderNode(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : file;
}

let graph: ImportGraph;

beforeAll(() => {
  graph = buildImportGraph();
}, 120_000);

describe('lib/ dependency rules (ratchet: see KNOWN_VIOLATIONS)', () => {
  it('sees the whole of lib/', () => {
    if (graph.files.length < 100 || !graph.files.includes(OPTIONS_FILE)) {
      throw new Error(`the import graph read only ${graph.files.length} files of lib/; test/architecture/import-graph.ts is broken`);
    }
  });

  it('(a) no folder of lib/ imports lib/tenant-cache.options.ts', () => {
    const found = new Map<string, string>();
    for (const edge of graph.edges) {
      if (edge.to === OPTIONS_FILE && edge.from.split('/').length > 2) found.set(label(edge), `${explain(edge)}: pass the folder its own options type instead`);
    }
    check('optionsImport', found);
  });

  it('(b) lib/stores/ never imports lib/codec/ or the engine at runtime', () => {
    const found = new Map<string, string>();
    for (const edge of graph.edges) {
      if (edge.kind !== 'runtime' || !edge.from.startsWith('lib/stores/')) continue;
      if (edge.to.startsWith('lib/codec/') || isEngine(edge.to)) found.set(label(edge), `${explain(edge)}: a store moves bytes; encoding and the engine sit above it`);
    }
    check('storesRuntime', found);
  });

  it('(c) no import cycle between the folders of lib/', () => {
    const byPair = new Map<string, ImportEdge[]>();
    for (const edge of graph.edges) {
      const pair = `${folderNode(edge.from)} -> ${folderNode(edge.to)}`;
      if (folderNode(edge.from) !== folderNode(edge.to)) byPair.set(pair, [...(byPair.get(pair) ?? []), edge]);
    }
    const pairs = [...byPair.keys()].map((pair) => pair.split(' -> ') as [string, string]);
    const found = new Map<string, string>();
    const notes: string[] = [];
    for (const members of cycles(pairs)) {
      const inCycle = new Set(members);
      notes.push(`a cycle joins ${members.length} nodes: ${members.join(', ')}`);
      for (const [from, to] of pairs) {
        if (!inCycle.has(from) || !inCycle.has(to)) continue;
        const loop = [from, ...shortestPath(to, from, pairs, inCycle)].join(' -> ');
        const imports = byPair.get(`${from} -> ${to}`)!.map((edge) => `      ${explain(edge)}`);
        found.set(`${from} -> ${to}`, [`closes ${loop}, through:`, ...imports].join('\n'));
      }
    }
    check('folderCycles', found, notes);
  });

  it('(d) no import cycle between the files of lib/', () => {
    const pairs = graph.edges.map((edge) => [edge.from, edge.to] as const);
    const found = new Map<string, string>();
    const notes: string[] = [];
    for (const members of cycles(pairs)) {
      const inCycle = new Set(members);
      notes.push(`a cycle joins ${members.length} files: ${members.join(', ')}`);
      for (const edge of graph.edges) {
        if (!inCycle.has(edge.from) || !inCycle.has(edge.to)) continue;
        const loop = [edge.from, ...shortestPath(edge.to, edge.from, pairs, inCycle)].join(' -> ');
        found.set(label(edge), `${explain(edge)}, which closes ${loop}`);
      }
    }
    check('fileCycles', found, notes);
  });
});

function label(edge: ImportEdge): string {
  return `${edge.from} -> ${edge.to}`;
}

function explain(edge: ImportEdge): string {
  return `${edge.from} imports ${edge.to} (${edge.kind === 'type' ? 'type-only' : 'at runtime'})`;
}

/** Fails with one message naming every new violation and every listed one that is gone. */
function check(rule: RuleName, found: ReadonlyMap<string, string>, notes: readonly string[] = []): void {
  const known = new Set(KNOWN_VIOLATIONS[rule]);
  const added = [...found.keys()].filter((key) => !known.has(key)).sort();
  const gone = [...known].filter((key) => !found.has(key)).sort();
  if (added.length === 0 && gone.length === 0) return;
  const where = `KNOWN_VIOLATIONS.${rule} in test/architecture/dependency-rules.spec.ts`;
  const lines: string[] = [];
  if (added.length > 0) {
    lines.push(`${added.length} new violation(s) of rule ${rule}; change the imports (do not list them in ${where}):`);
    for (const key of added) lines.push(`  - ${key}`, `      ${found.get(key)}`);
    for (const note of notes) lines.push(`  (${note})`);
  }
  if (gone.length > 0) {
    lines.push(`${gone.length} known violation(s) of rule ${rule} no longer occur; delete these lines from ${where}:`);
    for (const key of gone) lines.push(`  - '${key}',`);
  }
  throw new Error(lines.join('\n'));
}
