// The published API, as text: every name each entry point of package.json `exports` gives a user, with
// its kind and its declaration as the published `.d.ts` spells it, plus the non-exported declarations
// those signatures reach (a user sees them through the exported types even without naming them).
//
// By default the `.d.ts` files are emitted in memory from lib/ (tsconfig.build.json, declaration emit
// only), so no `npm run build` is needed; `--dist` reads dist/ instead (after `npm run build`).
// test/api/api-surface.spec.ts compares the text with test/api/api-surface.snapshot.txt.
//
// Usage: node --import @swc-node/register/esm-register test/api/api-surface.ts [--dist]
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ApiSurfaceOptions {
  /** Read the `.d.ts` files from dist/ (what `npm run build` wrote) instead of emitting them in memory. */
  fromDist?: boolean;
}

interface EntryPoint {
  /** The specifier a user imports: `nestjs-tenant-cache`, `nestjs-tenant-cache/testing`. */
  specifier: string;
  /** Absolute path of the entry's `.d.ts`. */
  typesFile: string;
}

/** The API of every entry point, one section each, in package.json order; stable across runs. */
export function apiSurface(options: ApiSurfaceOptions = {}): string {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { name: string; exports: Record<string, unknown> };
  const entries = entryPoints(pkg.name, pkg.exports);
  const config = buildConfig();
  const outDir = config.options.outDir ?? join(REPO, 'dist');
  const declarations = options.fromDist ? undefined : emitDeclarations(config);
  const program = declarationProgram(
    entries.map((entry) => entry.typesFile),
    config.options,
    outDir,
    declarations,
  );
  const checker = program.getTypeChecker();
  const printer = ts.createPrinter({ removeComments: true, newLine: ts.NewLineKind.LineFeed });
  const ownFile = (fileName: string) => isInside(outDir, fileName);

  const modules = entries.map((entry) => {
    const source = program.getSourceFile(entry.typesFile);
    const moduleSymbol = source && checker.getSymbolAtLocation(source);
    if (!moduleSymbol) throw new Error(`api-surface: ${relative(REPO, entry.typesFile)} (${entry.specifier}) was not emitted or has no exports`);
    return moduleSymbol;
  });
  // A declaration exported by any entry point is described there, and not again as merely reachable.
  const exportedAnywhere = new Set(modules.flatMap((moduleSymbol) => checker.getExportsOfModule(moduleSymbol).map((symbol) => resolveAlias(symbol, checker))));
  const sections = entries.map((entry, index) => describeEntry(entry, modules[index]!, exportedAnywhere, checker, printer, ownFile));
  const header = [
    '// The published API of every entry point (test/api/api-surface.ts prints it; test/api/api-surface.spec.ts compares).',
    '// A change here is a change of the public API: make it on purpose, then `npx vitest run test/api -u`.',
  ];
  return `${header.join('\n')}\n\n${sections.join('\n\n')}\n`;
}

function entryPoints(name: string, exports: Record<string, unknown>): EntryPoint[] {
  const entries: EntryPoint[] = [];
  for (const [subpath, target] of Object.entries(exports)) {
    const types = typeof target === 'object' && target !== null ? (target as { types?: unknown }).types : undefined;
    if (typeof types !== 'string') continue; // ./package.json
    entries.push({ specifier: subpath === '.' ? name : `${name}/${subpath.replace(/^\.\//, '')}`, typesFile: resolve(REPO, types) });
  }
  if (entries.length === 0) throw new Error('api-surface: package.json `exports` names no `types`');
  return entries;
}

function buildConfig(): ts.ParsedCommandLine {
  const configFile = join(REPO, 'tsconfig.build.json');
  const config = ts.getParsedCommandLineOfConfigFile(configFile, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => fail([d]) });
  if (!config) throw new Error(`api-surface: cannot read ${configFile}`);
  if (config.errors.length > 0) fail(config.errors);
  return config;
}

/** Declaration emit of lib/ into memory: absolute dist path -> `.d.ts` text. */
function emitDeclarations(config: ts.ParsedCommandLine): Map<string, string> {
  const options: ts.CompilerOptions = {
    ...config.options,
    declaration: true,
    emitDeclarationOnly: true,
    declarationMap: false,
    sourceMap: false,
    inlineSources: false,
    noEmit: false,
  };
  const program = ts.createProgram({ rootNames: config.fileNames, options, projectReferences: config.projectReferences });
  const files = new Map<string, string>();
  const result = program.emit(undefined, (fileName, text) => files.set(resolve(fileName), text), undefined, true);
  if (result.diagnostics.length > 0) fail(result.diagnostics);
  return files;
}

