// Prisma CLI configuration for the PostgreSQL schema, used only to write new PostgreSQL migrations
// (scripts/db/new-postgres-migration.ts runs `prisma migrate diff` with it). Applying migrations is
// scripts/db/migrate-postgres.mjs's job; the app builds its client in prisma/create-client.ts.
import path from 'node:path'
import { PrismaPg } from '@prisma/adapter-pg'
import { defineConfig } from 'prisma/config'

export default defineConfig({
  // Relative to this file's folder, as Prisma resolves it.
  schema: path.join('postgres', 'schema.prisma'),
  engine: 'js',
  experimental: { adapter: true },
  // migrate diff between two schema files reads no database, but the CLI opens the adapter first.
  adapter: async () => new PrismaPg({ connectionString: process.env.DATABASE_URL! }),
})
