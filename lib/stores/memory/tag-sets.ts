import { expiry } from './slot-values.js';

/** A tag set: its members, its expiry (0 = none), and the bytes it counts in `maxBytes`. */
export interface TagSet {
  members: Set<string>;
  expiresAt: number;
  size: number;
}

/** For each member of a set, the keys of the sets listing it. */
export type ListedIn = Map<string, Set<string>>;

/** What a change to the tag sets did to the store's counts: members and bytes added (negative: removed). */
export interface TagDelta {
  members: number;
  bytes: number;
}

/**
 * Adds members to a set, created (or re-created when expired) as needed; `ttl` only lengthens the life of
 * a set that expires.
 */
export function addToSet(sets: Map<string, TagSet>, listedIn: ListedIn, key: string, members: readonly string[], ttl: number | undefined, now: number): TagDelta {
  const delta = { members: 0, bytes: 0 };
  let set = sets.get(key);
  if (set && set.expiresAt !== 0 && set.expiresAt <= now) {
    addDelta(delta, dropSet(sets, listedIn, key));
    set = undefined;
  }
  if (!set) {
    const size = key.length * 2;
    set = { members: new Set(), expiresAt: expiry(ttl), size };
    sets.set(key, set);
    delta.bytes += size;
  } else if (set.expiresAt !== 0) {
    const wanted = expiry(ttl);
    set.expiresAt = wanted === 0 ? 0 : Math.max(set.expiresAt, wanted);
  }
  for (const m of members) {
    if (set.members.has(m)) continue;
    set.members.add(m);
    delta.members++;
    set.size += m.length * 2;
    delta.bytes += m.length * 2;
    let listing = listedIn.get(m);
    if (!listing) listedIn.set(m, (listing = new Set()));
    listing.add(key);
  }
  return delta;
}

/** A snapshot of a live set's members; `undefined` when the set is missing, or expired (`expired`: drop it). */
export function membersOf(sets: Map<string, TagSet>, listedIn: ListedIn, key: string, now: number): { members?: string[]; expired: boolean } {
  const set = sets.get(key);
  if (!set) return { expired: false };
  if (set.expiresAt !== 0 && set.expiresAt <= now) return { expired: true };
  return { members: [...set.members], expired: false };
}

/** Takes a removed entry's key out of every set that lists it; a set left empty is dropped. */
export function unlistMember(sets: Map<string, TagSet>, listedIn: ListedIn, member: string): TagDelta {
  const delta = { members: 0, bytes: 0 };
  const keys = listedIn.get(member);
  if (keys === undefined) return delta;
  listedIn.delete(member);
  for (const key of keys) {
    const set = sets.get(key);
    if (set === undefined || !set.members.delete(member)) continue;
    delta.members--;
    set.size -= member.length * 2;
    delta.bytes -= member.length * 2;
    if (set.members.size === 0) {
      sets.delete(key);
      delta.bytes -= set.size;
    }
  }
  return delta;
}

/** Removes a whole set; `undefined` when there was none. */
export function dropSet(sets: Map<string, TagSet>, listedIn: ListedIn, key: string): TagDelta | undefined {
  const set = sets.get(key);
  if (set === undefined) return undefined;
  sets.delete(key);
  for (const m of set.members) {
    const keys = listedIn.get(m);
    if (keys?.delete(key) && keys.size === 0) listedIn.delete(m);
  }
  return { members: -set.members.size, bytes: -set.size };
}

function addDelta(into: TagDelta, delta: TagDelta | undefined): void {
  if (delta === undefined) return;
  into.members += delta.members;
  into.bytes += delta.bytes;
}
