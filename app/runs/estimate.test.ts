// The estimate model, part by part: the work a config asks for (as ai-toolkit does it) and what that
// costs in time and money at given rates, for a real trainer and for the simulated one.
import { expect, test } from 'vitest'
import { getBaseModel } from '~/trainings/base-models'
import { TRAINING_PRESETS } from '~/trainings/presets'
import {
  estimateRun,
  estimateWork,
  formatEstimateDuration,
  summarizeEstimate,
  workOfConfig,
  type EstimateRates,
  type WorkInput,
} from './estimate'

const base: WorkInput = {
  steps: 1000,
  batchSize: 1,
  gradientAccumulation: 1,
  resolutions: [1024],
  sampleEvery: 250,
  prompts: 4,
  sampleWidth: 1024,
  sampleHeight: 1024,
  sampleSteps: 20,
  saveEvery: 250,
}

const rates: EstimateRates = {
  provider: 'ec2',
  instanceType: 'g5.xlarge',
  machine: 'g5.xlarge (NVIDIA A10G) on EC2',
  spot: false,
  pricePerHour: 1.2,
  priceSource: 'aws',
  speedSource: 'table',
  measuredRuns: 0,
  bootSeconds: 100,
  downloadSeconds: 200,
  loadingSeconds: 50,
  stepSeconds: 2,
  sampleSeconds: 10,
  saveSeconds: 5,
  uploadSeconds: 20,
  simulatedSeconds: null,
}

test('sampling: the baseline round before step 1, a round every sample_every steps, and one after the last', () => {
  // Baseline + 250, 500, 750 + the final round = 5 rounds of 4 prompts.
  expect(estimateWork(base)).toMatchObject({ steps: 1000, sampleRounds: 5, sampleImages: 20, saves: 4 })
  expect(estimateWork({ ...base, skipFirstSample: true })).toMatchObject({ sampleRounds: 4 })
  expect(estimateWork({ ...base, disableSampling: true })).toMatchObject({ sampleRounds: 0, sampleImages: 0 })
  expect(estimateWork({ ...base, prompts: 0 })).toMatchObject({ sampleRounds: 0 })
  expect(estimateWork({ ...base, sampleStartStep: 600 })).toMatchObject({ sampleRounds: 3 })
  // A resume takes no baseline (ai-toolkit samples first only at step ≤ 1) and only the rounds after its step.
  expect(estimateWork({ ...base, resumeStep: 600 })).toMatchObject({ steps: 400, sampleRounds: 2, saves: 2 })
})

test('a step’s work grows with the pixels, the batch and the accumulation', () => {
  expect(estimateWork(base).stepWork).toBe(1)
  expect(estimateWork({ ...base, resolutions: [512] }).stepWork).toBe(0.25)
  expect(estimateWork({ ...base, resolutions: [512, 1024] }).stepWork).toBeCloseTo(0.625)
  expect(estimateWork({ ...base, batchSize: 2, gradientAccumulation: 2 }).stepWork).toBe(4)
  expect(estimateWork({ ...base, sampleWidth: 512, sampleHeight: 512, sampleSteps: 40 }).sampleWork).toBe(0.5)
})

test('a real trainer: each part at its rate, and the cost at the price per hour', () => {
  const estimate = estimateRun(estimateWork(base), rates)
  expect(Object.fromEntries(estimate.parts.map((p) => [p.part, p.seconds]))).toEqual({
    boot: 100,
    download: 200,
    loading: 50,
    training: 2000,
    sampling: 200,
    upload: 20 + 4 * 5,
  })
  expect(estimate.seconds).toBe(2590)
  expect(estimate.costUsd).toBeCloseTo((2590 / 3600) * 1.2)
  expect(estimate.steps).toBe(1000)
  // Twice the steps: the training part doubles, the rest barely moves.
  const longer = estimateRun(estimateWork({ ...base, steps: 2000 }), rates)
  expect(longer.parts.find((p) => p.part === 'training')!.seconds).toBe(4000)
  expect(longer.seconds).toBeGreaterThan(estimate.seconds + 2000)
})

test('with the weights in the machine image and a spot price, download and cost are less', () => {
  const cached = estimateRun(estimateWork(base), { ...rates, downloadSeconds: 20, spot: true, pricePerHour: 0.4 })
  expect(cached.parts.find((p) => p.part === 'download')!.seconds).toBe(20)
  expect(cached.costUsd).toBeCloseTo((cached.seconds / 3600) * 0.4)
  expect(summarizeEstimate(cached)).toMatch(/on g5\.xlarge \(spot\)$/)
})

test('a simulated trainer takes its seconds whatever the steps, split as the stand-in splits them', () => {
  const simulated = {
    ...rates,
    provider: 'local',
    pricePerHour: 0,
    priceSource: 'free' as const,
    simulatedSeconds: 60,
    bootSeconds: 2,
    downloadSeconds: 1,
    loadingSeconds: 0,
    uploadSeconds: 1,
    sampleSeconds: 0,
    saveSeconds: 0,
  }
  const a = estimateRun(estimateWork(base), simulated)
  const b = estimateRun(estimateWork({ ...base, steps: 5000 }), simulated)
  expect(a.seconds).toBe(b.seconds)
  expect(a.parts.find((p) => p.part === 'training')!.seconds).toBe(45)
  expect(a.parts.find((p) => p.part === 'loading')!.seconds).toBe(9)
  // 5 sampling rounds and 4 saves share the last 6 s; each sample image and each save adds its own work.
  const withWork = estimateRun(estimateWork(base), { ...simulated, sampleSeconds: 0.5, saveSeconds: 1 })
  expect(withWork.parts.find((p) => p.part === 'sampling')!.seconds).toBe(Math.round(((6 * 5) / 9 + 20 * 0.5) * 10) / 10)
  expect(withWork.parts.find((p) => p.part === 'upload')!.seconds).toBe(Math.round((1 + (6 * 4) / 9 + 4) * 10) / 10)
  expect(a.costUsd).toBe(0)
  expect(summarizeEstimate(a)).toBe('about 64 s, no cost on g5.xlarge')
})

test('every preset has an estimate', () => {
  for (const preset of TRAINING_PRESETS) {
    getBaseModel(preset.baseModelSlug)
    const estimate = estimateRun(workOfConfig(preset.config), rates)
    expect(estimate.seconds, preset.id).toBeGreaterThan(0)
    expect(estimate.work?.steps, preset.id).toBe(preset.config.config.process[0]!.train.steps)
  }
})

test('durations read as people say them', () => {
  expect(formatEstimateDuration(40)).toBe('about 40 s')
  expect(formatEstimateDuration(42 * 60)).toBe('about 42 min')
  expect(formatEstimateDuration(125 * 60)).toBe('about 2 h 5 min')
  expect(formatEstimateDuration(120 * 60)).toBe('about 2 h')
})
