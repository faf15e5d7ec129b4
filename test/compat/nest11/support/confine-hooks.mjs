// Module resolve hooks for probe.mjs: record every module the ESM loader resolves, and refuse any that
// lies outside the compat project, as if this project were a fresh install somewhere else (without it
// a package missing here would be found silently in the repo's own node_modules, two folders up).
import { appendFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

let root;
let log;

export function initialize(data) {
  root = data.root;
  log = data.log;
}

export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  const outside = result.url.startsWith('file:') && !fileURLToPath(result.url).startsWith(root);
  appendFileSync(log, JSON.stringify({ specifier, url: result.url, outside }) + '\n');
  if (outside) {
    const error = new Error(`Cannot find '${specifier}' in the compat project (it resolved to ${result.url} outside it)`);
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return result;
}