/** A program over the entry `.d.ts` files; with `declarations`, files under `outDir` come only from that map. */
function declarationProgram(rootNames: string[], compilerOptions: ts.CompilerOptions, outDir: string, declarations?: Map<string, string>): ts.Program {
  const options: ts.CompilerOptions = { ...compilerOptions, noEmit: true, skipLibCheck: true };
  const host = ts.createCompilerHost(options, true);
  if (declarations) {
    const inOut = (path: string) => isInside(outDir, resolve(path));
    const { fileExists, readFile, directoryExists, getSourceFile } = host;
    host.fileExists = (path) => (inOut(path) ? declarations.has(resolve(path)) : fileExists.call(host, path));
    host.readFile = (path) => (inOut(path) ? declarations.get(resolve(path)) : readFile.call(host, path));
    host.directoryExists = (path) => {
      if (!inOut(path)) return directoryExists ? directoryExists.call(host, path) : true;
      const dir = resolve(path);
      return [...declarations.keys()].some((file) => isInside(dir, file));
    };
    host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
      if (!inOut(fileName)) return getSourceFile.call(host, fileName, languageVersion, onError, shouldCreate);
      const text = declarations.get(resolve(fileName));
      return text === undefined ? undefined : ts.createSourceFile(fileName, text, languageVersion, true);
    };
  } else {
    for (const file of rootNames) {
      if (!existsSync(file)) throw new Error(`api-surface --dist: ${relative(REPO, file)} is missing; run \`npm run build\` first`);
    }
  }
  return ts.createProgram({ rootNames, options, host });
}

function describeEntry(
  entry: EntryPoint,
  moduleSymbol: ts.Symbol,
  exported: ReadonlySet<ts.Symbol>,
  checker: ts.TypeChecker,
  printer: ts.Printer,
  ownFile: (fileName: string) => boolean,
): string {
  const lines: string[] = [`# ${entry.specifier}`];
  const queue: ts.Symbol[] = [];
  const exports = checker.getExportsOfModule(moduleSymbol).sort((a, b) => compare(a.getName(), b.getName()));
  for (const symbol of exports) {
    const target = resolveAlias(symbol, checker);
    lines.push('', ...describeSymbol(symbol.getName(), target, printer));
    queue.push(...referencedSymbols(target, checker, ownFile));
  }

  // Declarations of our own files that the exported signatures name without exporting them.
  const reachable = new Map<ts.Symbol, string[]>();
  while (queue.length > 0) {
    const symbol = queue.shift()!;
    if (exported.has(symbol) || reachable.has(symbol)) continue;
    reachable.set(symbol, describeSymbol(symbol.getName(), symbol, printer));
    queue.push(...referencedSymbols(symbol, checker, ownFile));
  }
  if (reachable.size > 0) {
    lines.push('', `## ${entry.specifier}: exported by no entry point, reachable from the exports above`);
    const blocks = [...reachable.values()].map((block) => block.join('\n')).sort(compare);
    for (const block of blocks) lines.push('', block);
  }
  return lines.join('\n');
}

/** `name: kind`, then each declaration as printed from the `.d.ts` (comments dropped, indented). */
function describeSymbol(name: string, symbol: ts.Symbol, printer: ts.Printer): string[] {
  const declarations = symbol.getDeclarations() ?? [];
  const lines = [`${name}: ${kindOf(symbol)}`];
  const texts = declarations.map((declaration) => printDeclaration(declaration, printer)).sort(compare);
  for (const text of texts) lines.push(...text.split('\n').map((line) => `    ${line}`));
  return lines;
}

function kindOf(symbol: ts.Symbol): string {
  const kinds: string[] = [];
  const flags = symbol.getFlags();
  if (flags & ts.SymbolFlags.Class) kinds.push('class');
  if (flags & ts.SymbolFlags.Interface) kinds.push('interface');
  if (flags & ts.SymbolFlags.TypeAlias) kinds.push('type');
  if (flags & ts.SymbolFlags.Enum) kinds.push('enum');
  if (flags & ts.SymbolFlags.Function) kinds.push('function');
  if (flags & ts.SymbolFlags.Variable) {
    const declaration = symbol.getDeclarations()?.find(ts.isVariableDeclaration);
    const list = declaration?.parent;
    kinds.push(list && ts.isVariableDeclarationList(list) && list.flags & ts.NodeFlags.Const ? 'const' : 'let');
  }
  if (flags & ts.SymbolFlags.Module) kinds.push('namespace');
  return kinds.length > 0 ? kinds.join(' + ') : 'unknown';
}

