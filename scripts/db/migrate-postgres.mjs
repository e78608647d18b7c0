#!/usr/bin/env node
// Applies prisma/migrations-postgres/*/migration.sql to the PostgreSQL database at DATABASE_URL, in name
// order, each in its own transaction, and records each in "_trainyard_migrations" with its SHA-256.
// Why not `prisma migrate deploy`: Prisma 6's JS schema engine cannot introspect PostgreSQL here
// (docs/decisions/009-postgresql.md). Rules:
//   - an applied migration whose file has changed since → refused (write a new migration instead);
//   - an applied migration whose folder is gone → refused (the code is older than the database);
//   - a failing migration → its transaction rolls back, nothing of it stays, exit 1;
//   - several processes starting at once → one applies, the others wait on an advisory lock.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import url from 'node:url'
import pg from 'pg'

const root = path.resolve(path.dirname(url.fileURLToPath(import.meta.url)), '..', '..')
export const POSTGRES_MIGRATIONS_DIR = path.join(root, 'prisma', 'migrations-postgres')
// Any constant will do: it only has to be the same in every process that migrates this database.
const ADVISORY_LOCK_KEY = 727_734_001

export function readMigrations(dir = POSTGRES_MIGRATIONS_DIR) {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const sql = fs.readFileSync(path.join(dir, name, 'migration.sql'), 'utf8')
      return { name, sql, checksum: crypto.createHash('sha256').update(sql).digest('hex') }
    })
}

export async function migratePostgres(connectionString, { dir = POSTGRES_MIGRATIONS_DIR, log = console.log } = {}) {
  const migrations = readMigrations(dir)
  const client = new pg.Client({ connectionString })
  await client.connect()
  try {
    await client.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCK_KEY])
    await client.query(`CREATE TABLE IF NOT EXISTS "_trainyard_migrations" (
      "name" TEXT PRIMARY KEY,
      "checksum" TEXT NOT NULL,
      "appliedAt" TIMESTAMPTZ NOT NULL DEFAULT now()
    )`)
    const applied = new Map(
      (await client.query('SELECT "name", "checksum" FROM "_trainyard_migrations"')).rows.map((r) => [r.name, r.checksum]),
    )
    const known = new Set(migrations.map((m) => m.name))
    const unknown = [...applied.keys()].filter((name) => !known.has(name))
    if (unknown.length > 0) {
      throw new Error(
        `The database has migrations this code does not know: ${unknown.join(', ')} (is this code older than the database?)`,
      )
    }
    const done = []
    for (const migration of migrations) {
      const checksum = applied.get(migration.name)
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) {
          throw new Error(
            `Migration ${migration.name} was changed after it was applied (checksum ${checksum.slice(0, 12)}… in the database, ` +
              `${migration.checksum.slice(0, 12)}… on disk): never edit an applied migration, add a new one`,
          )
        }
        continue
      }
      await client.query('BEGIN')
      try {
        await client.query(migration.sql)
        await client.query('INSERT INTO "_trainyard_migrations" ("name", "checksum") VALUES ($1, $2)', [
          migration.name,
          migration.checksum,
        ])
        await client.query('COMMIT')
      } catch (error) {
        await client.query('ROLLBACK')
        throw new Error(
          `Migration ${migration.name} failed and was rolled back: ${error instanceof Error ? error.message : error}`,
        )
      }
      done.push(migration.name)
      log(`applied ${migration.name}`)
    }
    log(done.length ? `${done.length} migration(s) applied` : 'No pending migrations to apply.')
    return done
  } finally {
    await client.end()
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === url.fileURLToPath(import.meta.url)) {
  const connectionString = process.env.DATABASE_URL
  if (!connectionString || !/^postgres(ql)?:\/\//.test(connectionString)) {
    console.error('migrate-postgres: DATABASE_URL must be a postgresql:// URL')
    process.exit(1)
  }
  try {
    await migratePostgres(connectionString)
  } catch (error) {
    console.error(`migrate-postgres: ${error instanceof Error ? error.message : error}`)
    process.exit(1)
  }
}
