// A run that reaches its owner's monthly budget while training, whole: the real local provider and agent
// running the stand-in ai-toolkit, the real app serving the signed storage URLs the agent uploads its
// checkpoints to, and the supervisor driven one cycle at a time. The local machines are free, so the
// budget is in machine hours.
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { LocalGpuProvider } from '~/gpu/local/provider.server'
import { startRun } from '~/runs/runs.server'
import { LocalStorage } from '~/storage/local.server'
import type { SupervisorOptions } from '~/runs/supervisor/cycle.server'
import { freePort, startAppProcess, type AppProcess } from '../app-process'
import { createUser } from '../db-utils'
import { createReadyTraining } from '../run-fixtures'
import { driveUntil, expectContiguousStatuses, expectNothingRunning, finished } from '../run-driver'

let app: AppProcess
let storage: LocalStorage
let provider: LocalGpuProvider

beforeAll(async () => {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  storage = new LocalStorage({ dir: process.env.STORAGE_DIR!, appUrl: url, secret: process.env.SESSION_SECRET! })
  app = await startAppProcess(
    { ...process.env, NODE_ENV: 'production', APP_URL: url, S3_BUCKET: '', RUN_SUPERVISOR: 'false' },
    { port },
  )
  // 40 steps in 20 seconds, a save every 10: checkpoints arrive while it trains.
  provider = new LocalGpuProvider({
    stateDir: process.env.LOCAL_GPU_DIR!,
    simulateSeconds: 20,
    lingerSeconds: 60,
    terminateGraceMs: 3000,
  })
})

afterEach(async () => {
  const left = await provider.listTagged()
  if (left.length > 0) await provider.terminate(left.map((m) => m.instanceId))
})

afterAll(async () => {
  await app?.stop()
})

test('a run that reaches its owner’s budget stops: failed (budget), the newest checkpoint kept, the machine gone', async () => {
  const owner = await createUser()
  const training = await createReadyTraining(owner.id, { name: 'Ada on a budget' })
  const row = await prisma.training.findUniqueOrThrow({ where: { id: training.id }, select: { config: true } })
  const config = JSON.parse(row.config)
  const process0 = config.config.process[0]
  process0.train.steps = 40
  process0.save = { ...process0.save, save_every: 10, max_step_saves_to_keep: 4 }
  await prisma.training.update({ where: { id: training.id }, data: { config: JSON.stringify(config) } })
  const { runId } = await startRun({ trainingId: training.id, startedById: owner.id }, { provider: 'local' })
  const options: SupervisorOptions & { timeoutMs: number } = {
    workerId: 'budget-test',
    providers: () => provider,
    providerNames: ['local'],
    storage,
    timeoutMs: 60_000,
  }

  // Training, with a checkpoint recorded: then an administrator lowers the budget below what it has used.
  await driveUntil(runId, (r) => r.status === 'training', options)
  for (let tries = 0; (await prisma.runCheckpoint.count({ where: { runId, final: false } })) === 0; tries++) {
    if (tries > 200) throw new Error('no checkpoint recorded while training')
    await driveUntil(runId, () => true, options)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  await prisma.user.update({ where: { id: owner.id }, data: { monthlyBudgetHours: 0.001 } })

  const run = await driveUntil(runId, finished, options)
  const kept = await prisma.runCheckpoint.findMany({ where: { runId, final: false }, orderBy: { step: 'desc' } })
  expect(kept.length).toBeGreaterThan(0)
  expect(run).toMatchObject({ status: 'failed', errorKind: 'budget', activeTrainingId: null })
  expect(run.error).toBe(
    `Stopped at step ${run.step!.toLocaleString('en-US')}: your monthly budget of 0.001 GPU hours is spent. ` +
      `The checkpoint at step ${kept[0]!.step.toLocaleString('en-US')} is kept.`,
  )
  // Stopped before the end: no final file, and the kept checkpoint's object is still in storage.
  expect(await prisma.runCheckpoint.count({ where: { runId, final: true } })).toBe(0)
  expect(await storage.get(kept[0]!.key)).not.toBeNull()
  await expectContiguousStatuses(runId)
  await expectNothingRunning(provider)
}, 90_000)
