import { timingSafeEqual } from 'node:crypto';
import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';

/**
 * Lets operators through: the `x-admin-token` header must equal ADMIN_TOKEN (16 characters or more).
 * Without ADMIN_TOKEN every operator route answers 403. A real application would check a role of the
 * authenticated user instead.
 */
@Injectable()
export class OperatorGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const expected = process.env.ADMIN_TOKEN;
    const given = context.switchToHttp().getRequest<{ headers: Record<string, string | string[] | undefined> }>().headers['x-admin-token'];
    if (expected === undefined || expected.length < 16 || typeof given !== 'string') return false;
    const a = Buffer.from(given);
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
