/** Log texts of entity-change invalidation. */

export const invalidationFailed = (message: string, context?: string): string =>
  `${context ? `[${context}] ` : ''}${message}. The cached entries may be stale until they expire.`;

export const refreshFailed = (rule: string, method: string, error: Error): string =>
  `Invalidation rule "${rule}" could not recompute an entry of ${method} (${error.message}); the entry stays deleted.`;

export const publishFailed = (source: string, error: Error): string =>
  `${source}: invalidating after a committed change failed: ${error.message}. The change stands; cached entries may be stale until they expire.`;

export const dispatchFailed = (dispatcher: string, rules: readonly string[], error: Error): string =>
  `Dispatcher "${dispatcher}" could not take the invalidations of rule(s) ${rules.map((r) => `"${r}"`).join(', ')}: ${error.message}.`;

export const queueFallback = (dispatcher: string, error: Error): string =>
  `Dispatcher "${dispatcher}" could not enqueue (${error.message}); applying the invalidations inline instead.`;

export const busMessageRejected = (reason: string): string => `Ignored an invalidation bus message: ${reason}.`;

export const busUnknownStore = (store: string, known: readonly string[]): string =>
  `Ignored an invalidation bus message for store "${store}", which this instance does not configure (its stores: ${known.map((a) => `"${a}"`).join(', ')}). ` +
  `Instances on one channel should configure the same store aliases. Further messages for "${store}" are ignored without a log line.`;

export const busApplyFailed = (kind: string, store: string, error: Error): string =>
  `Could not apply a remote invalidation (${kind}, store "${store}") locally: ${error.message}.`;

export const busPublishFailed = (kind: string, error: Error): string =>
  `Could not publish an invalidation (${kind}) to the other instances: ${error.message}. They drop the entry when it expires.`;

export const jobGaveUp = (dispatcher: string, rule: string, attempts: number, error: string): string =>
  `Dispatcher "${dispatcher}": the job of rule "${rule}" failed ${attempts} time(s) and is kept as failed: ${error}.`;

export const busNotSubscribed = (ms: number): string =>
  `The invalidation bus is not subscribed after ${ms} ms (Redis unreachable?); it subscribes when Redis answers. Until then this instance misses other instances' invalidations.`;
