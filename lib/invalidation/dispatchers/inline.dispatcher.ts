import type { InvalidationDispatcher, InvalidationDispatcherDefinition } from './invalidation-dispatcher.js';

/**
 * Runs invalidations in the committing flow, after commit: `save()` resolves once the cache is fresh.
 * The default. Failures are logged, or raised to an explicit `publish()` with `onError: 'raise'`.
 *
 * @example
 * invalidation: { dispatchers: { inline: inlineDispatcher() } } // already there; rules use it unless they name another
 */
export function inlineDispatcher(): InvalidationDispatcherDefinition {
  return {
    description: 'inlineDispatcher()',
    create: (): InvalidationDispatcher => ({
      async dispatch(jobs, runner) {
        runner.settle(await runner.run(jobs), true);
      },
    }),
  };
}