function printDeclaration(declaration: ts.Declaration, printer: ts.Printer): string {
  // A variable prints alone (its statement may declare several), after the `const` or `let` of its list.
  if (ts.isVariableDeclaration(declaration) && ts.isVariableDeclarationList(declaration.parent)) {
    const keyword = declaration.parent.flags & ts.NodeFlags.Const ? 'const' : 'let';
    return `${keyword} ${printer.printNode(ts.EmitHint.Unspecified, declaration, declaration.getSourceFile())};`;
  }
  const text = printer.printNode(ts.EmitHint.Unspecified, withoutPrivateMembers(declaration), declaration.getSourceFile());
  // `export` and `declare` say where it sits in a file, not what it is.
  return text.replace(/^(export )?(default )?(declare )?/, '');
}

/**
 * A class without its private members: their names are not API (no user can reach them), so moving an
 * implementation detail out of a class is not an API change. Whether a class has any private member does
 * change its assignability (private members make a class nominal), so one marker line stays in their place.
 */
function withoutPrivateMembers(declaration: ts.Declaration): ts.Node {
  if (!ts.isClassDeclaration(declaration)) return declaration;
  const isPrivate = (member: ts.ClassElement) =>
    (member.name !== undefined && ts.isPrivateIdentifier(member.name)) ||
    (ts.canHaveModifiers(member) && ts.getModifiers(member)?.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword));
  const kept = declaration.members.filter((member) => !isPrivate(member));
  if (kept.length === declaration.members.length) return declaration;
  const marker = ts.factory.createPropertyDeclaration([ts.factory.createModifier(ts.SyntaxKind.PrivateKeyword)], '__privateMembers', undefined, undefined, undefined);
  return ts.factory.updateClassDeclaration(declaration, declaration.modifiers, declaration.name, declaration.typeParameters, declaration.heritageClauses, [
    marker,
    ...kept,
  ]);
}

/** Symbols declared in our own `.d.ts` files that a symbol's declarations name in a type position. */
function referencedSymbols(symbol: ts.Symbol, checker: ts.TypeChecker, ownFile: (fileName: string) => boolean): ts.Symbol[] {
  const found: ts.Symbol[] = [];
  const visit = (node: ts.Node): void => {
    // Constructors (Nest's DI calls them) and protected members (subclasses only) are printed with
    // their class, but the internal types they name are not followed: those are the engine's insides.
    if (ts.isConstructorDeclaration(node) || (ts.isClassElement(node) && hiddenMember(node))) return;
    let name: ts.Node | undefined;
    if (ts.isTypeReferenceNode(node)) name = node.typeName;
    else if (ts.isExpressionWithTypeArguments(node)) name = node.expression;
    else if (ts.isTypeQueryNode(node)) name = node.exprName;
    else if (ts.isImportTypeNode(node)) name = node.qualifier;
    if (name) {
      const referenced = checker.getSymbolAtLocation(ts.isQualifiedName(name) ? name.right : ts.isPropertyAccessExpression(name) ? name.name : name);
      if (referenced) {
        const target = resolveAlias(referenced, checker);
        if (!(target.getFlags() & ts.SymbolFlags.TypeParameter) && target.getDeclarations()?.some((d) => ownFile(d.getSourceFile().fileName))) {
          found.push(target);
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  for (const declaration of symbol.getDeclarations() ?? []) visit(declaration);
  return found;
}

function hiddenMember(member: ts.ClassElement): boolean {
  const flags = ts.getCombinedModifierFlags(member as ts.Declaration);
  return (flags & (ts.ModifierFlags.Protected | ts.ModifierFlags.Private)) !== 0;
}

function resolveAlias(symbol: ts.Symbol, checker: ts.TypeChecker): ts.Symbol {
  return symbol.getFlags() & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
}

function isInside(dir: string, file: string): boolean {
  const rel = relative(dir, file);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith('/'));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function fail(diagnostics: readonly ts.Diagnostic[]): never {
  const text = ts.formatDiagnostics(diagnostics, {
    getCanonicalFileName: (fileName) => fileName,
    getCurrentDirectory: () => REPO,
    getNewLine: () => '\n',
  });
  throw new Error(`api-surface: the declaration emit failed:\n${text}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.stdout.write(apiSurface({ fromDist: process.argv.includes('--dist') }));
}
