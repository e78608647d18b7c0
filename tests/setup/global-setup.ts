// Once per vitest run: a base SQLite database brought up to date by the real migrations (so it
// holds the roles and permissions they create). Test files copy it; nothing ever deletes seed rows.
// The file name is unique per run so two runs side by side do not trample each other.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import type { TestProject } from 'vitest/node'
import { repoRoot, tmpDir } from './paths'

declare module 'vitest' {
  export interface ProvidedContext {
    baseDatabasePath: string
  }
}

export default function setup(project: TestProject) {
  fs.mkdirSync(tmpDir, { recursive: true })
  const baseDatabasePath = path.join(tmpDir, `base-${process.pid}.db`)
  execFileSync('npx', ['prisma', 'migrate', 'deploy'], {
    cwd: repoRoot,
    env: { ...process.env, DATABASE_URL: `file:${baseDatabasePath}` },
    stdio: 'pipe',
  })
  project.provide('baseDatabasePath', baseDatabasePath)
  return () => fs.rmSync(baseDatabasePath, { force: true })
}
