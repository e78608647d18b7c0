// Server-only helpers of the admin section (app/routes/admin+/): the permission keys of the
// matrix, unique-name races, the grant rule (nobody gives or takes away what they do not hold), and
// the two writes it guards: a user's roles (which can also lock everyone out) and a role's permissions.
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

/**
 * The grant rule: an actor may give or take away only what it holds itself. A role may be added to
 * or removed from a user only by an actor holding every permission of that role, and a permission
 * added to or removed from a role only by one holding it. Without it, whoever may edit users could
 * make anyone (themselves included) an admin, and whoever may edit roles could give their own role
 * every permission. Taking away is ruled like giving, or a user manager could strip the admins.
 * Holding `any` counts as holding `own`, as in every permission check.
 */
async function heldPermissionKeys(db: Prisma.TransactionClient, actorId: string) {
  // One nested query: the permissions of the roles this user has.
  const held = await db.permission.findMany({
    where: { roles: { some: { users: { some: { id: actorId } } } } },
    select: { action: true, entity: true, access: true },
  })
  const keys = new Set(held.map(permissionKey))
  for (const p of held) if (p.access === 'any') keys.add(`${p.action}:${p.entity}:own`)
  return keys
}

/** The keys among `keys` that are not held, in matrix order. */
function notHeld(held: ReadonlySet<string>, keys: Iterable<string>) {
  const missing = new Set([...keys].filter((key) => !held.has(key)))
  return PERMISSION_KEYS.filter((key) => missing.has(key))
}

/** Enough of a list to act on: a role may lack most of the 40 permissions. */
const MISSING_SHOWN = 6

function listPermissions(keys: string[]) {
  if (keys.length <= MISSING_SHOWN) return keys.join(', ')
  return `${keys.slice(0, MISSING_SHOWN).join(', ')} and ${keys.length - MISSING_SHOWN} more`
}

class LastAdminError extends Error {}
class NotHeldError extends Error {
  constructor(readonly messages: string[]) {
    super(messages.join(' '))
  }
}

/** PostgreSQL aborts one of two conflicting serializable transactions (P2034): it is retried. */
const SERIALIZATION_RETRIES = 5

/**
 * Replaces a user's roles on behalf of `actorId`, unless a role that changes (added or removed) has
 * a permission the actor does not hold (the grant rule above), or afterwards nobody would hold the
 * admin role. The checks read the roles as they are now, not as the actor's page showed them, and
 * run with the write and the count in one serializable transaction, so two admins removing each
 * other at the same time cannot both succeed; on refusal the transaction rolls back and nothing
 * changes. SQLite runs such transactions one at a time; PostgreSQL aborts the loser of a conflict,
 * which is then retried and sees the winner's write.
 */
/**
 * Prisma gives an interactive transaction 2 s to start and 5 s to finish. These are rare admin writes of a
 * few rows, but on SQLite they wait for the one writer's lock behind every other process on the file (a
 * worker, the tests): a generous bound costs nothing here.
 *
 * Each of these transactions also writes before it reads. On SQLite a transaction that reads first and
 * then writes must upgrade its lock; if another connection is writing meanwhile, SQLite refuses the
 * upgrade at once (SQLITE_BUSY, no waiting) to avoid a deadlock. A browser test saw exactly that — the
 * admin got a 500 saving a role's permissions while the test process wrote to the same file. Writing
 * first takes the write lock at the start, where SQLite waits for it instead.
 */
const ADMIN_TRANSACTION = { maxWait: 10_000, timeout: 20_000 } as const

