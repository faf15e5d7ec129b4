/**
 * A channel between app instances: invalidations done in one instance are applied in the others, so
 * process-local stores (memory) stay consistent. `redisInvalidationBus()` is the Redis pub/sub one.
 */
export interface InvalidationTransport {
  /** Resolves to the number of subscribers that got the message (Redis PUBLISH's answer, this instance included) where the transport knows it. */
  publish(message: string): Promise<number | void>;
  /** Starts delivering every message published by any instance (its own included). */
  subscribe(onMessage: (message: string) => void): Promise<void>;
  close(): Promise<void>;
}

/** A bus factory, as written in `invalidation: { bus: redisInvalidationBus({ url }) }`. */
export interface InvalidationBusDefinition {
  /** Opens the transport; `defaultChannel` is `<keyPrefix>invalidation` (instances of one app share their key prefix). */
  create(defaultChannel: string): InvalidationTransport | Promise<InvalidationTransport>;
  /** Store aliases whose invalidations travel. Default: every store that is not shared (`capabilities.distributed` false). */
  readonly stores?: readonly string[];
  readonly description: string;
}
