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
`);
}

void bootstrap();
