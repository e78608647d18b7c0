// Server-only helpers of the admin section (app/routes/admin*.tsx): role names, the permission
// keys of the matrix, and the one write that can lock everyone out (a user's roles).
import { Prisma } from '@prisma/client'
import { z } from 'zod'
import { prisma } from '~/utils/db.server'
import { ACCESSES, ACTIONS, ENTITIES } from '~/utils/permissions'

/** The role whose members run the admin pages; it always keeps at least one member. */
export const ADMIN_ROLE = 'admin'

/**
 * Roles the app looks up by name: sign-up gives every new account 'user', and 'admin' is what the
 * last-admin rule counts. Renaming or deleting either would break that, so both are refused.
 */
const BUILT_IN_ROLES = new Set([ADMIN_ROLE, 'user'])

export function isBuiltInRole(name: string) {
  return BUILT_IN_ROLES.has(name)
}

export const ROLE_NAME_MIN_CHARS = 2
export const ROLE_NAME_MAX_CHARS = 32
export const ROLE_DESCRIPTION_MAX_CHARS = 200

export const RoleNameSchema = z
  .string({ required_error: 'Name is required' })
  .trim()
  .min(ROLE_NAME_MIN_CHARS, `Name must be at least ${ROLE_NAME_MIN_CHARS} characters`)
  .max(ROLE_NAME_MAX_CHARS, `Name must be at most ${ROLE_NAME_MAX_CHARS} characters`)
  .regex(/^[a-z0-9-]+$/, 'Use only lowercase letters (a–z), digits and "-"')

export const RoleDescriptionSchema = z
  .string()
  .trim()
  .max(ROLE_DESCRIPTION_MAX_CHARS, `Description must be at most ${ROLE_DESCRIPTION_MAX_CHARS} characters`)
  .default('')

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
