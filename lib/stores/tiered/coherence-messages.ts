/** What one tier tells the others: keys it changed, a prefix it deleted, or "drop everything". */
export type CoherenceMessage = { from: string } & ({ kind: 'keys'; keys: readonly string[] } | { kind: 'prefix'; prefix: string } | { kind: 'all' });

/** Keys per message: a large `mdel` travels in several. */
export const KEYS_PER_MESSAGE = 500;

/** The wire form: a JSON array `[from, "k", keys]`, `[from, "p", prefix]` or `[from, "a"]` (keys may hold any character). */
export function encodeMessage(message: CoherenceMessage): string {
  if (message.kind === 'keys') return JSON.stringify([message.from, 'k', message.keys]);
  if (message.kind === 'prefix') return JSON.stringify([message.from, 'p', message.prefix]);
  return JSON.stringify([message.from, 'a']);
}

/** The message in `text`, or `undefined` when it is not one (ignored: a foreign publisher on the channel). */
export function decodeMessage(text: string): CoherenceMessage | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || typeof parsed[0] !== 'string') return undefined;
  const [from, kind, body] = parsed as [string, unknown, unknown];
  if (kind === 'a') return { from, kind: 'all' };
  if (kind === 'p' && typeof body === 'string') return { from, kind: 'prefix', prefix: body };
  if (kind === 'k' && Array.isArray(body) && body.every((k) => typeof k === 'string')) return { from, kind: 'keys', keys: body as string[] };
  return undefined;
}
