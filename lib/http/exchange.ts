import type { CallHandler } from '@nestjs/common';
import type { CacheScope } from '../keys/key-builder.js';
import type { ResolvedTags } from '../engine/tags.js';
import type { CacheRequest } from './cache-request.js';
import type { PlatformResponse } from './platform-shims.js';
import type { RoutePlan } from './route-plan.js';

/** One cacheable request on its way through the interceptor: what every step of serving it needs. */
export interface Exchange {
  readonly plan: RoutePlan;
  readonly req: CacheRequest;
  readonly res: PlatformResponse;
  readonly next: CallHandler;
  readonly scope: CacheScope;
  readonly key: string;
  readonly perUser: boolean;
  readonly tags: ResolvedTags;
}
