import { PrismaClient } from '@prisma/client'
import { createSqliteAdapter } from '../../prisma/sqlite-adapter'
import { getEnv } from './env.server'

// One client per process. In development Remix re-imports modules on each rebuild: keep the
// client on globalThis so we do not open a new database handle every time.
const globalForPrisma = globalThis as unknown as { __prisma?: PrismaClient }

function createClient() {
  return new PrismaClient({ adapter: createSqliteAdapter(getEnv().DATABASE_URL) })
}

export const prisma: PrismaClient = (globalForPrisma.__prisma ??= createClient())
