// Server-only helpers of the admin section (app/routes/admin*.tsx): the permission keys of the
// matrix, unique-name races, and the one write that can lock everyone out (a user's roles).
// Role names and form limits the browser needs too live in ~/utils/roles.
import { Prisma } from '@prisma/client'
import { prisma } from '~/utils/db.server'
import { ACCESSES, ACTIONS, ENTITIES } from '~/utils/permissions'
import { ADMIN_ROLE } from '~/utils/roles'

export function duplicateRoleMessage(name: string) {
  return `A role named "${name}" already exists. Choose another name.`
}

/** `action:entity:access` for every permission the matrix can show, in matrix order. */
export const PERMISSION_KEYS: readonly string[] = ENTITIES.flatMap((entity) =>
  ACTIONS.flatMap((action) => ACCESSES.map((access) => `${action}:${entity}:${access}`)),
)

export function permissionKey(p: { action: string; entity: string; access: string }) {
  return `${p.action}:${p.entity}:${p.access}`
}

/** Two writers raced to the same unique value (a role name); the loser gets a clear message. */
export function isUniqueConstraintError(error: unknown) {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002'
}

class LastAdminError extends Error {}

/**
 * Replaces a user's roles, unless afterwards nobody would hold the admin role. The write and the
 * count happen in one serializable transaction, so two admins removing each other at the same
 * time cannot both succeed; on refusal the transaction rolls back and nothing changes.
 */
export async function setUserRoles(userId: string, roleIds: string[]) {
  try {
    await prisma.$transaction(
      async (tx) => {
        await tx.user.update({ where: { id: userId }, data: { roles: { set: roleIds.map((id) => ({ id })) } } })
        const admins = await tx.user.count({ where: { roles: { some: { name: ADMIN_ROLE } } } })
        if (admins === 0) throw new LastAdminError()
      },
      { isolationLevel: Prisma.TransactionIsolationLevel.Serializable },
    )
    return { ok: true } as const
  } catch (error) {
    if (error instanceof LastAdminError) return { ok: false, reason: 'last-admin' } as const
    throw error
  }
}
