import { createConnection } from 'node:net';

/** Fails the run at once, with what to do, when a server the suites need is not listening. */
export default async function globalSetup(): Promise<void> {
  const redis = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  await assertListening('Redis', redis.hostname, Number(redis.port || 6379), 'start it with `redis-server --daemonize yes` or set REDIS_URL');
  const postgres = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  await assertListening(
    'PostgreSQL',
    postgres.hostname,
    Number(postgres.port || 5432),
    'the entity-change invalidation suites (TypeORM) need it: start PostgreSQL (user postgres, database "test") or set DATABASE_URL',
  );
}

function assertListening(name: string, host: string, port: number, hint: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port });
    const fail = (error: Error) => {
      socket.destroy();
      reject(new Error(`${name} is not reachable on ${host}:${port} (${error.message}): ${hint}.`));
    };
    socket.setTimeout(2000, () => fail(new Error('timed out')));
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
  });
}
