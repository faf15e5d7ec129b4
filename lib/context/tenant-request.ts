import type { ExecutionContext } from '@nestjs/common';
import type { TenantRequest } from './tenant-resolver.interface.js';

/**
 * The HTTP request of an HTTP or GraphQL context; `undefined` for other contexts. GraphQL is read
 * structurally (no dependency on `@nestjs/graphql`): the resolver arguments are
 * `(root, args, context, info)`, and the context holds the request as `req` (Apollo) or
 * `request`/`reply.request` (Mercurius).
 */
export function requestOf(context: ExecutionContext): TenantRequest | undefined {
  const type = context.getType<string>();
  if (type === 'http') return context.switchToHttp().getRequest<TenantRequest>();
  if (type !== 'graphql') return undefined;
  const gql = context.getArgs()[2] as { req?: unknown; request?: unknown; reply?: { request?: unknown } } | null | undefined;
  const request = gql?.req ?? gql?.request ?? gql?.reply?.request;
  return isRequest(request) ? request : undefined;
}

function isRequest(value: unknown): value is TenantRequest {
  return typeof value === 'object' && value !== null && typeof (value as { headers?: unknown }).headers === 'object';
}
