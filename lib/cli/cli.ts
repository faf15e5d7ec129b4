import 'reflect-metadata';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { FlushTarget } from '../admin/admin.types.js';
import { TenantCacheAdmin } from '../admin/tenant-cache-admin.js';
import { TenantCacheError } from '../errors/tenant-cache.error.js';
import { TenantCacheModule } from '../tenant-cache.module.js';
import { loadConfig } from './cli-config.js';
import { cliLogger } from './cli-logger.js';

/** What the CLI reads and writes: injectable so that tests run it in process. */
export interface CliIo {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Asks a question on a terminal; `undefined` when there is none (then a flush needs `--confirm`). */
  readonly ask?: (question: string) => Promise<string>;
}

export const USAGE = `Usage: nestjs-tenant-cache <command> [options]

Commands:
  stores                          the store aliases
  footprint <tenant> [--store s]  keys and bytes of the tenant, per store
  keys <tenant> [--prefix p] [--limit n]
  inspect <tenant> <key> [--store s] [--value]
  flush <tenant> (--all | --tag t [--versioned] | --method Class.method | --responses | --prefix p)
        [--dry-run] [--confirm <tenant>]

Options:
  --config <file>   module options (default: tenant-cache.config.{mjs,js,cjs,json}, else TENANT_CACHE_REDIS_URL)
  --json            print JSON

A flush deletes entries of the named tenant only; it asks to type the tenant id (or takes --confirm <tenant>).
Keys are listed with SCAN in pages, never KEYS; nothing runs FLUSHDB.`;

