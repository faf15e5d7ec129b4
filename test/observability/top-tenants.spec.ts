import { describe, expect, it } from 'vitest';
import { TopTenants } from '../../lib/observability/top-tenants.js';

// Which tenants get a slot of their own (metrics.topTenants): the busiest that stand out, kept for good.

/** One window: each tenant admitted, then `requests` of each counted. */
function window(top: TopTenants, requests: Record<string, number>): string[] {
  const admitted = new Map<string, number>();
  for (const [tenant, n] of Object.entries(requests)) if (!top.has(tenant) && top.admit(tenant)) admitted.set(tenant, n);
  return [...top.endWindow(admitted)];
}

describe('TopTenants', () => {
  it('gives the free slots to the busiest candidates that stand out, busiest first', () => {
    const top = new TopTenants(2);
    expect(window(top, { a: 3, b: 9, c: 5, d: 1 })).toEqual(['b', 'c']);
    expect([...top.names]).toEqual(['b', 'c']);
  });

  it('a tie at the boundary gives no slot to either side: equally busy tenants do not stand out', () => {
    const top = new TopTenants(2);
    expect(window(top, { a: 5, b: 4, c: 4 })).toEqual(['a']);
    expect(window(top, Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`t${i}`, 2])))).toEqual([]);
  });

  it('a tenant needs two requests in a window, even with slots free', () => {
    const top = new TopTenants(5);
    expect(window(top, { a: 1, b: 2 })).toEqual(['b']);
  });

  it('slots are never given back, and never more than topTenants', () => {
    const top = new TopTenants(2);
    window(top, { a: 9, b: 8 });
    expect(window(top, { c: 1000, d: 999 })).toEqual([]);
    expect(top.has('a') && top.has('b') && !top.has('c')).toBe(true);
  });

  it('a window holds at most 4 × topTenants candidates (at least 64): later tenants count as other', () => {
    const top = new TopTenants(20);
    for (let i = 0; i < 80; i++) expect(top.admit(`t${i}`)).toBe(true);
    expect(top.admit('t80')).toBe(false);
    expect(top.admit('t3')).toBe(true); // already a candidate
    top.endWindow(new Map());
    expect(top.admit('t80')).toBe(true); // a new window has room again
    expect(new TopTenants(1)['maxCandidates']).toBe(64);
  });
});
