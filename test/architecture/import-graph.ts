// The import graph of lib/ (spec files left out): one edge per (importer, imported file), marked
// `runtime` when the JavaScript that tsc emits still imports the file (a value, a side effect, a
// decorator's `design:paramtypes`, a dynamic `import()`), `type` when the import is erased.
// test/architecture/dependency-rules.spec.ts checks the rules of the layering against it.
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const LIB = join(REPO, 'lib');

export type EdgeKind = 'runtime' | 'type';

export interface ImportEdge {
  /** Paths relative to the repository, `lib/stores/store-registry.ts`. */
  from: string;
  to: string;
  kind: EdgeKind;
}

export interface ImportGraph {
  files: string[];
  edges: ImportEdge[];
}

/** Parses every lib/ file of tsconfig.build.json, and reads which imports survive tsc's emit. */
export function buildImportGraph(): ImportGraph {
  const configFile = join(REPO, 'tsconfig.build.json');
  const config = ts.getParsedCommandLineOfConfigFile(configFile, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
  if (!config || config.errors.length > 0) throw new Error(`import-graph: cannot read ${configFile}`);
  const program = ts.createProgram({
    rootNames: config.fileNames,
    options: { ...config.options, noEmit: false, declaration: false, sourceMap: false, inlineSources: false },
  });

  // What tsc emits for each file: the imports left in the JavaScript are the runtime ones.
  const runtime = new Map<string, Set<string>>();
  program.emit(undefined, (fileName, text, _bom, _onError, sources) => {
    if (!fileName.endsWith('.js')) return;
    const source = sources?.[0];
    if (!source) return;
    const targets = new Set<string>();
    for (const specifier of moduleSpecifiers(text)) {
      const target = resolveSpecifier(source.fileName, specifier);
      if (target) targets.add(target);
    }
    runtime.set(resolve(source.fileName), targets);
  });

  const files: string[] = [];
  const edges: ImportEdge[] = [];
  for (const source of program.getSourceFiles()) {
    const file = resolve(source.fileName);
    if (!isInside(LIB, file) || source.isDeclarationFile) continue;
    files.push(rel(file));
    const targets = new Set<string>();
    for (const specifier of moduleSpecifiers(source.text)) {
      const target = resolveSpecifier(file, specifier);
      if (target) targets.add(target);
    }
    const kept = runtime.get(file) ?? new Set<string>();
    for (const target of targets) edges.push({ from: rel(file), to: rel(target), kind: kept.has(target) ? 'runtime' : 'type' });
  }
  files.sort();
  edges.sort((a, b) => compare(`${a.from} ${a.to}`, `${b.from} ${b.to}`));
  return { files, edges };
}

/** The folder of a lib/ file: its first segment under lib/ (`stores`), or `lib` for the files at the top. */
export function folderOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? parts[1]! : 'lib';
}

/**
 * Strongly connected components with more than one member: every import cycle, each as its sorted
 * members. `edges` are [from, to] pairs.
 */
export function cycles(edges: readonly (readonly [string, string])[]): string[][] {
  const next = new Map<string, string[]>();
  for (const [from, to] of edges) {
    if (from === to) continue;
    next.set(from, [...(next.get(from) ?? []), to]);
    if (!next.has(to)) next.set(to, []);
  }
  // Tarjan, iteratively (lib/ is small, but recursion depth should not depend on it).
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  for (const root of [...next.keys()].sort()) {
    if (index.has(root)) continue;
    const work: { node: string; child: number }[] = [{ node: root, child: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const children = next.get(frame.node)!;
      if (frame.child < children.length) {
        const child = children[frame.child++]!;
        if (!index.has(child)) {
          index.set(child, counter);
          low.set(child, counter++);
          stack.push(child);
          onStack.add(child);
          work.push({ node: child, child: 0 });
        } else if (onStack.has(child)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(child)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        if (component.length > 1) components.push(component.sort());
      }
    }
  }
  return components.sort((a, b) => compare(a.join(' '), b.join(' ')));
}

/** The shortest import path from `start` to `goal` through `within` only, both ends included (for messages). */
export function shortestPath(start: string, goal: string, edges: readonly (readonly [string, string])[], within: ReadonlySet<string>): string[] {
  const next = new Map<string, string[]>();
  for (const [from, to] of edges) if (from !== to && within.has(from) && within.has(to)) next.set(from, [...(next.get(from) ?? []), to]);
  const previous = new Map<string, string>([[start, start]]);
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    if (node === goal) break;
    for (const to of (next.get(node) ?? []).sort()) {
      if (previous.has(to)) continue;
      previous.set(to, node);
      queue.push(to);
    }
  }
  if (!previous.has(goal)) return [start, goal];
  const path = [goal];
  while (path[0] !== start) path.unshift(previous.get(path[0]!)!);
  return path;
}

function moduleSpecifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((file) => file.fileName);
}

/** The lib/ file a relative specifier names (`./x.js` is `./x.ts`), or undefined for packages and JSON. */
function resolveSpecifier(fromFile: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.') || /\.(json|node)$/.test(specifier)) return undefined;
  const base = resolve(dirname(fromFile), specifier);
  const candidates = [base.replace(/\.(m|c)?js$/, '.$1ts'), base, `${base}.ts`, join(base, 'index.ts')];
  const found = candidates.find((candidate) => candidate.endsWith('.ts') && existsSync(candidate));
  if (!found) throw new Error(`import-graph: ${rel(fromFile)} imports ${specifier}, which names no file`);
  return found;
}

function rel(file: string): string {
  return relative(REPO, file).split('\\').join('/');
}

function isInside(dir: string, file: string): boolean {
  const r = relative(dir, file);
  return r !== '' && !r.startsWith('..') && !r.startsWith('/');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
