// The PostgreSQL migration runner and the PostgreSQL schema: in step with prisma/schema.prisma, applied
// in order and once, refusing a changed or unknown migration, rolling back a failing one, safe with
// several processes starting at once, and leading to exactly the schema Prisma would create.
import { spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, describe, expect, inject, test } from 'vitest'
import { createDatabase, dropDatabase } from '../../tests/setup/postgres'
import { repoRoot } from '../../tests/setup/paths'
import { migratePostgres, POSTGRES_MIGRATIONS_DIR, readMigrations } from './migrate-postgres.mjs'

type Migrate = (url: string, options?: { dir?: string; log?: (line: string) => void }) => Promise<string[]>
// The runner is plain JavaScript (it runs at `npm start`, before anything is compiled): typed here.
const migrate = migratePostgres as Migrate
const quiet = { log: () => {} }

test('prisma/postgres/schema.prisma is generated from prisma/schema.prisma, and the newest PostgreSQL migration leads to it', () => {
  const check = spawnSync(process.execPath, ['scripts/db/postgres-schema.mjs', '--check'], { cwd: repoRoot, encoding: 'utf8' })
  expect(check.stderr).toBe('')
  expect(check.status).toBe(0)
  const migrations = (readMigrations as () => Array<{ name: string }>)()
  const newest = migrations.at(-1)!.name
  const snapshot = fs.readFileSync(path.join(POSTGRES_MIGRATIONS_DIR as string, newest, 'schema.prisma'), 'utf8')
  // A schema change without its PostgreSQL migration fails here: run `npm run db:migration:postgres -- <name>`.
  expect(snapshot).toBe(fs.readFileSync(path.join(repoRoot, 'prisma', 'postgres', 'schema.prisma'), 'utf8'))
})

const adminUrl = inject('postgresAdminUrl')
const created: string[] = []

async function scratchDatabase() {
  const name = `m_${crypto.randomBytes(5).toString('hex')}`
  await createDatabase(adminUrl, name)
  created.push(name)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<T>(sql)).rows
  } finally {
    await client.end()
  }
}

/** Tables, columns and indexes, in an order that does not depend on how they were made. */
async function schemaOf(url: string) {
  const columns = await query(
    url,
    `SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
     WHERE table_schema = 'public' AND table_name <> '_trainyard_migrations' ORDER BY table_name, column_name`,
  )
  const indexes = await query(
    url,
    `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '_trainyard_migrations' ORDER BY indexname`,
  )
  const constraints = await query(
    url,
    `SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY conname`,
  )
  return { columns, indexes, constraints: constraints.filter((c) => !String(c.conname).startsWith('_trainyard')) }
}

function copyMigrations() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trainyard-migrations-'))
  fs.cpSync(POSTGRES_MIGRATIONS_DIR as string, dir, { recursive: true })
  return dir
}

describe.runIf(Boolean(adminUrl))('the PostgreSQL migration runner (TEST_DB=postgres)', () => {
  afterAll(async () => {
    for (const name of created) await dropDatabase(adminUrl, name)
  })

  test('applies every migration once, in order; a second run applies nothing', async () => {
    const url = await scratchDatabase()
    const names = (readMigrations as () => Array<{ name: string }>)().map((m) => m.name)
    expect(await migrate(url, quiet)).toEqual(names)
    expect(await migrate(url, quiet)).toEqual([])
    const rows = await query<{ name: string }>(url, 'SELECT "name" FROM "_trainyard_migrations" ORDER BY "name"')
    expect(rows.map((r) => r.name)).toEqual(names)
    // The seed rows every database needs came with them.
    expect(await query(url, `SELECT "name" FROM "Role" ORDER BY "name"`)).toEqual([{ name: 'admin' }, { name: 'user' }])
    expect((await query<{ n: string }>(url, 'SELECT count(*) AS n FROM "Permission"'))[0]!.n).toBe('40')
  })

  test('the migrations lead to exactly the schema Prisma makes from prisma/postgres/schema.prisma', async () => {
    const migrated = await scratchDatabase()
    await migrate(migrated, quiet)
    const fromPrisma = await scratchDatabase()
    const diff = spawnSync(
      'npx',
      [
        'prisma',
        'migrate',
        'diff',
        '--config',
        'prisma/postgres.config.ts',
        '--from-empty',
        '--to-schema-datamodel',
        'prisma/postgres/schema.prisma',
        '--script',
      ],
      { cwd: repoRoot, env: { ...process.env, DATABASE_URL: fromPrisma }, encoding: 'utf8' },
    )
    expect(diff.status, diff.stderr).toBe(0)
    await query(fromPrisma, diff.stdout)
    expect(await schemaOf(migrated)).toEqual(await schemaOf(fromPrisma))
  }, 60_000)

  test('refuses a migration changed after it was applied, and one the code does not know', async () => {
    const dir = copyMigrations()
    try {
      const url = await scratchDatabase()
      await migrate(url, { dir, ...quiet })
      const first = fs.readdirSync(dir).sort()[0]!
      fs.appendFileSync(path.join(dir, first, 'migration.sql'), '\n-- edited later\n')
      await expect(migrate(url, { dir, ...quiet })).rejects.toThrow(`Migration ${first} was changed after it was applied`)
      fs.rmSync(path.join(dir, first), { recursive: true })
      await expect(migrate(url, { dir, ...quiet })).rejects.toThrow(
        `The database has migrations this code does not know: ${first}`,
      )
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  test('a failing migration is rolled back whole and not recorded; the ones before it stay', async () => {
    const dir = copyMigrations()
    try {
      fs.mkdirSync(path.join(dir, '29990101000000_broken'))
      fs.writeFileSync(
        path.join(dir, '29990101000000_broken', 'migration.sql'),
        'CREATE TABLE "Half" ("id" TEXT);\nSELECT 1 / 0;\n',
      )
      const url = await scratchDatabase()
      await expect(migrate(url, { dir, ...quiet })).rejects.toThrow(
        /Migration 29990101000000_broken failed and was rolled back: division by zero/,
      )
      expect(await query(url, `SELECT to_regclass('public."Half"') AS t`)).toEqual([{ t: null }])
      const applied = await query<{ name: string }>(url, 'SELECT "name" FROM "_trainyard_migrations"')
      expect(applied.map((r) => r.name)).not.toContain('29990101000000_broken')
      expect(applied.length).toBe(fs.readdirSync(dir).length - 1)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  test('three processes migrating one database at once: each migration is applied exactly once', async () => {
    const url = await scratchDatabase()
    const results = await Promise.all([0, 1, 2].map(() => migrate(url, quiet)))
    const names = (readMigrations as () => Array<{ name: string }>)().map((m) => m.name)
    expect(results.flat().sort()).toEqual(names.sort())
    expect((await query<{ n: string }>(url, 'SELECT count(*) AS n FROM "Role"'))[0]!.n).toBe('2')
  })
})
