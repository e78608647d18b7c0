// The one place that turns a DATABASE_URL into a Prisma driver adapter for SQLite.
// Used by prisma.config.ts (CLI: migrate, seed) and by app/utils/db.server.ts (the app).
import fs from 'node:fs'
import path from 'node:path'
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3'

/** Relative paths resolve from the working directory (the repository root), not from prisma/. */
export const defaultDatabaseUrl = 'file:./data/dev.db'

type ShadowAdapter = Awaited<ReturnType<PrismaBetterSQLite3['connectToShadowDb']>>

export function sqliteFilePath(url: string) {
  return url.replace(/^file:/, '').replace(/\?.*$/, '')
}

export function createSqliteAdapter(url: string) {
  const file = sqliteFilePath(url)
  // better-sqlite3 creates the file but not its folder; a fresh clone has no data/ yet.
  if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true })
  const factory = new PrismaBetterSQLite3({ url: file })

  // `prisma migrate dev` replays every migration into an in-memory shadow database through
  // executeRaw, which better-sqlite3 runs as a single statement: a migration with several
  // statements fails. Route argument-less raw SQL to executeScript, which runs them all.
  const connectToShadowDb = async (): Promise<ShadowAdapter> => {
    const shadow = await factory.connectToShadowDb()
    const executeRaw = shadow.executeRaw.bind(shadow)
    shadow.executeRaw = async (query) => {
      if (query.args.length > 0) return executeRaw(query)
      await shadow.executeScript(query.sql)
      return 0
    }
    return shadow
  }

  return {
    provider: 'sqlite' as const,
    adapterName: factory.adapterName,
    connect: () => factory.connect(),
    connectToShadowDb,
  }
}
