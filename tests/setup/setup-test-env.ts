// Before each test file: its own copy of the migrated base database and its own mail outbox, set in
// the environment before any app module reads it. console.error fails the test unless a test
// expects it (vi.spyOn(console, 'error').mockImplementation(() => {})).
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { format } from 'node:util'
import { afterAll, beforeEach, inject, vi } from 'vitest'
import { tmpDir } from './paths'
import { createDatabase, dropDatabase } from './postgres'

const id = `${process.env.VITEST_POOL_ID ?? '0'}-${crypto.randomBytes(4).toString('hex')}`
const databaseFile = path.join(tmpDir, `test-${id}.db`)
const outboxDir = path.join(tmpDir, `outbox-${id}`)
const storageDir = path.join(tmpDir, `storage-${id}`)
const gpuDir = path.join(tmpDir, `gpu-${id}`)

process.env.NODE_ENV = 'test'
// SQLite: a copy of the migrated base file. PostgreSQL (TEST_DB=postgres): a database cloned from the
// migrated template (CREATE DATABASE … TEMPLATE, a file copy inside the server: fast).
const postgresAdminUrl = inject('postgresAdminUrl')
const postgresDatabase = `t_${id.replace(/[^a-z0-9]/g, '_')}`
if (postgresAdminUrl) {
  await createDatabase(postgresAdminUrl, postgresDatabase, { template: inject('postgresTemplate') })
  const url = new URL(postgresAdminUrl)
  url.pathname = `/${postgresDatabase}`
  process.env.DATABASE_URL = url.toString()
} else {
  fs.copyFileSync(inject('baseDatabasePath'), databaseFile)
  process.env.DATABASE_URL = `file:${databaseFile}`
}
process.env.MAIL_OUTBOX_DIR = outboxDir
// No test may write to data/storage: each file gets its own folder (tests that need S3 set S3_BUCKET).
process.env.STORAGE_DIR = storageDir
// The local GPU provider's records and agent work folders; tests terminate every agent they start.
process.env.LOCAL_GPU_DIR = gpuDir
// Tests drive the supervisor one cycle at a time (app/runs/supervisor/); none runs on a timer.
process.env.RUN_SUPERVISOR = 'false'
process.env.SESSION_SECRET = 'test-session-secret-0123456789'
delete process.env.SMTP_URL
// No test asks the real Hugging Face Hub: nothing listens on port 9 (a refused connection, at once).
// The files that test the Hub start tests/fake-hub and point HF_ENDPOINT at it.
process.env.HF_ENDPOINT = 'http://127.0.0.1:9'
delete process.env.HF_TOKEN

beforeEach(() => {
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    throw new Error(`console.error was called (mock it in the test if it is expected):\n${format(...args)}`)
  })
  // The email module logs where it wrote each message; that noise is not useful in test output.
  vi.spyOn(console, 'info').mockImplementation(() => {})
})

afterAll(async () => {
  const holder = globalThis as unknown as { __prisma?: { $disconnect(): Promise<void> } }
  await holder.__prisma?.$disconnect()
  delete holder.__prisma
  if (postgresAdminUrl) await dropDatabase(postgresAdminUrl, postgresDatabase)
  fs.rmSync(databaseFile, { force: true })
  fs.rmSync(`${databaseFile}-journal`, { force: true })
  fs.rmSync(outboxDir, { recursive: true, force: true })
  fs.rmSync(storageDir, { recursive: true, force: true })
  fs.rmSync(gpuDir, { recursive: true, force: true })
})
