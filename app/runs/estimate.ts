// What a run is expected to take and cost before it starts: the shape every page, the budget check and
// the run page share. Shared with the browser (no secrets: the price per hour is shown to people anyway).
// The model itself (estimateRun) is here and pure; the rates it needs (measured speeds, prices) come
// from ./estimate.server.ts.
import type { TrainingConfig } from '../trainings/config'

export const ESTIMATE_PARTS = ['boot', 'download', 'loading', 'training', 'sampling', 'upload'] as const
export type EstimatePart = (typeof ESTIMATE_PARTS)[number]

export type RunEstimate = {
  /** The GPU provider and the machine the run would get: "g5.xlarge (NVIDIA A10G)". */
  provider: string
  instanceType: string
  machine: string
  spot: boolean
  /** USD per hour; 0 for a machine that costs nothing (the local provider). */
  pricePerHour: number
  /** aws: asked of AWS (cached); table: the built-in price table (AWS could not be asked); free. */
  priceSource: 'aws' | 'table' | 'free'
  /** The steps this run trains (a continuation: those after its resume step). */
  steps: number
  /** Seconds per part, in the order they happen. */
  parts: { part: EstimatePart; seconds: number }[]
  seconds: number
  costUsd: number
  /** measured: from this installation's finished runs of the same model and machine; table: the starting table. */
  speedSource: 'measured' | 'table'
  measuredRuns: number
  /** What the config asked for (absent on estimates made before it was kept): measured speeds divide by it. */
  work?: EstimateWork
}

/** The stored estimate (TrainingRun.estimate), or null when absent or not one. */
export function parseEstimate(json: string | null | undefined): RunEstimate | null {
  if (!json) return null
  try {
    const value = JSON.parse(json) as Partial<RunEstimate> | null
    return value && typeof value.seconds === 'number' && typeof value.costUsd === 'number' && Array.isArray(value.parts)
      ? (value as RunEstimate)
      : null
  } catch {
    return null
  }
}

// ---- The model: pure, so a form computes the same numbers live as the person edits (the loader sends the rates).

/** What a config asks of the machine, in units the rates are measured in. */
export type EstimateWork = {
  /** Steps to train (a continuation: those after its resume step). */
  steps: number
  /** Work of one step relative to one 1024×1024 image: batch × accumulation × mean(resolution²) / 1024². */
  stepWork: number
  /** Sampling rounds (the baseline before step 1 included) and the images they make. */
  sampleRounds: number
  sampleImages: number
  /** Work of one sample image relative to 1024×1024 at 20 sampler steps. */
  sampleWork: number
  /** Pixels of one sample image relative to 1024×1024 (what the stand-in's rendering costs; absent on old estimates). */
  samplePixels?: number
  /** LoRA files written (every save_every steps, and the last). */
  saves: number
}

/** Reference points of the work units: one 1024 px square image, a 20-step sampler. */
const REFERENCE_PX = 1024
const REFERENCE_SAMPLE_STEPS = 20

export type WorkInput = {
  steps: number
  resumeStep?: number
  batchSize: number
  gradientAccumulation: number
  resolutions: readonly number[]
  sampleEvery: number
  sampleStartStep?: number
  prompts: number
  sampleWidth: number
  sampleHeight: number
  sampleSteps: number
  skipFirstSample?: boolean
  disableSampling?: boolean
  saveEvery: number
}

/** Multiples of `every` strictly between `from` and `to` (the steps where the loop samples or saves). */
function multiplesBetween(from: number, to: number, every: number, notBefore = 0) {
  if (every <= 0 || to - 1 < from + 1) return 0
  const lo = Math.max(from + 1, notBefore)
  if (lo > to - 1) return 0
  return Math.floor((to - 1) / every) - Math.floor((lo - 1) / every)
}

/**
 * The work of a run, as ai-toolkit does it (jobs/process/BaseSDTrainProcess.py): a baseline round before
 * step 1 unless skip_first_sample or disable_sampling (and not on a resume), a round every sample_every
 * steps from sample_start_step, and one after the last step; a save every save_every steps and at the end.
 */
