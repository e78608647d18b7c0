import type { PrismaClient } from '@prisma/client'
import { createPrismaClient } from '../../prisma/create-client'
import { getEnv } from './env.server'

export { createPrismaClient }

// One client per process. In development Remix re-imports modules on each rebuild, and the server and
// the supervisor load this module from two builds: keep the client on globalThis so there is one
// database handle (two better-sqlite3 handles on one file in one process block each other).
const globalForPrisma = globalThis as unknown as { __prisma?: PrismaClient }

export const prisma: PrismaClient = (globalForPrisma.__prisma ??= createPrismaClient(getEnv().DATABASE_URL))

/**
 * Prisma's error code, checked by value on purpose: the PostgreSQL client is a second generated client
 * with its own error classes, so `instanceof` would miss its errors.
 */
function hasPrismaCode(error: unknown, code: string) {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === code
}

/** A unique index refused the write (P2002). */
export function isUniqueViolation(error: unknown) {
  return hasPrismaCode(error, 'P2002')
}

/**
 * PostgreSQL aborted one of two conflicting serializable transactions: retrying it is right. Inside the
 * transaction Prisma reports it as P2034; when the conflict is found at COMMIT, Prisma 6's pg adapter
 * throws its own DriverAdapterError (kind TransactionWriteConflict) without the code.
 */
export function isSerializationFailure(error: unknown) {
  if (hasPrismaCode(error, 'P2034')) return true
  if (!(error instanceof Error) || error.name !== 'DriverAdapterError') return false
  const cause: unknown = error.cause
  return typeof cause === 'object' && cause !== null && 'kind' in cause && cause.kind === 'TransactionWriteConflict'
}

/**
 * A LIKE pattern that finds `text` anywhere, for raw SQL with `ESCAPE '\'`: LIKE's wildcards (`%`, `_`)
 * and the escape character itself are escaped, so what a person typed is matched as typed. Prisma's
 * `contains` escapes nothing, and SQLite's LIKE has no escape character unless the query names one.
 */
export function likeContainsPattern(text: string) {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
}
