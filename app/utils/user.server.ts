import { narrowRoles } from '../api/principal.server'
import { prisma } from './db.server'

/** The user as the UI needs it: with roles and permissions, so it can hide what is not allowed. */
export function getUserWithRoles(userId: string) {
  return prisma.user.findUnique({
    where: { id: userId },
    select: {
      id: true,
      email: true,
      name: true,
      roles: { select: { name: true, permissions: { select: { action: true, entity: true, access: true } } } },
    },
  })
}

// The root loader and a page's loader run with the same Request on a page load: one query serves both.
const userOfRequest = new WeakMap<Request, Promise<Awaited<ReturnType<typeof getUserWithRoles>>>>()

/** getUserWithRoles for the logged-in user of this request, asked once per request. */
export function getRequestUserWithRoles(request: Request, userId: string) {
  let user = userOfRequest.get(request)
  if (!user) {
    // A token request sees its user's permissions narrowed to the token's scopes.
    user = getUserWithRoles(userId).then((found) => (found ? { ...found, roles: narrowRoles(request, found.roles) } : found))
    userOfRequest.set(request, user)
  }
  return user
}
