// Server-only helpers of the admin section (app/routes/admin+/): the permission keys of the
// matrix, unique-name races, and the one write that can lock everyone out (a user's roles).
// Role names and form limits the browser needs too live in ~/utils/roles.
import { Prisma } from '@prisma/client'
import { isSerializationFailure, prisma } from '~/utils/db.server'
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

class LastAdminError extends Error {}

/** PostgreSQL aborts one of two conflicting serializable transactions (P2034): it is retried. */
const SERIALIZATION_RETRIES = 5

/**
 * Replaces a user's roles, unless afterwards nobody would hold the admin role. The write and the
 * count happen in one serializable transaction, so two admins removing each other at the same
 * time cannot both succeed; on refusal the transaction rolls back and nothing changes. SQLite runs
 * such transactions one at a time; PostgreSQL aborts the loser of a conflict, which is then retried
 * and sees the winner's write.
 */
export async function setUserRoles(userId: string, roleIds: string[]) {
  for (let attempt = 1; ; attempt++) {
    try {
      await prisma.$transaction(
        async (tx) => {
          // Every change of roles writes the admin role's row first, so two at once conflict on that
          // row, at this statement: PostgreSQL then aborts the later one here, inside the transaction,
          // and Prisma rolls it back. Left to be found at COMMIT (the two read each other's rows),
          // the conflict surfaces from Prisma 6's pg adapter without a rollback, and the pooled
          // connection is never given back.
          await tx.role.update({ where: { name: ADMIN_ROLE }, data: { updatedAt: new Date() } })
          await tx.user.update({ where: { id: userId }, data: { roles: { set: roleIds.map((id) => ({ id })) } } })
          const admins = await tx.user.count({ where: { roles: { some: { name: ADMIN_ROLE } } } })
          if (admins === 0) throw new LastAdminError()
        },
        { isolationLevel: Prisma.TransactionIsolationLevel.Serializable },
      )
      return { ok: true } as const
    } catch (error) {
      if (error instanceof LastAdminError) return { ok: false, reason: 'last-admin' } as const
      if (isSerializationFailure(error) && attempt < SERIALIZATION_RETRIES) continue
      throw error
    }
  }
}
