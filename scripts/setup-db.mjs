#!/usr/bin/env node
// Brings the database at DATABASE_URL to the checked-in schema and, with --seed, runs the development
// seed. `npm run dev` uses --seed; `npm start` and `npm run db:deploy` only migrate.
//   SQLite (file:…, the default): `prisma migrate deploy` with prisma/migrations/
//   PostgreSQL (postgresql://…):  scripts/db/migrate-postgres.mjs with prisma/migrations-postgres/
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'

// Variables already set in the environment win over .env (Node's loadEnvFile never overrides).
if (fs.existsSync('.env')) process.loadEnvFile('.env')
const databaseUrl = process.env.DATABASE_URL || 'file:./data/dev.db'

function run(cmd, args) {
  const result = spawnSync(cmd, args, { stdio: 'inherit', env: process.env })
  if (result.status !== 0) {
    console.error(`setup-db: "${cmd} ${args.join(' ')}" failed`)
    process.exit(result.status ?? 1)
  }
}

if (/^postgres(ql)?:\/\//.test(databaseUrl)) run(process.execPath, ['scripts/db/migrate-postgres.mjs'])
else if (databaseUrl.startsWith('file:')) run('npx', ['prisma', 'migrate', 'deploy'])
else {
  console.error('setup-db: DATABASE_URL must be a SQLite URL (file:./data/dev.db) or a PostgreSQL URL (postgresql://…)')
  process.exit(1)
}
if (process.argv.includes('--seed')) run('npx', ['tsx', 'prisma/seed.ts'])