export function estimateWork(input: WorkInput): EstimateWork {
  const start = Math.max(0, Math.min(input.resumeStep ?? 0, input.steps))
  const steps = input.steps - start
  const sampling = !input.disableSampling && input.prompts > 0
  const baseline = sampling && !input.skipFirstSample && start === 0 ? 1 : 0
  const sampleRounds = sampling
    ? baseline + multiplesBetween(start, input.steps, input.sampleEvery, input.sampleStartStep ?? 0) + 1
    : 0
  const meanArea =
    input.resolutions.length > 0
      ? input.resolutions.reduce((sum, r) => sum + r * r, 0) / input.resolutions.length
      : REFERENCE_PX * REFERENCE_PX
  return {
    steps,
    stepWork: (input.batchSize * input.gradientAccumulation * meanArea) / (REFERENCE_PX * REFERENCE_PX),
    sampleRounds,
    sampleImages: sampleRounds * input.prompts,
    sampleWork:
      ((input.sampleWidth * input.sampleHeight) / (REFERENCE_PX * REFERENCE_PX)) * (input.sampleSteps / REFERENCE_SAMPLE_STEPS),
    samplePixels: (input.sampleWidth * input.sampleHeight) / (REFERENCE_PX * REFERENCE_PX),
    saves: steps > 0 ? multiplesBetween(start, input.steps, input.saveEvery) + 1 : 0,
  }
}

/** The work of a validated trainer config (its first process), optionally with a new total of steps. */
export function workOfConfig(
  config: TrainingConfig,
  { stepsOverride, resumeStep }: { stepsOverride?: number; resumeStep?: number } = {},
): EstimateWork {
  const p = config.config.process[0]!
  return estimateWork({
    steps: stepsOverride ?? p.train.steps,
    resumeStep,
    batchSize: p.train.batch_size,
    gradientAccumulation: p.train.gradient_accumulation_steps,
    resolutions: p.datasets[0]?.resolution ?? [],
    sampleEvery: p.sample.sample_every,
    sampleStartStep: p.sample.sample_start_step,
    prompts: p.sample.prompts.length,
    sampleWidth: p.sample.width,
    sampleHeight: p.sample.height,
    sampleSteps: p.sample.sample_steps,
    skipFirstSample: p.train.skip_first_sample,
    disableSampling: p.train.disable_sampling,
    saveEvery: p.save.save_every,
  })
}

/** What a machine does in how long, and what it costs: made on the server, sent to the forms. */
export type EstimateRates = {
  provider: string
  instanceType: string
  machine: string
  spot: boolean
  pricePerHour: number
  priceSource: RunEstimate['priceSource']
  speedSource: RunEstimate['speedSource']
  measuredRuns: number
  /** Seconds from the launch to the trainer starting (machine start, boot, install, checks). */
  bootSeconds: number
  /** Seconds to fetch the images and the base model (a few when the machine image holds the weights). */
  downloadSeconds: number
  /** Seconds to load and quantize the model and cache the latents. */
  loadingSeconds: number
  /** Seconds per step of work 1 (one 1024 px image). */
  stepSeconds: number
  /** Seconds per sample image of work 1 (1024 px, 20 sampler steps). */
  sampleSeconds: number
  /** Seconds per LoRA save, and to upload the results at the end. */
  saveSeconds: number
  uploadSeconds: number
  /**
   * A simulated trainer (the stand-in) spends this long whatever the steps (simulatedSplit); then
   * loadingSeconds, uploadSeconds, saveSeconds and sampleSeconds are what the machine spends around it
   * (a sample image by its pixels alone: the stand-in renders, it does not denoise). Null for a real trainer.
   */
  simulatedSeconds: number | null
}

/**
 * How the stand-in trainer spreads its seconds (scripts/stand-in-ai-toolkit/run.py Pace): 15 % loading,
 * 75 % training, 10 % shared by its events, which are its sampling rounds and its saves.
 */
export function simulatedSplit(work: EstimateWork, seconds: number) {
  const events = work.sampleRounds + work.saves
  return {
    loading: 0.15 * seconds,
    training: 0.75 * seconds,
    sampling: events > 0 ? (0.1 * seconds * work.sampleRounds) / events : 0,
    saving: events > 0 ? (0.1 * seconds * work.saves) / events : 0.1 * seconds,
  }
}

