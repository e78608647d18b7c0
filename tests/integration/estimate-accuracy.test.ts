// How close the estimate comes to what a run takes and costs: each preset (its steps scaled down tenfold,
// sampling and saving with them) runs end to end with the real agent and the stand-in trainer, once on
// the local provider (free: time only) and once on the fake EC2 at a price (time and cost); the estimate
// made before each start must be within ±25 % of the paid machine time and of the cost. The fake EC2
// boots in a second where EC2 takes minutes, so the starting table (EC2's) is far off there: a few
// calibration runs first let measured speeds take over, as they do on an installation.
// Prints a table (preset, estimate, actual, error) — the one in docs/costs.md:
//   npx vitest run tests/integration/estimate-accuracy.test.ts
import crypto from 'node:crypto'
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import type { Ec2GpuProvider } from '~/gpu/ec2/provider.server'
import { EC2_CATALOGUE } from '~/gpu/ec2/catalogue'
import { forgetPriceFailures } from '~/gpu/ec2/prices.server'
import { LocalGpuProvider } from '~/gpu/local/provider.server'
import type { GpuProvider } from '~/gpu/provider.server'
import type { ProviderName } from '~/gpu/provider-env'
import { estimateRunFor, MEASURED_RUNS_NEEDED, partSecondsOf } from '~/runs/estimate.server'
import type { RunEstimate } from '~/runs/estimate'
import { startRun } from '~/runs/runs.server'
import { runSupervisorCycle } from '~/runs/supervisor/cycle.server'
import { LocalStorage } from '~/storage/local.server'
import { adaptConfigToBaseModel, serializeConfig } from '~/trainings/config'
import { formatBaseModel, getBaseModel } from '~/trainings/base-models'
import { writeKnobs } from '~/trainings/knobs'
import { TRAINING_PRESETS, type TrainingPreset } from '~/trainings/presets'
import { prisma } from '~/utils/db.server'
import { getEnv } from '~/utils/env.server'
import { freePort, startAppProcess, type AppProcess } from '../app-process'
import { createUser } from '../db-utils'
import { providerOnFakeEc2 } from '../fake-ec2/provider'
import { startFakePricing, type FakePricing } from '../fake-ec2/pricing'
import { startFakeEc2, type FakeEc2 } from '../fake-ec2/server'
import { createReadyTraining, READY_RESOLUTION_PX } from '../run-fixtures'
import { driveUntil, finished, loadRun, type RunRow } from '../run-driver'

const SIMULATED_SECONDS = 10

// Read by getEnv() (the job's simulated seconds, the estimate's table) and the SDK's credential chain.
vi.hoisted(() => {
  process.env.AWS_ACCESS_KEY_ID = 'FAKEEC2'
  process.env.AWS_SECRET_ACCESS_KEY = 'FAKEEC2SECRET'
  process.env.EC2_TRAINER = 'simulate'
  process.env.SIMULATED_TRAINING_SECONDS = '10'
  process.env.EC2_AMI_ID = 'ami-0123456789abcdef0'
})

const RUN_TIMEOUT_MS = 60_000
const TOLERANCE_PERCENT = 25
const APP_TAG = `trainyard-acc-${crypto.randomBytes(3).toString('hex')}`

let app: AppProcess
let storage: LocalStorage
let fake: FakeEc2
let pricing: FakePricing
let ec2: Ec2GpuProvider
let local: LocalGpuProvider
let ownerId = ''
const table: string[] = []
const details: string[] = []

beforeAll(async () => {
  fake = await startFakeEc2()
  // The Price List answers the catalogue's prices: the run's cost is priced from the catalogue at launch.
  pricing = await startFakePricing({ prices: Object.fromEntries(EC2_CATALOGUE.map((o) => [o.instanceType, o.pricePerHourUsd])) })
  process.env.AWS_ENDPOINT_URL_PRICING = pricing.endpoint
  ec2 = providerOnFakeEc2(fake, { storage: async () => storage, appTag: APP_TAG, maxAttempts: 2 })
  local = new LocalGpuProvider({
    stateDir: process.env.LOCAL_GPU_DIR!,
    simulateSeconds: SIMULATED_SECONDS,
    terminateGraceMs: 3000,
  })
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  storage = new LocalStorage({ dir: process.env.STORAGE_DIR!, appUrl: url, secret: process.env.SESSION_SECRET! })
  app = await startAppProcess(
    { ...process.env, NODE_ENV: 'production', APP_URL: url, S3_BUCKET: '', RUN_SUPERVISOR: 'false' },
    { port },
  )
  ownerId = (await createUser()).id
  forgetPriceFailures()
}, 60_000)

afterAll(async () => {
  for (const provider of [ec2, local] as GpuProvider[]) {
    const left = await provider?.listTagged().catch(() => [])
    if (left?.length) await provider.terminate(left.map((m) => m.instanceId))
  }
  await app?.stop()
  await fake?.stop()
  await pricing?.stop()
  console.log(
    [
      '',
      '| Provider | Preset | Speeds | Estimate | Actual | Time error | Cost error |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...table,
      '',
      ...details,
    ].join('\n'),
  )
})

