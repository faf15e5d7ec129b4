import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port, '127.0.0.1');
  const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const store = process.env.REDIS_URL ? `a memory L1 in front of Redis at ${process.env.REDIS_URL}` : 'the embedded memory store';
  const db = process.env.SAMPLE_DB === 'file' ? 'SQLite in sample/data/catalog.sqlite' : 'SQLite in memory (SAMPLE_DB=file keeps it)';
  console.log(`
nestjs-tenant-cache sample on ${base}, caching in ${store}, products in ${db}. Try:

  curl -s -H 'x-tenant-id: acme'   ${base}/products/1      # slow the first time, cached after
  curl -s -H 'x-tenant-id: globex' ${base}/products/1      # another tenant: its own data and entries
  curl -s -X PATCH -H 'x-tenant-id: acme' -H 'content-type: application/json' \\
       -d '{"price": 99}' ${base}/products/1                # the saved row invalidates acme's entry and list (after commit)
  curl -s -H 'x-tenant-id: acme'   ${base}/products        # dbQueries shows what the cache saved
  curl -s -i ${base}/products                              # no tenant: 400
${
  process.env.ADMIN_TOKEN
    ? `  curl -s -H "x-admin-token: $ADMIN_TOKEN" ${base}/ops/cache-stats          # hit ratio, stale serves, loads, per tenant
  curl -s -H "x-admin-token: $ADMIN_TOKEN" ${base}/ops/cache/acme/footprint  # acme's keys and bytes
  curl -s -X DELETE -H "x-admin-token: $ADMIN_TOKEN" ${base}/admin/tenants/acme  # offboard acme: purge, then shred`
    : '  (start with ADMIN_TOKEN=<16+ characters> to open the operator routes: /ops/cache-stats, /ops/cache, /admin/tenants)'
}
`);
}

void bootstrap();
