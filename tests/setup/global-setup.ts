// Once per vitest run: a base SQLite database brought up to date by the real migrations (so it
// holds the roles and permissions they create). Test files copy it; nothing ever deletes seed rows.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import { baseDatabasePath, repoRoot, tmpDir } from './paths'

export default function setup() {
  fs.mkdirSync(tmpDir, { recursive: true })
  fs.rmSync(baseDatabasePath, { force: true })
  execFileSync('npx', ['prisma', 'migrate', 'deploy'], {
    cwd: repoRoot,
    env: { ...process.env, DATABASE_URL: `file:${baseDatabasePath}` },
    stdio: 'pipe',
  })
}
