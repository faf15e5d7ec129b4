import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { type CacheScope, SHARED_SCOPE } from '../keys/key-builder.js';
import { CacheEngine } from '../engine/cache-engine.js';
import type { InvalidationEvent, InvalidationOrigin } from '../engine/invalidation-hooks.js';
import { versioned } from '../engine/tags.js';
import { TenantCacheService } from '../service/tenant-cache.service.js';
import type { InvalidationTransport } from './invalidation-bus.js';
import { InvalidationRegistry } from './invalidation.registry.js';
import { busApplyFailed, busMessageRejected, busNotSubscribed, busPublishFailed, busUnknownStore } from './invalidation.messages.js';

const SUBSCRIBE_WAIT_MS = 2000;
const PUBLISH_WAIT_MS = 1000;
/** How long a purge waits for the other instances' acknowledgements. */
const PURGE_ACK_WAIT_MS = 5000;
/** Unknown store aliases logged once each; past this many, further unknown aliases are not logged. */
const MAX_LOGGED_UNKNOWN_STORES = 100;

/**
 * What travels: the invalidation as data (a partition filter travels as its literal prefix, a superset).
 * `soft: true` (expire(key), a soft tag invalidation) is left out otherwise: a message without it, or
 * read by an instance that predates it, is a hard invalidation (the stricter one).
 */
type WireEvent = { scope: CacheScope; store: string } & (
  | { kind: 'keys'; keys: string[]; versionedTags?: string[]; soft?: boolean }
  | { kind: 'prefix'; prefix: string }
  | { kind: 'tag'; tag: string; versioned: boolean; soft?: boolean }
  | { kind: 'all' }
  // A purged tenant (`purgeTenant`): receivers delete the scope's keys and answer with an `ack` of `id`.
  | { kind: 'purge'; id: string }
  // A shredded tenant (`shredTenant`): receivers drop their copy of its data key (whatever store travels).
  | { kind: 'shred' }
);

interface WireMessage {
  v: 1;
  from: string;
  event: WireEvent;
}

/** An instance's answer to a `purge`, once it purged its own store. */
interface WireAck {
  v: 1;
  from: string;
  ack: string;
}

/**
 * Connects this application to the cross-instance bus (`invalidation.bus`): publishes every local
 * invalidation of a process-local store, and applies the other instances' ones locally without
 * publishing them again (no loops; each instance ignores its own messages by id).
 */
@Injectable()
export class InvalidationBusHost implements OnApplicationBootstrap, OnApplicationShutdown {
  /** This instance's id on the bus. */
  readonly instanceId = randomUUID();
  private readonly logger = new Logger('TenantCache');
  private readonly travels = new Map<string, Promise<boolean>>();
  /** Unknown store aliases already logged (once each: a misconfigured peer may send many). */
  private readonly unknownStores = new Set<string>();
  /** Purges of this instance waiting for acknowledgements, by id: the instances that answered. */
  private readonly awaitingAcks = new Map<string, { from: Set<string>; expected: number; done: () => void }>();
  private transport?: InvalidationTransport;
  private unhook?: () => void;

  constructor(
    private readonly registry: InvalidationRegistry,
    private readonly engine: CacheEngine,
    private readonly service: TenantCacheService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const bus = this.registry.options.bus;
    if (!bus) return;
    this.transport = await bus.create(`${this.engine.options.keyPrefix}invalidation`);
    const subscribed = this.transport.subscribe((message) => void this.receive(message));
    // NOTE: start-up does not wait for a Redis that does not answer: the cache works without the bus.
    if (!(await settlesWithin(subscribed, SUBSCRIBE_WAIT_MS))) this.logger.warn(busNotSubscribed(SUBSCRIBE_WAIT_MS));
    this.unhook = this.engine.hooks.add((event, origin) => this.send(event, origin));
  }

  async onApplicationShutdown(): Promise<void> {
    this.unhook?.();
    this.unhook = undefined;
    const transport = this.transport;
    this.transport = undefined;
    await transport?.close();
  }

