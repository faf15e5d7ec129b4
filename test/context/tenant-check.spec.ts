import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { DeferredTenantCheck, deferRequestTenant } from '../../lib/context/tenant-check.js';
import { TenantAuthorizationPendingError, TenantContext, type TenantRequest } from '../../lib/index.js';

// The deferred check TenantGuard leaves in a request's scope when it ran before authentication
// (the e2e suites drive it through real Nest: test/http/tenant-guard-order.e2e.spec.ts).

const request = (): TenantRequest => ({ headers: {} });
const refusal = new Error('refused');

/** Opens a request scope holding `tenantId` as provisional, like TenantGuard, and runs `fn` in it. */
function provisional<T>(check: DeferredTenantCheck, fn: () => T): T {
  return TenantContext.openScope(() => {
    TenantContext.assign(check.tenantId, check);
    return fn();
  });
}

describe('DeferredTenantCheck through TenantContext', () => {
  it('an anonymous request keeps its tenant; once a user appears, the next read checks it once', () => {
    const req = request();
    const users: unknown[] = [];
    const check = new DeferredTenantCheck(req, 'acme', (user) => {
      users.push(user);
    });
    provisional(check, () => {
      expect(TenantContext.current()).toBe('acme');
      expect(TenantContext.current()).toBe('acme');
      expect(users).toEqual([]);
      req.user = { sub: 'alice' };
      expect(TenantContext.current()).toBe('acme');
      expect(TenantContext.require()).toBe('acme');
      expect(users).toEqual([{ sub: 'alice' }]);
    });
  });

  it('a refusal is thrown by every read, and the user is checked once', () => {
    const req = { ...request(), user: { sub: 'alice' } };
    let calls = 0;
    const check = new DeferredTenantCheck(req, 'globex', () => {
      calls++;
      throw refusal;
    });
    provisional(check, () => {
      expect(() => TenantContext.current()).toThrow(refusal);
      expect(() => TenantContext.current()).toThrow(refusal);
      expect(() => TenantContext.require('get')).toThrow(refusal);
      expect(() => TenantContext.pendingCheck()).toThrow(refusal);
    });
    expect(calls).toBe(1);
  });

  it('an async check: a synchronous read fails closed until it settles; authorized() waits for it', async () => {
    const req = { ...request(), user: { sub: 'bob' } };
    let calls = 0;
    const check = new DeferredTenantCheck(req, 'globex', async () => {
      calls++;
      await sleep(5);
    });
    await provisional(check, async () => {
      expect(() => TenantContext.current()).toThrow(TenantAuthorizationPendingError);
      expect(await TenantContext.authorized()).toBe('globex');
      expect(TenantContext.current()).toBe('globex');
      expect(TenantContext.pendingCheck()).toBeUndefined();
    });
    expect(calls).toBe(1);
  });

  it('an async refusal rejects authorized() and is thrown by every later read', async () => {
    const req = { ...request(), user: { sub: 'alice' } };
    const check = new DeferredTenantCheck(req, 'globex', async () => {
      await sleep(1);
      throw refusal;
    });
    await provisional(check, async () => {
      await expect(TenantContext.authorized()).rejects.toBe(refusal);
      expect(() => TenantContext.current()).toThrow(refusal);
    });
  });

  it('a pending check abandoned after a failed synchronous read leaves no unhandled rejection', async () => {
    const req = { ...request(), user: { sub: 'alice' } };
    const check = new DeferredTenantCheck(req, 'globex', () => Promise.reject(refusal));
    provisional(check, () => {
      expect(() => TenantContext.current()).toThrow(TenantAuthorizationPendingError);
    });
    await sleep(5); // vitest fails the run on an unhandled rejection
  });

  it('TenantContext.run scopes never carry a check: an explicit tenant is trusted', () => {
    const req = { ...request(), user: { sub: 'alice' } };
    const check = new DeferredTenantCheck(req, 'globex', () => {
      throw refusal;
    });
    provisional(check, () => {
      expect(TenantContext.run('acme', () => TenantContext.current())).toBe('acme');
    });
  });
});

describe('request.tenantId while the tenant is provisional', () => {
  it('runs the same check; assigning it replaces the getter', () => {
    const req = request();
    const check = new DeferredTenantCheck(req, 'globex', () => {
      throw refusal;
    });
    deferRequestTenant(req, check);
    expect(req.tenantId).toBe('globex'); // anonymous so far
    req.user = { sub: 'alice' };
    expect(() => req.tenantId).toThrow(refusal);
    req.tenantId = 'acme';
    expect(req.tenantId).toBe('acme');
  });

  it('requests with deferred checks share one getter (no per-request hidden class)', () => {
    const a = request();
    const b = request();
    deferRequestTenant(a, new DeferredTenantCheck(a, 'acme', () => undefined));
    deferRequestTenant(b, new DeferredTenantCheck(b, 'globex', () => undefined));
    expect(Object.getOwnPropertyDescriptor(a, 'tenantId')!.get).toBe(Object.getOwnPropertyDescriptor(b, 'tenantId')!.get);
    expect([a.tenantId, b.tenantId]).toEqual(['acme', 'globex']);
  });
});
