import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CacheResult,
  EntityChangeBus,
  type InvalidationDispatcher,
  type InvalidationJob,
  KeyConstructor,
  TenantContext,
  backgroundDispatcher,
  memoryStore,
} from '../../lib/index.js';
import { bullmqDispatcher } from '../../lib/invalidation/bullmq/index.js';
import { type RedisServerHandle, startRedisServer } from '../support/redis-server.js';
import { as, boot, gate, sleep } from '../decorators/fixtures.js';

class IdKey extends KeyConstructor.params('id')<[id: number]> {
  id = this.arg('id');
}

/** What the custom invalidators saw, and switches to make them slow or fail. */
class Probe {
  running = 0;
  maxRunning = 0;
  done: { tenant: string | undefined; id: unknown }[] = [];
  hold?: Promise<void>;
  failuresLeft = 0;
  attempts = 0;
}

function servicesFor(probe: Probe, dispatcher: string) {
  @Injectable()
  class Orders {
    calls = 0;
    @CacheResult({
      key: IdKey,
      invalidatesOn: [
        { name: 'order-entry', entity: 'Order', fields: { id: 'id' }, tenantField: 'tenantId', dispatcher },
        {
          name: 'order-probe',
          entity: 'Order',
          tenantField: 'tenantId',
          dispatcher,
          invalidate: async ({ data }) => {
            probe.attempts++;
            probe.running++;
            probe.maxRunning = Math.max(probe.maxRunning, probe.running);
            try {
              if (probe.hold) await probe.hold;
              if (probe.failuresLeft > 0) {
                probe.failuresLeft--;
                throw new Error('downstream cache refused');
              }
              probe.done.push({ tenant: TenantContext.current(), id: data?.id });
            } finally {
              probe.running--;
            }
          },
        },
      ],
    })
    async order(id: number): Promise<number> {
      this.calls++;
      return id;
    }
  }
  return Orders;
}

describe('background dispatcher', () => {
  it('returns before the work is done, bounds concurrency, and drains on shutdown', async () => {
    const probe = new Probe();
    const Orders = servicesFor(probe, 'background');
    const app = await boot(memoryStore(), [Orders], { invalidation: { dispatchers: { background: backgroundDispatcher({ concurrency: 2, batchSize: 1 }) } } });
    const bus = app.moduleRef.get(EntityChangeBus);
    const g = gate();
    probe.hold = g.promise;
    await as('acme', () => app.moduleRef.get(Orders).order(1));
    for (let i = 0; i < 6; i++) await bus.publish({ entity: 'Order', event: 'update', data: { id: i, tenantId: i % 2 ? 'globex' : 'acme' } });
    await waitFor(() => probe.running === 2);
    expect(probe.done).toHaveLength(0); // publish resolved; the work waits behind the gate
    expect(probe.maxRunning).toBe(2);
    const closing = app.close();
    g.open();
    await closing;
    expect(probe.done).toHaveLength(6);
    expect(probe.maxRunning).toBe(2);
    expect(probe.done.map((d) => d.tenant)).toEqual(['acme', 'globex', 'acme', 'globex', 'acme', 'globex']);
  });
});

describe('custom dispatcher', () => {
  it('receives plain JSON jobs with the tenant captured at publish, and applies them through the runner later', async () => {
    const probe = new Probe();
    const Orders = servicesFor(probe, 'outbox');
    const outbox: InvalidationJob[] = [];
    const custom: InvalidationDispatcher = {
      dispatch: async (jobs) => {
        outbox.push(...(JSON.parse(JSON.stringify(jobs)) as InvalidationJob[]));
      },
    };
    let runner: Parameters<NonNullable<InvalidationDispatcher['start']>>[0] | undefined;
    custom.start = (r) => {
      runner = r;
    };
    const app = await boot(memoryStore(), [Orders], { invalidation: { dispatchers: { outbox: custom } } });
    try {
      const orders = app.moduleRef.get(Orders);
      await as('acme', () => orders.order(7));
      await as('acme', () => app.moduleRef.get(EntityChangeBus).publish({ entity: 'Order', event: 'remove', data: { id: 7 } }));
      expect(outbox.map((j) => [j.rule, j.tenantId, j.event])).toEqual([
        ['order-entry', 'acme', 'remove'],
        ['order-probe', 'acme', 'remove'],
      ]);
      expect((await app.cache.forTenant('acme').method(Orders, 'order').peek(7)).hit).toBe(true);
      expect(await runner!.run(outbox)).toEqual([]);
      expect((await app.cache.forTenant('acme').method(Orders, 'order').peek(7)).hit).toBe(false);
      expect(probe.done).toEqual([{ tenant: 'acme', id: 7 }]);
    } finally {
      await app.close();
    }
  });
});

