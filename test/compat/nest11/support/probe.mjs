// Loads one specifier in a fresh process and prints what happened as one JSON line:
//   node support/probe.mjs import|require <specifier> <log file>
// `import` runs under confine-hooks.mjs (every resolution recorded, none may leave the compat project);
// `require` reports the files in require.cache: require(esm) runs no async resolve hooks, and ESM files
// an ES module imports do not show there, so the import probe is the one that sees the whole graph.
// `require` is confined too: a CommonJS resolution that leaves the compat project (Node walks up the
// folders, into the repo's own node_modules) fails as it would in a fresh install, so an optional
// `try { require('x') } catch {}` (debug's supports-color, under bullmq) behaves as it does for a user.
import { readFileSync } from 'node:fs';
import Module, { createRequire, register } from 'node:module';
import { dirname, isAbsolute, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [mode, specifier, log] = process.argv.slice(2);
const root = join(dirname(fileURLToPath(import.meta.url)), '..') + sep;
const require = createRequire(join(root, 'package.json'));
const report = { mode, specifier, ok: false };

try {
  if (mode === 'import') {
    register(new URL('./confine-hooks.mjs', import.meta.url), { parentURL: import.meta.url, data: { root, log } });
    const namespace = await import(specifier, specifier.endsWith('.json') ? { with: { type: 'json' } } : undefined);
    report.exports = Object.keys(namespace).length;
    report.resolved = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
  } else {
    const resolveFilename = Module._resolveFilename;
    Module._resolveFilename = function confined(request, ...rest) {
      const file = resolveFilename.call(this, request, ...rest);
      if (isAbsolute(file) && !file.startsWith(root)) {
        const error = new Error(`Cannot find '${request}' in the compat project (it resolved to ${file} outside it)`);
        error.code = 'MODULE_NOT_FOUND';
        throw error;
      }
      return file;
    };
    const loaded = require(specifier);
    report.exports = Object.keys(loaded).length;
    report.resolved = Object.keys(require.cache).map((file) => {
      const url = pathToFileURL(file).href;
      return { specifier: file, url, outside: !file.startsWith(root) };
    });
  }
  report.ok = true;
} catch (error) {
  report.error = { code: error.code, message: String(error.message).split('\n')[0] };
}
process.stdout.write(JSON.stringify(report) + '\n');
