// `npm run db:migration:postgres -- <name>`: writes the PostgreSQL migration that takes the database
// from the schema of the newest PostgreSQL migration to prisma/postgres/schema.prisma (regenerated from
// prisma/schema.prisma first). Each migration folder keeps a copy of the schema it leads to
// (schema.prisma) so the next diff has a "from" without introspecting a database, which Prisma 6's JS
// schema engine cannot do on PostgreSQL. A throwaway cluster is started only because the CLI opens its
// adapter before diffing. See README "Making a schema change".
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { startPostgresCluster } from '../../tests/setup/postgres'

const name = process.argv[2]
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  console.error('usage: npm run db:migration:postgres -- <name_in_snake_case>')
  process.exit(1)
}
const dir = path.join('prisma', 'migrations-postgres')
const regenerate = spawnSync(process.execPath, ['scripts/db/postgres-schema.mjs'], { stdio: 'inherit' })
if (regenerate.status !== 0) process.exit(1)
const previous = fs
  .readdirSync(dir)
  .filter((n) => fs.statSync(path.join(dir, n)).isDirectory())
  .sort()
  .at(-1)
const from = previous ? ['--from-schema-datamodel', path.join(dir, previous, 'schema.prisma')] : ['--from-empty']

const cluster = await startPostgresCluster()
try {
  const diff = spawnSync(
    'npx',
    [
      'prisma',
      'migrate',
      'diff',
      '--config',
      'prisma/postgres.config.ts',
      ...from,
      '--to-schema-datamodel',
      'prisma/postgres/schema.prisma',
      '--script',
    ],
    { env: { ...process.env, DATABASE_URL: cluster.adminUrl }, encoding: 'utf8' },
  )
  if (diff.status !== 0) throw new Error(`prisma migrate diff failed:\n${diff.stderr}`)
  if (!/^\s*(CREATE|ALTER|DROP)/m.test(diff.stdout)) {
    console.log('No schema change: prisma/postgres/schema.prisma matches the newest PostgreSQL migration.')
  } else {
    const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14)
    const target = path.join(dir, `${stamp}_${name}`)
    fs.mkdirSync(target, { recursive: true })
    fs.writeFileSync(path.join(target, 'migration.sql'), diff.stdout)
    fs.copyFileSync(path.join('prisma', 'postgres', 'schema.prisma'), path.join(target, 'schema.prisma'))
    console.log(`Wrote ${target}/migration.sql: read it, then commit the folder.`)
  }
} finally {
  cluster.stop()
}
