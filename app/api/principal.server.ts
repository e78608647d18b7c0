// Who a request acts as, when it came with an API token: set by the API router (app/api/router.server.ts)
// before any handler runs, read by the one session lookup (getUserId) and by every permission check,
// which narrow the user's permissions to the token's scopes. A request without a token entry here is a
// browser request with its session cookie: its user's permissions apply whole.
import type { Access, Action } from '~/utils/permissions'
import { scopeAllows, type ApiScope } from './scopes'

export type ApiPrincipal = { userId: string; tokenId: string; scopes: ApiScope[] }

const principalOfRequest = new WeakMap<Request, ApiPrincipal>()

export function setApiPrincipal(request: Request, principal: ApiPrincipal) {
  principalOfRequest.set(request, principal)
}

export function getApiPrincipal(request: Request): ApiPrincipal | null {
  return principalOfRequest.get(request) ?? null
}

/** The accesses of `accesses` that this request may use for `action`: all of them with a session. */
export function narrowAccesses<A extends Access>(request: Request, action: Action | string, accesses: readonly A[]): A[] {
  const principal = getApiPrincipal(request)
  if (!principal) return [...accesses]
  return accesses.filter((access) => scopeAllows(principal.scopes, action, access))
}

/** A user's roles with only the permissions this request may use (for userHasPermission). */
export function narrowRoles<R extends { permissions: { action: string; entity: string; access: string }[] }>(
  request: Request,
  roles: R[],
): R[] {
  const principal = getApiPrincipal(request)
  if (!principal) return roles
  return roles.map((role) => ({
    ...role,
    permissions: role.permissions.filter((p) => scopeAllows(principal.scopes, p.action, p.access)),
  }))
}