/**
 * Runs one command; resolves to the exit code (0 ok, 1 failed, 2 bad usage or not confirmed). A failure is one
 * line on `err` (a store that is down names the store and its fault); a footprint that could not count a
 * store prints what it counted and exits 1.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        json: { type: 'boolean' },
        store: { type: 'string' },
        prefix: { type: 'string' },
        limit: { type: 'string' },
        value: { type: 'boolean' },
        all: { type: 'boolean' },
        tag: { type: 'string' },
        versioned: { type: 'boolean' },
        method: { type: 'string' },
        responses: { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        confirm: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values: o, positionals } = parsed;
  const [command, tenant, key] = positionals;
  if (o.help === true || command === undefined) {
    io.out(USAGE);
    return command === undefined && o.help !== true ? 2 : 0;
  }
  const needsTenant = command !== 'stores';
  if (!['stores', 'footprint', 'keys', 'inspect', 'flush'].includes(command) || (needsTenant && tenant === undefined) || (command === 'inspect' && key === undefined)) {
    io.err(`Unknown command or missing argument: ${positionals.join(' ')}\n\n${USAGE}`);
    return 2;
  }
  let target: FlushTarget | undefined;
  if (command === 'flush') {
    const chosen = [
      o.all && { kind: 'tenant' },
      o.tag !== undefined && { kind: 'tag', tag: o.tag, versioned: o.versioned === true },
      o.method !== undefined && { kind: 'method', method: o.method },
      o.responses && { kind: 'responses' },
      o.prefix !== undefined && { kind: 'prefix', prefix: o.prefix },
    ].filter(Boolean) as FlushTarget[];
    if (chosen.length !== 1) {
      io.err(`flush takes exactly one of --all, --tag, --method, --responses, --prefix.\n\n${USAGE}`);
      return 2;
    }
    target = chosen[0];
  }

  const print = (value: unknown, human: () => string) => io.out(o.json === true ? JSON.stringify(value, null, 2) : human());
  let app;
  try {
    const { options } = await loadConfig(o.config, io.cwd, io.env);
    @Module({ imports: [TenantCacheModule.forRoot({ ...options, isGlobal: true })], providers: [TenantCacheAdmin] })
    class TenantCacheCliModule {}
    app = await NestFactory.createApplicationContext(TenantCacheCliModule, { logger: cliLogger(io.err) });
    const admin = app.get(TenantCacheAdmin);
    switch (command) {
      case 'stores':
        print(admin.stores(), () => admin.stores().join('\n'));
        return 0;
      case 'footprint': {
        // NOTE: the counters of this process (the CLI's own, all zero): the application's are in its metrics.
        const { stats: _own, ...f } = await admin.footprint(tenant!, { store: o.store });
        print(f, () =>
          [
            `tenant ${f.tenant}: ${f.keys} keys, ${f.bytes} bytes (${f.durationMs} ms)`,
            ...f.stores.map((s) =>
              s.skipped
                ? `  ${s.store}: skipped (${s.skipped})`
                : `  ${s.store}: ${s.entries} entries, ${s.unreachable} unreachable, ${s.chunks} chunks, ${s.meta} meta; ${s.keys} keys, ${s.bytes} bytes; generation ${s.generation}`,
            ),
          ].join('\n'),
        );
        const failed = f.stores.filter((s) => s.skipped?.startsWith('the store failed'));
        for (const s of failed) io.err(`footprint ${f.tenant} is incomplete: store "${s.store}" was not counted (${s.skipped}).`);
        return f.complete ? 0 : 1;
      }
      case 'keys': {
        const limit = o.limit === undefined ? 1000 : Number(o.limit);
        if (!Number.isSafeInteger(limit) || limit < 1) throw new Error('--limit must be a positive integer');
        const keys = await admin.keys(tenant!, o.prefix ?? '', limit);
        print(keys, () => keys.map((k) => JSON.stringify(k)).join('\n'));
        return 0;
      }
      case 'inspect': {
        const entry = await admin.inspect(tenant!, key!, { store: o.store, value: o.value === true });
        print(entry, () => JSON.stringify(entry, null, 2));
        return 0;
      }
      default: {
        const dryRun = o['dry-run'] === true;
        let confirm = o.confirm;
        if (!dryRun && confirm === undefined) {
          const counted = await admin.flush(tenant!, target!, { dryRun: true });
          const what = counted.count === null ? 'every entry of the versioned tag' : `${counted.count} entries`;
          if (io.ask === undefined) {
            io.err(`flush ${target!.kind} would delete ${what} of tenant "${tenant}": repeat the tenant id with --confirm ${tenant} (no terminal to ask on).`);
            return 2;
          }
          confirm = (await io.ask(`flush ${target!.kind} deletes ${what} of tenant "${tenant}". Type the tenant id to confirm: `)).trim();
          if (confirm !== tenant) {
            io.err('Not confirmed: nothing was deleted.');
            return 2;
          }
        }
        const report = await admin.flush(tenant!, target!, { dryRun, confirm });
        print(
          report,
          () =>
            `${dryRun ? 'would delete' : 'deleted'} ${report.count ?? 'every entry of the versioned tag (one version bump)'}${report.count === null ? '' : ' entries'} of tenant "${report.tenant}" (${report.durationMs} ms)`,
        );
        return 0;
      }
    }
  } catch (error) {
    const e = error as Error;
    io.err(`${command} failed: ${error instanceof TenantCacheError ? `${e.message} (${error.code})` : e.message}`);
    return error instanceof TenantCacheError && error.code === 'E_ADMIN_CONFIRMATION' ? 2 : 1;
  } finally {
    await app?.close();
  }
}

/** The CLI on the process's own arguments, streams and terminal. */
export async function main(): Promise<void> {
  Logger.overrideLogger(cliLogger((line) => process.stderr.write(`${line}\n`)));
  const tty = process.stdin.isTTY === true;
  const io: CliIo = {
    cwd: process.cwd(),
    env: process.env,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    ask: tty
      ? async (question) => {
          const rl = createInterface({ input: process.stdin, output: process.stderr });
          try {
            return await rl.question(question);
          } finally {
            rl.close();
          }
        }
      : undefined,
  };
  process.exitCode = await runCli(process.argv.slice(2), io);
}