export async function setUserRoles(userId: string, roleIds: string[], actorId: string) {
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
          // Read before the write: an actor changing their own roles is judged by what they hold now.
          const held = await heldPermissionKeys(tx, actorId)
          // The roles asked for and the roles the user has now: those in only one of the two change.
          const roles = await tx.role.findMany({
            where: { OR: [{ id: { in: roleIds } }, { users: { some: { id: userId } } }] },
            orderBy: { name: 'asc' },
            select: {
              id: true,
              name: true,
              permissions: { select: { action: true, entity: true, access: true } },
              users: { where: { id: userId }, select: { id: true } },
            },
          })
          const refusals = roles.flatMap((role) => {
            const has = role.users.length > 0
            if (has === roleIds.includes(role.id)) return []
            const missing = notHeld(held, role.permissions.map(permissionKey))
            if (!missing.length) return []
            return [
              `You cannot ${has ? 'take away' : 'grant'} the role ${role.name}: it has permissions you do not hold (${listPermissions(missing)}).`,
            ]
          })
          await tx.user.update({ where: { id: userId }, data: { roles: { set: roleIds.map((id) => ({ id })) } } })
          const admins = await tx.user.count({ where: { roles: { some: { name: ADMIN_ROLE } } } })
          // Either refusal rolls the write back. The last admin is named first: when both hold (an
          // admin who lost the role a moment ago removing the other one), it says what matters.
          if (admins === 0) throw new LastAdminError()
          if (refusals.length) throw new NotHeldError(refusals)
        },
        { ...ADMIN_TRANSACTION, isolationLevel: Prisma.TransactionIsolationLevel.Serializable },
      )
      return { ok: true } as const
    } catch (error) {
      if (error instanceof LastAdminError) return { ok: false, reason: 'last-admin' } as const
      if (error instanceof NotHeldError) return { ok: false, reason: 'not-held', messages: error.messages } as const
      if (isSerializationFailure(error) && attempt < SERIALIZATION_RETRIES) continue
      throw error
    }
  }
}

/**
 * Sets a role's permissions on behalf of `actorId`, unless one that changes is not held by the actor
 * (the grant rule above). Only what changes is written (connect and disconnect), so a permission
 * someone else gave or took at the same moment, which this actor was never checked for, is left as
 * that other write left it.
 */
export async function setRolePermissions(roleId: string, keys: string[], actorId: string) {
  try {
    return await prisma.$transaction(async (tx) => {
      // The write lock first (see ADMIN_TRANSACTION); a role that is gone throws here as it would below.
      await tx.role.update({ where: { id: roleId }, data: { updatedAt: new Date() } })
      const held = await heldPermissionKeys(tx, actorId)
      const all = await tx.permission.findMany({
        select: { id: true, action: true, entity: true, access: true, roles: { where: { id: roleId }, select: { id: true } } },
      })
      const wanted = new Set(keys)
      const added = all.filter((p) => !p.roles.length && wanted.has(permissionKey(p)))
      const removed = all.filter((p) => p.roles.length && !wanted.has(permissionKey(p)))
      const messages = [
        ['add', notHeld(held, added.map(permissionKey))] as const,
        ['remove', notHeld(held, removed.map(permissionKey))] as const,
      ]
        .filter(([, missing]) => missing.length)
        .map(([verb, missing]) => `You cannot ${verb} permissions you do not hold yourself (${listPermissions(missing)}).`)
      // Thrown, not returned: the refusal rolls back the lock-taking write above, so nothing changes.
      if (messages.length) throw new NotHeldError(messages)
      await tx.role.update({
        where: { id: roleId },
        data: {
          permissions: { connect: added.map((p) => ({ id: p.id })), disconnect: removed.map((p) => ({ id: p.id })) },
        },
      })
      return { ok: true } as const
    }, ADMIN_TRANSACTION)
  } catch (error) {
    if (error instanceof NotHeldError) return { ok: false, messages: error.messages } as const
    throw error
  }
}

/**
 * Deletes a role on behalf of `actorId`, unless it has a permission the actor does not hold: deleting
 * takes what the role granted away from everyone who has it, which the grant rule above forbids.
 */
export async function deleteRole(roleId: string, actorId: string) {
  try {
    return await prisma.$transaction(async (tx) => {
      // The write lock first (see ADMIN_TRANSACTION); a role that is gone throws here as it would below.
      await tx.role.update({ where: { id: roleId }, data: { updatedAt: new Date() } })
      const held = await heldPermissionKeys(tx, actorId)
      const role = await tx.role.findUniqueOrThrow({
        where: { id: roleId },
        select: { name: true, permissions: { select: { action: true, entity: true, access: true } } },
      })
      const missing = notHeld(held, role.permissions.map(permissionKey))
      // Thrown, not returned: the refusal rolls back the lock-taking write above, so nothing changes.
      if (missing.length) {
        throw new NotHeldError([
          `You cannot delete the role ${role.name}: it has permissions you do not hold (${listPermissions(missing)}).`,
        ])
      }
      await tx.role.delete({ where: { id: roleId } })
      return { ok: true } as const
    }, ADMIN_TRANSACTION)
  } catch (error) {
    if (error instanceof NotHeldError) return { ok: false, message: error.messages.join(' ') } as const
    throw error
  }
}