/** A ready training with the preset's config on its base model, its steps (and sample/save intervals) a tenth. */
async function trainingFor(preset: TrainingPreset, owner = ownerId) {
  const training = await createReadyTraining(owner, { name: `Accuracy ${preset.id}` })
  const model = getBaseModel(preset.baseModelSlug)
  const { config } = adaptConfigToBaseModel(preset.config, model)
  const p = config.config.process[0]!
  const scaled = writeKnobs(config, {
    steps: Math.max(10, Math.round(p.train.steps / 10)),
    saveEvery: Math.max(5, Math.round(p.save.save_every / 10)),
    resolution: READY_RESOLUTION_PX,
  })
  scaled.config.process[0]!.sample.sample_every = Math.max(5, Math.round(p.sample.sample_every / 10))
  await prisma.training.update({
    where: { id: training.id },
    data: { baseModel: formatBaseModel(model), config: serializeConfig(scaled) },
  })
  return training.id
}

async function runOnce(trainingId: string, providerName: ProviderName): Promise<{ estimate: RunEstimate; run: RunRow }> {
  const estimate = (await estimateRunFor(
    { trainingId },
    { provider: providerName, env: { ...getEnv(), AWS_ENDPOINT_URL_PRICING: pricing.endpoint } },
  ))!
  expect(estimate).not.toBeNull()
  const { runId } = await startRun({ trainingId, startedById: ownerId }, { provider: providerName })
  const provider = providerName === 'ec2' ? ec2 : local
  const run = await driveUntil(runId, finished, {
    workerId: 'accuracy',
    providers: () => provider,
    providerNames: [providerName],
    storage,
    timeoutMs: RUN_TIMEOUT_MS,
  })
  expect(run.status, run.error ?? '').toBe('succeeded')
  return { estimate, run }
}

/** `count` runs of the preset at once on the fake EC2, each its own owner's (a person has at most 2 at once), driven to success. */
async function calibrate(preset: TrainingPreset, count: number) {
  const runIds = await Promise.all(
    Array.from({ length: count }, async () => {
      const owner = (await createUser()).id
      const trainingId = await trainingFor(preset, owner)
      return (await startRun({ trainingId, startedById: owner }, { provider: 'ec2' })).runId
    }),
  )
  const deadline = Date.now() + RUN_TIMEOUT_MS
  for (;;) {
    await runSupervisorCycle({ workerId: 'accuracy', providers: () => ec2, providerNames: ['ec2'], storage })
    const runs = await Promise.all(runIds.map(loadRun))
    if (runs.every(finished)) {
      for (const run of runs) expect(run.status, run.error ?? '').toBe('succeeded')
      return
    }
    if (Date.now() > deadline)
      throw new Error(`calibration runs not finished in ${RUN_TIMEOUT_MS} ms: ${runs.map((r) => r.status)}`)
    await new Promise((resolve) => setTimeout(resolve, 150))
  }
}

const errorPercent = (actual: number, estimate: number) => Math.round(((actual - estimate) / estimate) * 100)

function check(providerName: string, preset: TrainingPreset, estimate: RunEstimate, run: RunRow) {
  const actualSeconds = run.gpuMinutes! * 60
  const timeError = errorPercent(actualSeconds, estimate.seconds)
  const costError = estimate.costUsd > 0 ? errorPercent(run.costUsd!, estimate.costUsd) : null
  const parts = partSecondsOf(run)
  details.push(
    `${providerName} ${preset.id}: ` +
      estimate.parts.map((p) => `${p.part} ${p.seconds}/${parts[p.part].toFixed(1)}`).join(', ') +
      ` (estimated/actual seconds)`,
  )
  const money = (usd: number) => (usd > 0 ? `, $${usd.toFixed(5)}` : ', free')
  table.push(
    `| ${providerName} | ${preset.id} (${estimate.steps} steps) | ${estimate.speedSource} | ${estimate.seconds} s${money(estimate.costUsd)} | ${actualSeconds.toFixed(1)} s${money(run.costUsd ?? 0)} | ${timeError} % | ${costError === null ? '—' : `${costError} %`} |`,
  )
  expect(
    Math.abs(timeError),
    `${providerName} ${preset.id}: ${estimate.seconds} s estimated, ${actualSeconds} s taken`,
  ).toBeLessThanOrEqual(TOLERANCE_PERCENT)
  if (costError !== null) expect(Math.abs(costError), `${providerName} ${preset.id} cost`).toBeLessThanOrEqual(TOLERANCE_PERCENT)
}

describe('estimate vs actual, each preset', () => {
  test('local provider (simulated trainer, free): the starting table, then measured speeds', async () => {
    for (const preset of TRAINING_PRESETS) {
      const { estimate, run } = await runOnce(await trainingFor(preset), 'local')
      check('local', preset, estimate, run)
    }
  }, 300_000)

  test('fake EC2 at the catalogue price: measured speeds after a few runs on each machine type', async () => {
    const estimateOf = (trainingId: string) =>
      estimateRunFor({ trainingId }, { provider: 'ec2', env: { ...getEnv(), AWS_ENDPOINT_URL_PRICING: pricing.endpoint } })
    for (const preset of TRAINING_PRESETS) {
      const trainingId = await trainingFor(preset)
      // Calibration: the runs an installation would have finished on this machine type. The simulated
      // trainer's speeds do not depend on the model, so one preset's runs serve the next on the same type.
      // They run side by side, as an installation's runs do (the stand-in's own time is its pace, so
      // three at once take about as long as one), bounded to two rounds.
      for (let round = 0; round < 2 && (await estimateOf(trainingId))?.speedSource !== 'measured'; round++) {
        await calibrate(preset, MEASURED_RUNS_NEEDED)
      }
      const { estimate, run } = await runOnce(trainingId, 'ec2')
      expect(estimate).toMatchObject({ priceSource: 'aws', speedSource: 'measured' })
      check('ec2 (fake)', preset, estimate, run)
    }
  }, 600_000)
})
