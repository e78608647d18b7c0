// The estimate of a training's run on a real database: the starting table (local simulated, EC2 with
// ai-toolkit installed at boot or in the image, with and without the weights in it), prices from the
// Price List API stand-in, and measured speeds taking over once enough runs of the model and machine
// have finished.
import { afterAll, beforeAll, beforeEach, expect, test, vi } from 'vitest'
import { startFakePricing, type FakePricing } from '../../tests/fake-ec2/pricing'
import { createTraining } from '../../tests/image-fixtures'
import { createUser } from '../../tests/db-utils'
import { forgetPriceFailures } from '~/gpu/ec2/prices.server'
import { prisma } from '~/utils/db.server'
import { getEnv, type Env } from '~/utils/env.server'
import type { RunEstimate } from './estimate'
import {
  EC2_BOOT_SECONDS,
  EC2_INSTALL_SECONDS,
  estimateRunFor,
  MEASURED_RUNS_NEEDED,
  REAL_TRAINER_TABLE,
  startEstimatesFor,
} from './estimate.server'

vi.hoisted(() => {
  process.env.AWS_ACCESS_KEY_ID = 'FAKEPRICING'
  process.env.AWS_SECRET_ACCESS_KEY = 'FAKEPRICINGSECRET'
})

let pricing: FakePricing
let trainingId: string
let ownerId: string
const FLUX_DEV = 'black-forest-labs/FLUX.1-dev'

beforeAll(async () => {
  pricing = await startFakePricing({ prices: { 'g5.2xlarge': 1.1, 'g5.xlarge': 0.9 } })
  ownerId = (await createUser()).id
  trainingId = (await createTraining(ownerId, { resolutionPx: 1024 })).id
})

afterAll(async () => {
  await pricing?.stop()
})

beforeEach(async () => {
  forgetPriceFailures()
  await prisma.priceQuote.deleteMany()
})

const ec2Env = (extra: Partial<Env> = {}): Env => ({
  ...getEnv(),
  EC2_TRAINER: 'ai-toolkit',
  AWS_ENDPOINT_URL_PRICING: pricing.endpoint,
  ...extra,
})
const part = (e: RunEstimate, name: string) => e.parts.find((p) => p.part === name)!.seconds

test('local provider: free, simulated, the same training time whatever the steps', async () => {
  const env = { ...getEnv(), SIMULATED_TRAINING_SECONDS: 30 }
  const estimate = (await estimateRunFor({ trainingId }, { provider: 'local', env }))!
  expect(estimate).toMatchObject({ provider: 'local', priceSource: 'free', costUsd: 0, speedSource: 'table', steps: 2000 })
  expect(estimate.machine).toBe('local (simulated)')
  expect(part(estimate, 'training')).toBe(0.75 * 30)
  const longer = (await estimateRunFor({ trainingId, stepsOverride: 8000 }, { provider: 'local', env }))!
  expect(longer.steps).toBe(8000)
  expect(part(longer, 'training')).toBe(part(estimate, 'training'))
  // Only the real work around the stand-in's events grows: more sample images and LoRA files.
  expect(longer.seconds - estimate.seconds).toBeLessThan(15)
})

test('EC2 with ai-toolkit installed at boot: the install, the download, the steps at the table speed, the AWS price', async () => {
  const env = ec2Env({ EC2_AMI_ID: undefined })
  const estimate = (await estimateRunFor({ trainingId }, { provider: 'ec2', env }))!
  // FLUX.1-dev in 8-bit with low_vram wants 32 GiB of RAM: a g5.2xlarge.
  expect(estimate).toMatchObject({ instanceType: 'g5.2xlarge', pricePerHour: 1.1, priceSource: 'aws', speedSource: 'table' })
  expect(part(estimate, 'boot')).toBe(EC2_BOOT_SECONDS + EC2_INSTALL_SECONDS)
  expect(part(estimate, 'download')).toBe(REAL_TRAINER_TABLE.flux.downloadSeconds)
  expect(part(estimate, 'training')).toBeGreaterThan(2000 * REAL_TRAINER_TABLE.flux.stepSeconds * 0.5)
  expect(estimate.costUsd).toBeCloseTo((estimate.seconds / 3600) * 1.1, 6)
  // Twice the steps: the training part doubles.
  const longer = (await estimateRunFor({ trainingId, stepsOverride: 4000 }, { provider: 'ec2', env }))!
  expect(part(longer, 'training')).toBeCloseTo(2 * part(estimate, 'training'), -1)
  // A continuation: only the steps after its checkpoint.
  const rest = (await estimateRunFor({ trainingId, stepsOverride: 4000, resumeStep: 3000 }, { provider: 'ec2', env }))!
  expect(rest.steps).toBe(1000)
})

