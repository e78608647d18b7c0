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
