// Compiled by `npx tsc -p tsconfig.json --noEmit`, never run: the user type of tenant.authorize.
import { TenantCacheModule, type TenantAuthorizer, type TenantCacheModuleOptions, type TenantOptions, type TenantRequest } from '../../lib/index.js';

interface JwtUser {
  sub: string;
  orgs: string[];
}

// A typed user, no cast; the request is typed too.
const tenant: TenantOptions<JwtUser> = {
  authorize: (user, tenantId, request: TenantRequest) => user.orgs.includes(tenantId) && request.headers !== undefined,
};
const options: TenantCacheModuleOptions<JwtUser> = { tenant: { authorize: async (user, tenantId) => user.orgs.includes(tenantId) } };
const authorizer: TenantAuthorizer<JwtUser> = (user, tenantId) => user.sub !== '' && user.orgs.includes(tenantId);

// Typed options stay assignable to forRoot / forRootAsync, whose options are untyped (unknown user).
TenantCacheModule.forRoot(options);
TenantCacheModule.forRoot({ tenant });
TenantCacheModule.forRoot({ tenant: { authorize: authorizer } });
TenantCacheModule.forRootAsync({ useFactory: (): TenantCacheModuleOptions<JwtUser> => options });
// An annotated parameter inline works without the generic.
TenantCacheModule.forRoot({ tenant: { authorize: (user: JwtUser, tenantId: string) => user.orgs.includes(tenantId) } });

// Backward compatible: no type argument means an unknown user, which must be narrowed before use.
const untyped: TenantOptions = { authorize: (user, tenantId) => (user as JwtUser).orgs.includes(tenantId) };
TenantCacheModule.forRoot({ tenant: untyped });
const plain: TenantAuthorizer = (user) => user !== undefined;
TenantCacheModule.forRoot({ tenant: { authorize: plain } });

const wrongUser: TenantOptions<JwtUser> = {
  // @ts-expect-error JwtUser has no "tenants"
  authorize: (user, tenantId) => user.tenants.includes(tenantId),
};
const wrongResult: TenantOptions<JwtUser> = {
  // @ts-expect-error authorize answers a boolean
  authorize: (user) => user.sub,
};
const unknownUser: TenantOptions = {
  // @ts-expect-error without the type argument the user is unknown
  authorize: (user, tenantId) => user.orgs.includes(tenantId),
};
void wrongUser;
void wrongResult;
void unknownUser;