test('EC2 with an image that holds ai-toolkit and the weights: no install, (almost) no download', async () => {
  const withAmi = (await estimateRunFor(
    { trainingId },
    { provider: 'ec2', env: ec2Env({ EC2_AMI_ID: 'ami-0123', EC2_AMI_MODELS: [] }) },
  ))!
  const withWeights = (await estimateRunFor(
    { trainingId },
    { provider: 'ec2', env: ec2Env({ EC2_AMI_ID: 'ami-0123', EC2_AMI_MODELS: [FLUX_DEV] }) },
  ))!
  expect(part(withAmi, 'boot')).toBe(EC2_BOOT_SECONDS)
  expect(part(withAmi, 'download')).toBe(REAL_TRAINER_TABLE.flux.downloadSeconds)
  expect(part(withWeights, 'download')).toBe(REAL_TRAINER_TABLE.flux.cachedDownloadSeconds)
  expect(withWeights.costUsd).toBeLessThan(withAmi.costUsd)
})

test('the Price List API down: the built-in table prices it, and says so', async () => {
  pricing.mode = 'fail'
  vi.spyOn(console, 'warn').mockImplementation(() => {})
  try {
    const estimate = (await estimateRunFor({ trainingId }, { provider: 'ec2', env: ec2Env() }))!
    expect(estimate).toMatchObject({ priceSource: 'table', pricePerHour: 1.212 })
  } finally {
    pricing.mode = 'ok'
  }
})

test('an unknown training, or a config that is not valid, has no estimate', async () => {
  expect(await estimateRunFor({ trainingId: 'nope' }, { provider: 'local' })).toBeNull()
  expect(await estimateRunFor({ trainingId, config: '{' }, { provider: 'local' })).toBeNull()
  expect(await startEstimatesFor(trainingId, false, { provider: 'local' })).toMatchObject({ spotEstimate: null })
})

test(`measured speeds take over after ${MEASURED_RUNS_NEEDED} succeeded runs of the model on the machine`, async () => {
  const env = ec2Env({ EC2_AMI_ID: 'ami-0123', EC2_AMI_MODELS: [] })
  const table = (await estimateRunFor({ trainingId }, { provider: 'ec2', env }))!
  // Runs of 100 steps that booted in 60 s, downloaded in 100 s, loaded in 50 s and trained at 2 s per step.
  const addRun = (boot: number, kind = 'train') => {
    const start = new Date('2026-11-01T10:00:00Z').getTime()
    let at = start
    const spans = (
      [
        ['starting-machine', boot],
        ['downloading-model', 100],
        ['loading-model', 50],
        ['training', 200],
        ['uploading', 10],
      ] as const
    ).map(([phase, seconds]) => {
      const span = { phase, startedAt: new Date(at).toISOString(), endedAt: new Date(at + seconds * 1000).toISOString() }
      at += seconds * 1000
      return span
    })
    return prisma.trainingRun.create({
      data: {
        trainingId,
        kind,
        status: 'succeeded',
        provider: 'ec2',
        instanceType: 'g5.2xlarge',
        totalSteps: 100,
        phases: JSON.stringify(spans),
        startedAt: new Date(start),
        finishedAt: new Date(at),
      },
    })
  }
  for (let i = 0; i < MEASURED_RUNS_NEEDED - 1; i++) await addRun(60)
  // A run on another machine type does not count.
  await prisma.trainingRun.create({
    data: {
      trainingId,
      status: 'succeeded',
      provider: 'ec2',
      instanceType: 'g6e.xlarge',
      phases: '[]',
      startedAt: new Date(),
      finishedAt: new Date(),
    },
  })
  // Nor does a caption job on the same machine: it trains nothing.
  await addRun(60, 'caption')
  expect((await estimateRunFor({ trainingId }, { provider: 'ec2', env }))!.speedSource).toBe('table')
  await addRun(90)
  const measured = (await estimateRunFor({ trainingId }, { provider: 'ec2', env }))!
  expect(measured).toMatchObject({ speedSource: 'measured', measuredRuns: MEASURED_RUNS_NEEDED })
  expect(part(measured, 'boot')).toBe(60)
  expect(part(measured, 'download')).toBe(100)
  expect(part(measured, 'loading')).toBe(50)
  // 2 s per step over 2,000 steps, whatever the resolution (the same config measured and estimated).
  expect(part(measured, 'training')).toBe(4000)
  expect(measured.seconds).not.toBe(table.seconds)
})
