// The Nest 11 smoke, run as a user would meet the package: build, `npm pack`, install the tarball into
// test/compat/nest11 (a plain-JS Nest 11 project with its own lock), then `node --test` there.
// Usage: node test/compat/run.mjs   (`npm run test:compat`; part of `npm test`)
// Exit code: the test runner's; its TAP output ends with `# pass N` / `# fail N`.
// With --with-unit-summary (what `npm test` passes), the last line adds the Vitest counts that
// test/support/summary-reporter.ts left behind: `total: N passed, N failed, N skipped` for the whole suite.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const COMPAT = join(REPO, 'test', 'compat', 'nest11');
/** Written after `npm ci`: the hash of the manifest and lock that node_modules was installed from. */
const INSTALL_STAMP = join(COMPAT, 'node_modules', '.compat-install-hash');
const NPM_QUIET = ['--no-audit', '--no-fund', '--loglevel=error'];

function step(message) {
  process.stdout.write(`\n[compat] ${message}\n`);
}

/** Runs a command with no stdin (CI has none), output passed through; throws when it fails. */
function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
  return result;
}

/** The counts the Vitest run before this one wrote (see test/support/summary-reporter.ts); read once. */
function readUnitSummary() {
  const file = join(REPO, 'node_modules', '.cache', 'nestjs-tenant-cache', 'vitest-summary.json');
  if (!existsSync(file)) return undefined;
  const summary = JSON.parse(readFileSync(file, 'utf8'));
  rmSync(file, { force: true });
  return summary;
}

function installHash() {
  const hash = createHash('sha256');
  for (const file of ['package.json', 'package-lock.json']) hash.update(readFileSync(join(COMPAT, file)));
  return hash.digest('hex');
}

const scratch = mkdtempSync(join(tmpdir(), 'nestjs-tenant-cache-pack-'));
let status = 1;
try {
  step('npm run build');
  run('npm', ['run', 'build', '--silent'], { cwd: REPO });

  step('npm pack');
  const packed = spawnSync('npm', ['pack', '--json', '--pack-destination', scratch, ...NPM_QUIET], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (packed.status !== 0) throw new Error(`npm pack exited with ${packed.status}`);
  const tarball = join(scratch, JSON.parse(packed.stdout)[0].filename);
  process.stdout.write(`${tarball}\n`);

  const hash = installHash();
  const stamp = existsSync(INSTALL_STAMP) ? readFileSync(INSTALL_STAMP, 'utf8').trim() : undefined;
  if (stamp !== hash) {
    step(stamp === undefined ? 'npm ci (Nest 11 project, first install)' : 'npm ci (Nest 11 project, lock changed)');
    run('npm', ['ci', '--prefix', COMPAT, ...NPM_QUIET]);
    writeFileSync(INSTALL_STAMP, hash + '\n');
  }

  step('npm install --no-save <tarball>');
  rmSync(join(COMPAT, 'node_modules', 'nestjs-tenant-cache'), { recursive: true, force: true });
  run('npm', ['install', '--no-save', ...NPM_QUIET, tarball], { cwd: COMPAT });

  const tests = readdirSync(join(COMPAT, 'test'))
    .filter((file) => /\.test\.(c|m)?js$/.test(file))
    .sort()
    .map((file) => join('test', file));
  step(`node --test ${tests.join(' ')}`);
  // TAP explicitly: its closing `# pass N` / `# fail N` lines are what CI reads, on every Node version.
  const result = spawnSync(process.execPath, ['--test', '--test-reporter=tap', ...tests], {
    cwd: COMPAT,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  process.stdout.write(result.stdout ?? '');
  status = result.status ?? 1;
  const count = (name) => Number(result.stdout.match(new RegExp(`^# ${name} (\\d+)$`, 'm'))?.[1] ?? 0);
  const smoke = { passed: count('pass'), failed: count('fail') + (status !== 0 && count('fail') === 0 ? 1 : 0), skipped: count('skipped') + count('todo') };
  const unit = process.argv.includes('--with-unit-summary') ? readUnitSummary() : undefined;
  const total = unit ? { passed: unit.passed + smoke.passed, failed: unit.failed + smoke.failed, skipped: unit.skipped + smoke.skipped } : smoke;
  process.stdout.write(`\n${unit ? 'total' : 'compat'}: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped\n`);
} catch (error) {
  process.stderr.write(`\n[compat] ${error.message}\n`);
  status = 1;
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(status);