  private async send(event: InvalidationEvent, origin: InvalidationOrigin): Promise<void> {
    if (!this.transport || origin === 'remote') return;
    // NOTE: every instance keeps data keys in process, for shared stores too: a shred travels whatever the store.
    if (event.kind !== 'shred' && !(await this.travelsFor(event.store))) return;
    if (event.kind === 'purge') return this.sendPurge(event);
    const wire = toWire(event);
    const sent = this.transport.publish(JSON.stringify({ v: 1, from: this.instanceId, event: wire } satisfies WireMessage));
    sent.catch((error: unknown) => this.logger.warn(busPublishFailed(event.kind, error instanceof Error ? error : new Error(String(error)))));
    // Bounded: a local invalidation never waits long on the bus.
    if (!(await settlesWithin(sent, PUBLISH_WAIT_MS))) this.logger.warn(busPublishFailed(event.kind, new Error(`no answer within ${PUBLISH_WAIT_MS} ms`)));
  }

  /**
   * Publishes a purge and waits (at most `PURGE_ACK_WAIT_MS`) until every other subscriber PUBLISH counted
   * has acknowledged it; what it learnt goes into the event's receipt.
   */
  private async sendPurge(event: Extract<InvalidationEvent, { kind: 'purge' }>): Promise<void> {
    const id = randomUUID();
    const from = new Set<string>();
    let done!: () => void;
    const allIn = new Promise<void>((resolve) => (done = resolve));
    const waiting = { from, expected: Number.POSITIVE_INFINITY, done };
    this.awaitingAcks.set(id, waiting);
    try {
      const wire: WireEvent = { scope: event.scope, store: event.store, kind: 'purge', id };
      const sent = this.transport!.publish(JSON.stringify({ v: 1, from: this.instanceId, event: wire } satisfies WireMessage));
      let subscribers: number | undefined;
      try {
        const reply = await withTimeout(sent, PUBLISH_WAIT_MS);
        subscribers = typeof reply === 'number' ? reply : undefined;
      } catch (error) {
        const e = error instanceof Error ? error : new Error(String(error));
        this.logger.warn(busPublishFailed('purge', e));
        (event.receipt.bus ??= {})[event.store] = { published: false, error: e.message };
        return;
      }
      // NOTE: PUBLISH counts this instance's own subscription too.
      waiting.expected = subscribers === undefined ? Number.POSITIVE_INFINITY : subscribers - 1;
      if (from.size < waiting.expected) await settlesWithin(allIn, PURGE_ACK_WAIT_MS);
      (event.receipt.bus ??= {})[event.store] = { published: true, subscribers, acknowledged: [...from] };
    } finally {
      this.awaitingAcks.delete(id);
    }
  }

  private receiveAck(ack: WireAck): void {
    const waiting = this.awaitingAcks.get(ack.ack);
    if (waiting === undefined) return;
    waiting.from.add(ack.from);
    if (waiting.from.size >= waiting.expected) waiting.done();
  }

  private async receive(raw: string): Promise<void> {
    let message: WireMessage;
    try {
      message = JSON.parse(raw) as WireMessage;
    } catch {
      this.logger.warn(busMessageRejected('not JSON'));
      return;
    }
    const ack = message as unknown as Partial<WireAck>;
    if (ack?.v === 1 && typeof ack.ack === 'string' && typeof ack.from === 'string') return this.receiveAck(ack as WireAck);
    if (message?.v !== 1 || typeof message.from !== 'string' || typeof message.event !== 'object' || message.event === null) {
      this.logger.warn(busMessageRejected('unknown format'));
      return;
    }
    if (message.from === this.instanceId) return;
    const event = message.event;
    if (typeof event.store !== 'string') {
      this.logger.warn(busMessageRejected('no store alias'));
      return;
    }
    if (!Object.hasOwn(this.engine.options.stores, event.store)) {
      this.unknownStore(event.store);
      return;
    }
    if (event.kind !== 'shred' && !(await this.travelsFor(event.store))) return;
    try {
      const scope = this.scopeOf(event.scope);
      await this.engine.hooks.replaying(() => this.apply(scope, event));
      if (event.kind === 'purge') await this.acknowledge(event.id);
    } catch (error) {
      this.logger.warn(busApplyFailed(String(event.kind), event.store, error as Error));
    }
  }

  /** Tells the instance that purged a tenant that this one purged it too. */
  private async acknowledge(id: unknown): Promise<void> {
    if (typeof id !== 'string' || !this.transport) return;
    const sent = this.transport.publish(JSON.stringify({ v: 1, from: this.instanceId, ack: id } satisfies WireAck));
    if (!(await settlesWithin(sent, PUBLISH_WAIT_MS))) this.logger.warn(busPublishFailed('purge acknowledgement', new Error(`no answer within ${PUBLISH_WAIT_MS} ms`)));
    sent.catch((error: unknown) => this.logger.warn(busPublishFailed('purge acknowledgement', error instanceof Error ? error : new Error(String(error)))));
  }