/** The estimate of a run of this work on this machine. */
export function estimateRun(work: EstimateWork, rates: EstimateRates): RunEstimate {
  let loading: number
  let training: number
  let sampling: number
  let upload: number
  if (rates.simulatedSeconds !== null) {
    const split = simulatedSplit(work, rates.simulatedSeconds)
    // Beyond the stand-in's own pacing: the real work around its events (writing and sending each LoRA
    // file, rendering each sample image), at the rates measured or in the table.
    loading = rates.loadingSeconds + split.loading
    training = split.training
    sampling = split.sampling + work.sampleImages * (work.samplePixels ?? 1) * rates.sampleSeconds
    upload = rates.uploadSeconds + split.saving + work.saves * rates.saveSeconds
  } else {
    loading = rates.loadingSeconds
    training = work.steps * work.stepWork * rates.stepSeconds
    sampling = work.sampleImages * work.sampleWork * rates.sampleSeconds
    upload = rates.uploadSeconds + work.saves * rates.saveSeconds
  }
  const parts = (
    [
      ['boot', rates.bootSeconds],
      ['download', rates.downloadSeconds],
      ['loading', loading],
      ['training', training],
      ['sampling', sampling],
      ['upload', upload],
    ] as const
  )
    // Tenths of a second: a short run's parts do not round away; the total is whole seconds.
    .map(([part, seconds]) => ({ part, seconds: Math.max(0, Math.round(seconds * 10) / 10) }))
  const seconds = Math.round(parts.reduce((sum, p) => sum + p.seconds, 0))
  return {
    provider: rates.provider,
    instanceType: rates.instanceType,
    machine: rates.machine,
    spot: rates.spot,
    pricePerHour: rates.pricePerHour,
    priceSource: rates.priceSource,
    steps: work.steps,
    parts,
    seconds,
    costUsd: (rates.pricePerHour * seconds) / 3600,
    speedSource: rates.speedSource,
    measuredRuns: rates.measuredRuns,
    work,
  }
}

// ---- Words, for the pages

export const ESTIMATE_PART_LABELS: Record<EstimatePart, string> = {
  boot: 'Boot and install',
  download: 'Download',
  loading: 'Loading',
  training: 'Training',
  sampling: 'Sampling',
  upload: 'Saving and upload',
}

/** "about 42 min", "about 2 h 5 min", "about 40 s". */
export function formatEstimateDuration(seconds: number) {
  if (seconds < 90) return `about ${Math.max(1, Math.round(seconds))} s`
  const minutes = Math.round(seconds / 60)
  if (minutes < 60) return `about ${minutes} min`
  const h = Math.floor(minutes / 60)
  const m = minutes % 60
  return m ? `about ${h} h ${m} min` : `about ${h} h`
}

/** "about $0.71", "free", "under $0.01". */
export function formatEstimateCost(estimate: Pick<RunEstimate, 'costUsd' | 'priceSource'>) {
  if (estimate.priceSource === 'free') return 'free'
  if (estimate.costUsd > 0 && estimate.costUsd < 0.01) return 'under $0.01'
  return `about $${estimate.costUsd.toFixed(2)}`
}

/** "about 42 min, about $0.71 on g5.xlarge": what the Start confirmation states. */
export function summarizeEstimate(estimate: RunEstimate) {
  const cost = estimate.priceSource === 'free' ? 'no cost' : formatEstimateCost(estimate)
  return `${formatEstimateDuration(estimate.seconds)}, ${cost} on ${estimate.instanceType}${estimate.spot ? ' (spot)' : ''}`
}

/** Where the speeds come from, for people. */
export function describeSpeedSource(estimate: Pick<RunEstimate, 'speedSource' | 'measuredRuns'>) {
  return estimate.speedSource === 'measured'
    ? `based on ${estimate.measuredRuns} ${estimate.measuredRuns === 1 ? 'run' : 'runs'} of this model on this machine`
    : 'starting table (too few finished runs of this model on this machine)'
}

/** The estimate made at Start beside what the run took and cost (paid machine time), for the run page. */
export type EstimateComparison = {
  estimate: RunEstimate
  /** Null while the run is still going (or never launched). */
  actualSeconds: number | null
  actualCostUsd: number | null
  /** (actual − estimate) ÷ estimate, in percent, rounded; null without an actual or with a zero estimate. */
  timeErrorPercent: number | null
  costErrorPercent: number | null
}

export function compareEstimate(
  estimate: RunEstimate | null,
  actual: { ended: boolean; gpuMinutes: number | null; costUsd: number | null },
): EstimateComparison | null {
  if (!estimate) return null
  const actualSeconds = actual.ended && actual.gpuMinutes !== null ? actual.gpuMinutes * 60 : null
  const actualCostUsd = actual.ended && actual.costUsd !== null ? actual.costUsd : null
  const error = (a: number | null, e: number) => (a === null || e <= 0 ? null : Math.round(((a - e) / e) * 100))
  return {
    estimate,
    actualSeconds,
    actualCostUsd,
    timeErrorPercent: error(actualSeconds, estimate.seconds),
    costErrorPercent: estimate.priceSource === 'free' ? null : error(actualCostUsd, estimate.costUsd),
  }
}
