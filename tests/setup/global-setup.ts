// Once per vitest run: a base database brought up to date by the real migrations (so it holds the
// roles and permissions they create). Test files get their own copy; nothing ever deletes seed rows.
//   SQLite (default): a base file that each test file copies. Its name is unique per run so two runs
//     side by side do not trample each other.
//   PostgreSQL (TEST_DB=postgres): a throwaway cluster (tests/setup/postgres.ts) — or the one at
//     TEST_POSTGRES_ADMIN_URL — with a migrated template database that each test file clones.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import type { TestProject } from 'vitest/node'
import { repoRoot, tmpDir } from './paths'
import { createDatabase, dropDatabase, startPostgresCluster, type PostgresCluster } from './postgres'

declare module 'vitest' {
  export interface ProvidedContext {
    baseDatabasePath: string
    /** TEST_DB=postgres only: the maintenance URL of the cluster, and the template database's name. */
    postgresAdminUrl: string
    postgresTemplate: string
  }
}

function migrate(databaseUrl: string) {
  execFileSync(process.execPath, ['scripts/setup-db.mjs'], {
    cwd: repoRoot,
    env: { ...process.env, DATABASE_URL: databaseUrl },
    stdio: 'pipe',
  })
}

export default async function setup(project: TestProject) {
  fs.mkdirSync(tmpDir, { recursive: true })
  if (process.env.TEST_DB === 'postgres') {
    let cluster: PostgresCluster | undefined
    const adminUrl = process.env.TEST_POSTGRES_ADMIN_URL ?? (cluster = await startPostgresCluster()).adminUrl
    const template = `trainyard_template_${process.pid}`
    await createDatabase(adminUrl, template)
    const url = new URL(adminUrl)
    url.pathname = `/${template}`
    migrate(url.toString())
    project.provide('postgresAdminUrl', adminUrl)
    project.provide('postgresTemplate', template)
    project.provide('baseDatabasePath', '')
    return async () => {
      if (cluster) cluster.stop()
      else await dropDatabase(adminUrl, template)
    }
  }
  const baseDatabasePath = path.join(tmpDir, `base-${process.pid}.db`)
  migrate(`file:${baseDatabasePath}`)
  project.provide('baseDatabasePath', baseDatabasePath)
  project.provide('postgresAdminUrl', '')
  project.provide('postgresTemplate', '')
  return () => fs.rmSync(baseDatabasePath, { force: true })
}
