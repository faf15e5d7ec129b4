import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { redisStore } from '../stores/redis/redis.store.js';
import type { TenantCacheModule } from '../tenant-cache.module.js';

/** What the application gives `TenantCacheModule.forRoot` (the CLI is a composition root, like the module). */
type TenantCacheModuleOptions = Parameters<typeof TenantCacheModule.forRoot>[0];

/** Files the CLI looks for in the working directory when no `--config` is given. */
export const CONFIG_FILES = ['tenant-cache.config.mjs', 'tenant-cache.config.js', 'tenant-cache.config.cjs', 'tenant-cache.config.json'] as const;

/** Where the CLI's module options came from, for its messages. */
export interface LoadedConfig {
  readonly options: TenantCacheModuleOptions;
  readonly source: string;
}

/**
 * The module options the CLI runs with, the same the application gives `TenantCacheModule.forRoot`:
 * a config module (`export default { stores: { default: redisStore({ url }) }, keyPrefix }`, or a
 * function returning them), a JSON file or the environment (`{ "redisUrl", "keyPrefix" }`, or
 * `TENANT_CACHE_REDIS_URL` / `TENANT_CACHE_KEY_PREFIX`).
 */
export async function loadConfig(file: string | undefined, cwd: string, env: NodeJS.ProcessEnv): Promise<LoadedConfig> {
  const path = file !== undefined ? resolve(cwd, file) : CONFIG_FILES.map((f) => resolve(cwd, f)).find((f) => existsSync(f));
  if (path !== undefined) {
    if (!existsSync(path)) throw new InvalidOptionsError('--config', `names no file (${path})`, `Give the path of a config module, e.g. --config ${CONFIG_FILES[0]}.`);
    if (path.endsWith('.json')) return { options: shorthand(JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>, path), source: path };
    const mod = (await import(pathToFileURL(path).href)) as { default?: unknown; options?: unknown };
    let exported = mod.default ?? mod.options;
    if (typeof exported === 'function') exported = await (exported as () => unknown)();
    if (typeof exported !== 'object' || exported === null) {
      throw new InvalidOptionsError(path, 'exports no module options', 'Export them: export default { stores: { default: redisStore({ url }) }, keyPrefix: "app:" }.');
    }
    return { options: exported as TenantCacheModuleOptions, source: path };
  }
  if (env.TENANT_CACHE_REDIS_URL) {
    return { options: shorthand({ redisUrl: env.TENANT_CACHE_REDIS_URL, keyPrefix: env.TENANT_CACHE_KEY_PREFIX }, 'the environment'), source: 'the environment' };
  }
  throw new InvalidOptionsError(
    'configuration',
    `was not found (no --config, no ${CONFIG_FILES.join(' / ')} in ${cwd}, no TENANT_CACHE_REDIS_URL)`,
    'Point the CLI at the options your application gives TenantCacheModule.forRoot: --config tenant-cache.config.mjs, or set TENANT_CACHE_REDIS_URL (and TENANT_CACHE_KEY_PREFIX).',
  );
}

/** `{ redisUrl, keyPrefix }` (JSON or environment) as module options. */
function shorthand(raw: Record<string, unknown>, source: string): TenantCacheModuleOptions {
  const unknown = Object.keys(raw).filter((k) => k !== 'redisUrl' && k !== 'keyPrefix');
  if (unknown.length > 0 || typeof raw.redisUrl !== 'string') {
    throw new InvalidOptionsError(
      source,
      unknown.length > 0 ? `has unknown keys ${unknown.join(', ')}` : 'has no redisUrl',
      'A JSON config holds { "redisUrl": "redis://...", "keyPrefix": "app:" }; use a config module for anything else.',
    );
  }
  return {
    stores: { default: redisStore({ url: raw.redisUrl }) },
    ...(typeof raw.keyPrefix === 'string' && raw.keyPrefix !== '' ? { keyPrefix: raw.keyPrefix } : {}),
  };
}
