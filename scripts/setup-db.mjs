#!/usr/bin/env node
// Brings the database to the checked-in schema (prisma migrate deploy) and, with --seed, runs the
// development seed. `npm run dev` uses --seed; `npm start` only migrates.
import { spawnSync } from 'node:child_process'

function run(cmd, args) {
  const result = spawnSync(cmd, args, { stdio: 'inherit', env: process.env })
  if (result.status !== 0) {
    console.error(`setup-db: "${cmd} ${args.join(' ')}" failed`)
    process.exit(result.status ?? 1)
  }
}

run('npx', ['prisma', 'migrate', 'deploy'])
if (process.argv.includes('--seed')) run('npx', ['tsx', 'prisma/seed.ts'])
