import { BadRequestException, Body, Get, HttpException, NotFoundException, Param, Post, Query, ServiceUnavailableException } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';
import { TenantCacheErrorCode } from '../errors/error-codes.js';
import { TenantCacheError } from '../errors/tenant-cache.error.js';
import { CacheEngine } from '../engine/cache-engine.js';
import { TenantCacheService } from '../service/tenant-cache.service.js';
import type { FlushOptions, FlushReport, FlushTarget, InspectedEntry, TenantFootprint } from './admin.types.js';
import { TenantCacheAdmin } from './tenant-cache-admin.js';

/** The body of `POST :tenant/flush`. */
export interface FlushRequest extends FlushOptions {
  target: FlushTarget;
}

/**
 * The admin routes (the module gives the class its path and guards). The tenant is in the path, never
 * taken from the request's tenant context: these routes act on any tenant, behind the user's guards.
 */
export class AdminRoutes {
  private admin?: TenantCacheAdmin;

  constructor(
    private readonly modules: ModuleRef,
    private readonly exposeValues: boolean,
  ) {}

  /** Finds the application's cache (wherever `TenantCacheModule` is imported); fails start-up without one. */
  resolve(): TenantCacheAdmin {
    if (this.admin === undefined) {
      const engine = this.modules.get(CacheEngine, { strict: false });
      const cache = this.modules.get(TenantCacheService, { strict: false });
      this.admin = new TenantCacheAdmin(engine, cache);
    }
    return this.admin;
  }

  @Get()
  overview(): { stores: string[]; methods: string[] } {
    const admin = this.resolve();
    return { stores: admin.stores(), methods: admin.methods() };
  }

  @Get(':tenant/footprint')
  footprint(@Param('tenant') tenant: string, @Query('store') store?: string): Promise<TenantFootprint> {
    return http(() => this.resolve().footprint(tenant, { store }));
  }

  @Get(':tenant/keys')
  keys(@Param('tenant') tenant: string, @Query('prefix') prefix = '', @Query('limit') limit = '1000'): Promise<string[]> {
    const n = Number(limit);
    if (!Number.isSafeInteger(n) || n < 1 || n > 100_000) throw new BadRequestException('limit must be an integer in [1, 100000]');
    return http(() => this.resolve().keys(tenant, prefix, n));
  }

  @Get(':tenant/entries/:key')
  inspect(@Param('tenant') tenant: string, @Param('key') key: string, @Query('store') store?: string, @Query('value') value?: string): Promise<InspectedEntry> {
    const wantsValue = value === 'true' || value === '1';
    if (wantsValue && !this.exposeValues)
      throw new BadRequestException('Values are not exposed: set exposeValues: true in TenantCacheAdminModule.forRoot to allow ?value=true.');
    return http(() => this.resolve().inspect(tenant, key, { store, value: wantsValue }));
  }

  @Post(':tenant/flush')
  flush(@Param('tenant') tenant: string, @Body() body: FlushRequest): Promise<FlushReport> {
    if (typeof body !== 'object' || body === null || typeof body.target !== 'object' || body.target === null) {
      throw new BadRequestException('The body is { target: { kind: "tenant" | "tag" | "method" | "responses" | "prefix", ... }, dryRun?, confirm? }.');
    }
    return http(() => this.resolve().flush(tenant, body.target, { dryRun: body.dryRun === true, confirm: body.confirm }));
  }
}

const NOT_FOUND: readonly string[] = [TenantCacheErrorCode.CachedMethodNotFound, TenantCacheErrorCode.UnknownStore];
const UNAVAILABLE: readonly string[] = [TenantCacheErrorCode.StoreUnavailable, TenantCacheErrorCode.InvalidationFailed];

/**
 * Library errors as HTTP answers, `{ error, code, message }` with the error's class name: a bad tenant id,
 * option or confirmation is a 400, an unknown method or store a 404, a store down a 503.
 */
async function http<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof TenantCacheError)) throw error;
    const body = { error: error.name, code: error.code, message: error.message };
    if (NOT_FOUND.includes(error.code)) throw new NotFoundException(body);
    if (UNAVAILABLE.includes(error.code)) throw new ServiceUnavailableException(body);
    throw new HttpException(body, 400);
  }
}