  /** Logs a message's unknown store alias, once per alias (bounded). */
  private unknownStore(alias: string): void {
    if (this.unknownStores.has(alias) || this.unknownStores.size >= MAX_LOGGED_UNKNOWN_STORES) return;
    this.unknownStores.add(alias);
    this.logger.warn(busUnknownStore(alias, Object.keys(this.engine.options.stores)));
  }

  private async apply(scope: CacheScope, event: WireEvent): Promise<void> {
    const e = this.engine;
    switch (event.kind) {
      case 'keys': {
        const keys = strings(event.keys, 'keys');
        const tags = event.versionedTags === undefined ? [] : strings(event.versionedTags, 'versionedTags');
        if (event.soft === true) {
          const address = tags.length === 0 ? undefined : tags.map((t) => versioned(t));
          for (const k of keys) await e.expire(scope, k, event.store, address);
        } else if (tags.length === 0) await e.mdel(scope, keys, event.store);
        else
          for (const k of keys)
            await e.delete(
              scope,
              k,
              event.store,
              tags.map((t) => versioned(t)),
            );
        return;
      }
      case 'prefix':
        await e.deleteByPrefix(scope, strings([event.prefix], 'prefix')[0]!, event.store);
        return;
      case 'tag': {
        const tag = strings([event.tag], 'tag')[0]!;
        await e.invalidateTag(scope, event.versioned === true ? versioned(tag) : tag, event.store, event.soft === true);
        return;
      }
      case 'all':
        await e.invalidateAll(scope, event.store);
        return;
      case 'purge':
        await e.purgeScope(scope, event.store);
        return;
      case 'shred':
        if (scope.kind === 'tenant') (await e.registry.get(event.store)).dataKeys?.forget(scope.tenantId);
        return;
      default:
        throw new Error(`unknown kind ${JSON.stringify((event as { kind: unknown }).kind)}`);
    }
  }

  /** A scope from the wire, its tenant id checked like any other. */
  private scopeOf(scope: unknown): CacheScope {
    const s = scope as Partial<{ kind: string; tenantId: unknown }> | null;
    if (s?.kind === 'shared') return SHARED_SCOPE;
    if (s?.kind === 'tenant' && typeof s.tenantId === 'string') {
      this.service.forTenant(s.tenantId);
      return { kind: 'tenant', tenantId: s.tenantId };
    }
    throw new Error('bad scope');
  }

  /** Whether a store's invalidations travel: listed in `bus.stores`, or (by default) not shared between processes. */
  private travelsFor(alias: string): Promise<boolean> {
    let found = this.travels.get(alias);
    if (!found) {
      const listed = this.registry.options.bus?.stores;
      found = listed
        ? Promise.resolve(listed.includes(alias))
        : this.engine.registry.get(alias).then(
            (r) => !r.store.capabilities.distributed,
            () => false,
          );
      this.travels.set(alias, found);
    }
    return found;
  }
}

function toWire(event: InvalidationEvent): WireEvent {
  const base = { scope: event.scope, store: event.store };
  switch (event.kind) {
    case 'keys':
      return {
        ...base,
        kind: 'keys',
        keys: [...event.keys],
        ...(event.versionedTags?.length ? { versionedTags: [...event.versionedTags] } : {}),
        ...(event.soft ? { soft: true } : {}),
      };
    case 'prefix':
    case 'partition':
      // NOTE: a partition with a filter travels as its literal prefix: remote instances drop a superset.
      return { ...base, kind: 'prefix', prefix: event.prefix };
    case 'tag':
      return { ...base, kind: 'tag', tag: event.tag, versioned: event.versioned, ...(event.soft ? { soft: true } : {}) };
    case 'all':
      return { ...base, kind: 'all' };
    case 'purge':
      throw new Error('internal: a purge travels through sendPurge');
    case 'shred':
      return { ...base, kind: 'shred' };
  }
}

function strings(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new Error(`${what} must be strings`);
  return value as string[];
}

/** `promise`'s value, or a rejection when it takes longer than `ms`. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether the promise settles (either way) within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
