import { connect } from 'node:net';
import { createClient } from '@redis/client';

/** The Redis the benches use: REDIS_URL, else the local default. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** Whether a Redis answers PING at `url` within `timeoutMs` (a TCP round trip, no client library). */
export function redisReachable(url: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      resolve(false);
      return;
    }
    const socket = connect({ host: u.hostname, port: Number(u.port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    // +PONG, or -NOAUTH on a server with a password: either way a Redis is there.
    socket.once('data', (data) => done(data[0] === 0x2b || data[0] === 0x2d));
  });
}

/** Removes every key containing `fragment` (a bench's unique prefix) from the Redis at `url`. */
export async function removeKeys(url: string, fragment: string): Promise<void> {
  const client = createClient({ url });
  await client.connect();
  try {
    let cursor = '0';
    do {
      const reply = await client.scan(cursor, { MATCH: `*${fragment}*`, COUNT: 1000 });
      cursor = reply.cursor;
      if (reply.keys.length > 0) await client.unlink(reply.keys);
    } while (cursor !== '0');
  } finally {
    client.destroy();
  }
}
