// Where the benchmarks keep their data: one fresh database per benchmark, all migrated by the same
// command people use (`node scripts/setup-db.mjs` = `npm run db:deploy`). SQLite (the default): one file
// per benchmark, copied from a migrated template file. PostgreSQL (`--db postgres`): a throwaway cluster
// (tests/setup/postgres.ts) and one database per benchmark, cloned from a migrated template database.
// A template is migrated once, so three benchmarks cost one migration.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { createDatabase, startPostgresCluster } from '../../tests/setup/postgres'
import { repoRoot } from '../../tests/setup/paths'
import type { DatabaseKind } from '../../prisma/database-url'
import { log } from './io'

export type BenchDatabases = {
  kind: DatabaseKind
  /** A new migrated database named `name` ([a-z0-9_]); returns its DATABASE_URL. */
  create: (name: string) => Promise<string>
  /** Stops the PostgreSQL cluster (and removes its folder); SQLite files go with the work folder. */
  close: () => void
}

const TEMPLATE = 'bench_template'

/** Migrates the database at `url`; the command's output goes to stderr, so stdout stays the JSON. */
function migrate(url: string) {
  const result = spawnSync(process.execPath, ['scripts/setup-db.mjs'], {
    cwd: repoRoot,
    env: { ...process.env, DATABASE_URL: url },
    stdio: ['ignore', 2, 2],
  })
  if (result.status !== 0) throw new Error(`Migrating ${url} failed (exit ${result.status}): see the output above`)
}

export async function openBenchDatabases(kind: DatabaseKind, workDir: string): Promise<BenchDatabases> {
  if (kind === 'sqlite') {
    const template = path.join(workDir, `${TEMPLATE}.db`)
    log(`databases: migrating the SQLite template ${template}`)
    migrate(`file:${template}`)
    return {
      kind,
      async create(name) {
        const file = path.join(workDir, `${name}.db`)
        fs.copyFileSync(template, file)
        return `file:${file}`
      },
      close() {},
    }
  }
  log('databases: starting a throwaway PostgreSQL cluster')
  const cluster = await startPostgresCluster()
  try {
    await createDatabase(cluster.adminUrl, TEMPLATE)
    log(`databases: migrating the PostgreSQL template database on port ${cluster.port}`)
    migrate(cluster.urlFor(TEMPLATE))
  } catch (error) {
    cluster.stop()
    throw error
  }
  return {
    kind,
    async create(name) {
      await createDatabase(cluster.adminUrl, name, { template: TEMPLATE })
      return cluster.urlFor(name)
    },
    close: () => cluster.stop(),
  }
}
