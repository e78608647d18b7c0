// The one server-side permission check. Throws a 403 Response that the error boundary renders.
import { json } from '@remix-run/node'
import { narrowAccesses } from '../api/principal.server'
import { requireUserId } from './auth.server'
import { prisma } from './db.server'
import {
  parsePermissionString,
  userHasPermission,
  type Access,
  type Action,
  type Entity,
  type PermissionString,
} from './permissions'
import { getRequestUserWithRoles } from './user.server'

export async function requireUserWithPermission(request: Request, permission: PermissionString) {
  const userId = await requireUserId(request)
  const { action, entity, access } = parsePermissionString(permission)
  const user = await prisma.user.findFirst({
    select: { id: true },
    where: {
      id: userId,
      roles: { some: { permissions: { some: { action, entity, access: { in: narrowAccesses(request, action, access) } } } } },
    },
  })
  if (!user) {
    throw json({ error: 'Forbidden', requiredPermission: permission }, { status: 403 })
  }
  return user.id
}

export async function requireUserWithRole(request: Request, name: string) {
  const userId = await requireUserId(request)
  // A role is all of its permissions: only a token with the admin and write scopes carries one.
  if (narrowAccesses(request, 'update', ['any']).length === 0)
    throw json({ error: 'Forbidden', requiredRole: name }, { status: 403 })
  const user = await prisma.user.findFirst({ select: { id: true }, where: { id: userId, roles: { some: { name } } } })
  if (!user) throw json({ error: 'Forbidden', requiredRole: name }, { status: 403 })
  return user.id
}

/**
 * For pages that need one access level and show more with the other (the trainings list: one's own,
 * or everyone's for admins). It reads the user with roles and permissions that the root loader reads
 * for the same request (one query for both). 403 without `required`, like requireUserWithPermission.
 */
export async function requireUserAccess(request: Request, action: Action, entity: Entity, required: Access = 'own') {
  const userId = await requireUserId(request)
  const user = await getRequestUserWithRoles(request, userId)
  if (!userHasPermission(user, `${action}:${entity}:${required}`)) {
    throw json({ error: 'Forbidden', requiredPermission: `${action}:${entity}:${required}` }, { status: 403 })
  }
  return { userId, hasAny: userHasPermission(user, `${action}:${entity}:any`) }
}

/** Whether the user holds the "any" variant of a permission (e.g. admins reading others' trainings). */
export async function userHasAnyAccess(userId: string, action: string, entity: string) {
  const user = await prisma.user.findFirst({
    select: { id: true },
    where: { id: userId, roles: { some: { permissions: { some: { action, entity, access: 'any' } } } } },
  })
  return Boolean(user)
}
