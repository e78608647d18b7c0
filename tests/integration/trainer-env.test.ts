// The server's secrets never reach a trainer: whole runs through the supervisor, the real local
// provider and the real agent, with the app's secret variables set in this process (which supervises
// and launches the agents) and a trainer that prints its environment and fails, so its last lines are
// what the run's owner reads. And a config stored with ${SESSION_SECRET} (saved before the editor
// refused it) never reaches a trainer at all.
import fs from 'node:fs/promises'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { LocalGpuProvider } from '~/gpu/local/provider.server'
import { startRun } from '~/runs/runs.server'
import { LocalStorage } from '~/storage/local.server'
import { type SupervisorOptions } from '~/runs/supervisor/cycle.server'
import { freePort, startAppProcess, type AppProcess } from '../app-process'
import { createUser } from '../db-utils'
import { createReadyTraining } from '../run-fixtures'
import { driveUntil, finished } from '../run-driver'

const RUN_TIMEOUT_MS = 45_000
/** Set in this process after the app started: the supervisor's process, whose environment the provider had passed on. */
const EXTRA_SECRETS: Record<string, string> = {
  AWS_ACCESS_KEY_ID: 'AKIATRAINERENVTEST01',
  AWS_SECRET_ACCESS_KEY: 'aws-secret-access-key-trainer-env',
  GITHUB_CLIENT_SECRET: 'github-client-secret-trainer-env',
  SMTP_URL: 'smtps://mailer:smtp-password-trainer-env@127.0.0.1:465',
  SMTP_PASSWORD: 'smtp-password-trainer-env',
  ADMIN_PASSWORD: 'admin-password-trainer-env',
}

let app: AppProcess
let storage: LocalStorage
let ownerId = ''
let trainerScript = ''
const providers: LocalGpuProvider[] = []
const saved: Record<string, string | undefined> = {}

/** The app's secrets as this process holds them: the test database's URL and session secret, and the rest. */
function appSecrets(): Record<string, string> {
  return { SESSION_SECRET: process.env.SESSION_SECRET!, DATABASE_URL: process.env.DATABASE_URL!, ...EXTRA_SECRETS }
}

function options(provider: LocalGpuProvider): SupervisorOptions & { timeoutMs: number } {
  return { workerId: 'trainer-env-test', providers: () => provider, providerNames: ['local'], storage, timeoutMs: RUN_TIMEOUT_MS }
}

beforeAll(async () => {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  storage = new LocalStorage({ dir: process.env.STORAGE_DIR!, appUrl: url, secret: process.env.SESSION_SECRET! })
  app = await startAppProcess(
    { ...process.env, NODE_ENV: 'production', APP_URL: url, S3_BUCKET: '', RUN_SUPERVISOR: 'false' },
    { port },
  )
  ownerId = (await createUser()).id
  for (const [name, value] of Object.entries(EXTRA_SECRETS)) {
    saved[name] = process.env[name]
    process.env[name] = value
  }
  // The trainer: every variable it has, one a line, then a failure.
  await fs.mkdir(process.env.LOCAL_GPU_DIR!, { recursive: true })
  trainerScript = path.join(process.env.LOCAL_GPU_DIR!, 'print_env_trainer.py')
  await fs.writeFile(trainerScript, 'import os\nfor kv in sorted(os.environ.items()): print("%s=%s" % kv)\nraise SystemExit(1)\n')
})

afterEach(async () => {
  for (const provider of providers) {
    const left = await provider.listTagged()
    if (left.length > 0) await provider.terminate(left.map((m) => m.instanceId))
  }
})

afterAll(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
  await app?.stop()
})

describe('the trainer’s environment', () => {
  test('a trainer that prints its environment shows none of the app’s variables to the run’s owner or in its log', async () => {
    const provider = new LocalGpuProvider({
      stateDir: process.env.LOCAL_GPU_DIR!,
      trainerCommand: `python3 '${trainerScript}' {config}`,
      lingerSeconds: 60,
      terminateGraceMs: 3000,
    })
    providers.push(provider)
    const training = await createReadyTraining(ownerId, { name: 'Ada prints env' })
    const { runId } = await startRun({ trainingId: training.id, startedById: ownerId }, { provider: 'local' })
    const run = await driveUntil(runId, finished, options(provider))

    expect(run.status).toBe('failed')
    expect(run.error).toMatch(/the trainer exited with code 1/)
    expect(run.errorDetail).toBeTruthy()
    const rows = await prisma.trainingStatus.findMany({ where: { runId } })
    const trainerLog = await fs.readFile(path.join(process.env.LOCAL_GPU_DIR!, 'runs', runId, 'trainer.log'), 'utf8')
    for (const [name, value] of Object.entries(appSecrets())) {
      expect(trainerLog, name).not.toMatch(new RegExp(`^${name}=`, 'm'))
      expect(trainerLog, name).not.toContain(value)
      expect(run.error, name).not.toContain(value)
      expect(run.errorDetail, name).not.toContain(value)
      expect(JSON.stringify(rows), name).not.toContain(value)
    }
    // It printed its environment, and the owner reads it: what a trainer needs, and no more (a short list,
    // all of it within the last lines the owner is shown, one click away).
    expect(trainerLog).toMatch(/^HOME=/m)
    expect(run.errorDetail).toMatch(/^PATH=/m)
    // Not the agent's job either: its token and signed URLs are the agent's alone.
    expect(trainerLog).not.toMatch(/^TRAINYARD_/m)
  })

  test('a config stored with ${SESSION_SECRET} fails before any machine starts, saying why, and cannot be started', async () => {
    const provider = new LocalGpuProvider({ stateDir: process.env.LOCAL_GPU_DIR!, simulateSeconds: 2, lingerSeconds: 60 })
    providers.push(provider)
    const training = await createReadyTraining(ownerId, { name: 'Ada stored secret' })
    const stored = await prisma.training.findUniqueOrThrow({ where: { id: training.id }, select: { config: true } })
    const config = JSON.parse(stored.config) as { config: { process: Array<{ sample: { prompts: string[] } }> } }
    config.config.process[0]!.sample.prompts = ['a photo of [trigger] ${SESSION_SECRET}']
    // Queued while the config was fine, then the stored config changed (as one saved before the editor refused it).
    const { runId } = await startRun({ trainingId: training.id, startedById: ownerId }, { provider: 'local' })
    await prisma.training.update({ where: { id: training.id }, data: { config: JSON.stringify(config) } })
    const run = await driveUntil(runId, finished, options(provider))
    expect(run.status).toBe('failed')
    expect(run.error).toContain(
      "Could not prepare the job: Stored config is invalid: config.process[0].sample.prompts[0]: ${…} would make the trainer read the server's environment",
    )
    expect(run.gpu).toBeNull()
    expect(run.error).not.toContain(process.env.SESSION_SECRET!)
    // And such a config cannot be started again.
    await expect(startRun({ trainingId: training.id, startedById: ownerId }, { provider: 'local' })).rejects.toThrow(
      /The training config is not valid/,
    )
  })
})
