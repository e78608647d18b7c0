// Prisma 6.19 with the JS schema engine and the better-sqlite3 driver adapter: nothing native is
// downloaded (see docs/decisions/001-prisma-6-on-sqlite-without-engines.md).
// With a config file present Prisma no longer reads .env by itself, so we default DATABASE_URL here.
import fs from 'node:fs'
import path from 'node:path'
import { defineConfig } from 'prisma/config'
import { createSqliteAdapter, defaultDatabaseUrl } from './prisma/sqlite-adapter'

// Variables already set in the environment win over .env (Node's loadEnvFile never overrides).
if (fs.existsSync('.env')) process.loadEnvFile('.env')
process.env.DATABASE_URL ||= defaultDatabaseUrl

export default defineConfig({
  schema: path.join('prisma', 'schema.prisma'),
  migrations: {
    path: path.join('prisma', 'migrations'),
    seed: 'tsx prisma/seed.ts',
  },
  engine: 'js',
  experimental: { adapter: true },
  adapter: async () => createSqliteAdapter(process.env.DATABASE_URL!),
})