describe('BullMQ dispatcher (isolated redis-server)', () => {
  let redis: RedisServerHandle;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(() => redis?.stop());

  const connection = () => ({ host: '127.0.0.1', port: redis.port });

  it('a worker in another app instance applies the jobs by rule name, in the tenant captured at enqueue', async () => {
    const queueName = `inv-${Date.now()}`;
    const producerProbe = new Probe();
    const workerProbe = new Probe();
    const producer = await boot(memoryStore(), [servicesFor(producerProbe, 'queue')], {
      invalidation: { dispatchers: { queue: bullmqDispatcher({ connection: connection(), queueName, worker: false }) } },
    });
    const WorkerOrders = servicesFor(workerProbe, 'queue');
    const worker = await boot(memoryStore(), [WorkerOrders], {
      invalidation: { dispatchers: { queue: bullmqDispatcher({ connection: connection(), queueName, worker: { concurrency: 2 } }) } },
    });
    try {
      for (const t of ['acme', 'a:b']) await as(t, () => worker.moduleRef.get(WorkerOrders).order(1));
      await as('acme', () => producer.moduleRef.get(EntityChangeBus).publish({ entity: 'Order', event: 'update', data: { id: 1 } }));
      await waitFor(() => workerProbe.done.length === 1);
      expect(workerProbe.done).toEqual([{ tenant: 'acme', id: 1 }]);
      expect(producerProbe.attempts).toBe(0);
      await waitFor(async () => !(await worker.cache.forTenant('acme').method(WorkerOrders, 'order').peek(1)).hit);
      expect((await worker.cache.forTenant('a:b').method(WorkerOrders, 'order').peek(1)).hit).toBe(true);
    } finally {
      await producer.close();
      await worker.close();
    }
  });

  it('retries a failing invalidation with backoff, and keeps a job that keeps failing', async () => {
    const queueName = `inv-retry-${Date.now()}`;
    const probe = new Probe();
    const app = await boot(memoryStore(), [servicesFor(probe, 'queue')], {
      invalidation: {
        dispatchers: { queue: bullmqDispatcher({ connection: connection(), queueName, attempts: 3, backoff: { type: 'fixed', delay: 20 } }) },
      },
    });
    const inspect = new Queue(queueName, { connection: connection() });
    try {
      const bus = app.moduleRef.get(EntityChangeBus);
      probe.failuresLeft = 2;
      await as('globex', () => bus.publish({ entity: 'Order', event: 'insert', data: { id: 5 } }));
      await waitFor(() => probe.done.length === 1);
      expect(probe.attempts).toBe(3);
      expect(probe.done).toEqual([{ tenant: 'globex', id: 5 }]);

      probe.failuresLeft = 100;
      await as('globex', () => bus.publish({ entity: 'Order', event: 'remove', data: { id: 6 } }));
      await waitFor(async () => (await inspect.getFailedCount()) === 1);
      const [failed] = await inspect.getFailed();
      expect(failed!.name).toBe('order-probe');
      expect(failed!.data).toMatchObject({ rule: 'order-probe', tenantId: 'globex', event: 'remove', data: { id: 6 } });
      expect(failed!.attemptsMade).toBe(3);
      expect(failed!.failedReason).toContain('downstream cache refused');
      await waitFor(() => app.logger.lines.some((l) => l.level === 'error' && l.message.includes('"order-probe" failed 3 time(s)')));
    } finally {
      await inspect.close();
      await app.close();
    }
  });

  it('applies the invalidations inline when the queue cannot take them (Redis down), and says so', async () => {
    const server = await startRedisServer();
    const probe = new Probe();
    const Orders = servicesFor(probe, 'queue');
    const app = await boot(memoryStore(), [Orders], {
      invalidation: {
        dispatchers: {
          queue: bullmqDispatcher({ connection: { host: '127.0.0.1', port: server.port }, worker: false, enqueueTimeout: 500 }),
        },
      },
    });
    try {
      await as('acme', () => app.moduleRef.get(Orders).order(3));
      await server.stop();
      await as('acme', () => app.moduleRef.get(EntityChangeBus).publish({ entity: 'Order', event: 'update', data: { id: 3 } }));
      expect((await app.cache.forTenant('acme').method(Orders, 'order').peek(3)).hit).toBe(false);
      expect(probe.done).toEqual([{ tenant: 'acme', id: 3 }]);
      expect(app.logger.warnings().some((w) => w.includes('could not enqueue') && w.includes('inline instead'))).toBe(true);
    } finally {
      await app.close().catch(() => undefined);
      await server.stop();
    }
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}
