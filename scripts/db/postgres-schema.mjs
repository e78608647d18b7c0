#!/usr/bin/env node
// prisma/postgres/schema.prisma is made from prisma/schema.prisma (the one schema people edit): the same
// models, with the PostgreSQL provider and its own client output, so one generated client per database.
//   node scripts/db/postgres-schema.mjs          writes it
//   node scripts/db/postgres-schema.mjs --check  exits 1 when it is out of date (a test runs this)
import fs from 'node:fs'
import path from 'node:path'
import url from 'node:url'

const root = path.resolve(path.dirname(url.fileURLToPath(import.meta.url)), '..', '..')
const source = path.join(root, 'prisma', 'schema.prisma')
const target = path.join(root, 'prisma', 'postgres', 'schema.prisma')

export function postgresSchema(text) {
  const provider = 'provider = "sqlite"'
  const engine = '  engineType = "client"\n'
  if (!text.includes(provider) || !text.includes(engine)) {
    throw new Error('prisma/schema.prisma no longer has the lines this script rewrites (provider "sqlite", engineType "client")')
  }
  const header =
    '// GENERATED from prisma/schema.prisma by scripts/db/postgres-schema.mjs — do not edit; edit that file and rerun.\n'
  return (
    header +
    text
      .replace(provider, 'provider = "postgresql"')
      // Its own client: @prisma/client stays the SQLite one; app/utils/db.server.ts picks by DATABASE_URL.
      .replace(engine, `${engine}  output     = "../../node_modules/.prisma/client-postgres"\n`)
  )
}

const wanted = postgresSchema(fs.readFileSync(source, 'utf8'))
if (process.argv.includes('--check')) {
  const current = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : ''
  if (current !== wanted) {
    console.error('prisma/postgres/schema.prisma is out of date: run `node scripts/db/postgres-schema.mjs`')
    process.exit(1)
  }
} else {
  fs.mkdirSync(path.dirname(target), { recursive: true })
  fs.writeFileSync(target, wanted)
}
