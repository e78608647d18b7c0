// The one server-side permission check. Throws a 403 Response that the error boundary renders.
import { json } from '@remix-run/node'
import { requireUserId } from './auth.server'
import { prisma } from './db.server'
import { parsePermissionString, type PermissionString } from './permissions'

export async function requireUserWithPermission(request: Request, permission: PermissionString) {
  const userId = await requireUserId(request)
  const { action, entity, access } = parsePermissionString(permission)
  const user = await prisma.user.findFirst({
    select: { id: true },
    where: { id: userId, roles: { some: { permissions: { some: { action, entity, access: { in: access } } } } } },
  })
  if (!user) {
    throw json({ error: 'Forbidden', requiredPermission: permission }, { status: 403 })
  }
  return user.id
}

export async function requireUserWithRole(request: Request, name: string) {
  const userId = await requireUserId(request)
  const user = await prisma.user.findFirst({ select: { id: true }, where: { id: userId, roles: { some: { name } } } })
  if (!user) throw json({ error: 'Forbidden', requiredRole: name }, { status: 403 })
  return user.id
}

/** Whether the user holds the "any" variant of a permission (e.g. admins reading others' trainings). */
export async function userHasAnyAccess(userId: string, action: string, entity: string) {
  const user = await prisma.user.findFirst({
    select: { id: true },
    where: { id: userId, roles: { some: { permissions: { some: { action, entity, access: 'any' } } } } },
  })
  return Boolean(user)
}
