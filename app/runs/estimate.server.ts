// The rates an estimate needs (how fast this model trains on this machine, what the machine costs) and
// the estimate of a training's run. The model itself is pure (./estimate.ts estimateRun) so the forms
// compute the same numbers live; this module finds the rates:
//
// - Speeds: the median over this installation's newest succeeded runs of the same base model on the same
//   provider and machine type, once there are MEASURED_RUNS_NEEDED; until then the starting table below
//   (docs/costs.md). A simulated trainer (the stand-in) takes SIMULATED_TRAINING_SECONDS whatever the
//   steps, and is modelled so.
// - Prices: the EC2 provider's from AWS, cached (app/gpu/ec2/prices.server.ts), else its built-in table;
//   the local provider is free.
import type { PrismaClient } from '@prisma/client'
import { describeMachine, getGpuProvider, offerFor, runsRealTrainer } from '../gpu/registry.server'
import type { Ec2GpuProvider } from '../gpu/ec2/provider.server'
import { onDemandPrice, spotPriceFor, type PriceQuoteResult } from '../gpu/ec2/prices.server'
import type { ProviderName } from '../gpu/provider-env'
import { hardwareNeedOf, parseBaseModel, type BaseModel, type MemorySettings, type ModelFamily } from '../trainings/base-models'
import { parseConfigText } from '../trainings/config'
import { prisma as defaultPrisma } from '../utils/db.server'
import { getEnv, type Env } from '../utils/env.server'
import {
  estimateRun,
  parseEstimate,
  simulatedSplit,
  workOfConfig,
  type EstimatePart,
  type EstimateRates,
  type EstimateWork,
  type RunEstimate,
} from './estimate'
import { parsePhases } from './phases'

/** Finished runs needed before measured speeds replace the starting table. */
export const MEASURED_RUNS_NEEDED = 3
/** The newest succeeded runs the median is taken over. */
export const MEASURED_RUNS_USED = 10

/**
 * The starting table for a real trainer (ai-toolkit) on an NVIDIA A10G (g5.*), per family. Seconds; a
 * step and a sample image are in work units (one 1024 px image; a 20-step sampler at 1024 px).
 * From ai-toolkit's published speeds and model sizes: FLUX.1 downloads ~34 GB and is quantized on load,
 * SDXL ~7 GB, SD 1.5 ~4 GB; an 8-bit Flux step at 1024 px takes ~4.5 s on an A10G.
 */
export const REAL_TRAINER_TABLE: Record<
  ModelFamily,
  {
    downloadSeconds: number
    cachedDownloadSeconds: number
    loadingSeconds: number
    stepSeconds: number
    sampleSeconds: number
    saveSeconds: number
    uploadSeconds: number
  }
> = {
  flux: {
    downloadSeconds: 420,
    cachedDownloadSeconds: 20,
    loadingSeconds: 300,
    stepSeconds: 4.5,
    sampleSeconds: 45,
    saveSeconds: 8,
    uploadSeconds: 30,
  },
  sdxl: {
    downloadSeconds: 120,
    cachedDownloadSeconds: 15,
    loadingSeconds: 90,
    stepSeconds: 1.3,
    sampleSeconds: 12,
    saveSeconds: 4,
    uploadSeconds: 15,
  },
  sd15: {
    downloadSeconds: 60,
    cachedDownloadSeconds: 10,
    loadingSeconds: 45,
    stepSeconds: 1.0,
    sampleSeconds: 10,
    saveSeconds: 2,
    uploadSeconds: 10,
  },
}
/** How much longer a GPU takes than an A10G for the same work. */
export const GPU_SLOWNESS: Record<string, number> = { 'NVIDIA T4': 2.8, 'NVIDIA A10G': 1, 'NVIDIA L40S': 0.45 }

/** EC2: launch to the agent's first word (the instance starts and boots), and installing ai-toolkit at boot. */
export const EC2_BOOT_SECONDS = 120
export const EC2_INSTALL_SECONDS = 600

/**
 * A simulated trainer on the local provider (a process on this computer), around the stand-in's own
 * SIMULATED_TRAINING_SECONDS: the agent starts and checks the machine, fetches the images, writes and
 * uploads each LoRA file and renders each sample image, and the supervisor sees the end at its next poll.
 * Measured on the test machine (tests/integration/estimate-accuracy.test.ts prints the parts).
 */
export const LOCAL_SIMULATED_TABLE = {
  bootSeconds: 0.3,
  downloadSeconds: 0.1,
  loadingSeconds: 0,
  uploadSeconds: 0.4,
  saveSeconds: 0.18,
  sampleSeconds: 0.03,
}

export type EstimateInput = {
  trainingId: string
  /** A config (and base model) not saved yet: the forms estimate as the person edits. Default: the training's. */
  config?: string
  baseModel?: string
  /** A continuation: its new total of steps, and the step it resumes from. */
  stepsOverride?: number
  resumeStep?: number
  spot?: boolean
}

type Deps = { prisma?: PrismaClient; provider?: ProviderName; env?: Env }

/** The estimate of a run of the training, or null when its config or base model is not valid or no machine fits. */
export async function estimateRunFor(
  input: EstimateInput,
  { prisma = defaultPrisma, provider = getEnv().GPU_PROVIDER, env = getEnv() }: Deps = {},
): Promise<RunEstimate | null> {
  const training = await prisma.training.findUnique({
    where: { id: input.trainingId },
    select: { baseModel: true, config: true },
  })
  if (!training) return null
  const model = parseBaseModel(input.baseModel ?? training.baseModel)
  if (!model) return null
  const config = parseConfigText(input.config ?? training.config, model)
  if (!config.success) return null
  const rates = await estimateRatesFor(model, config.config.config.process[0]?.model ?? {}, {
    prisma,
    provider,
    env,
    spot: input.spot ?? false,
  })
  if (!rates) return null
  return estimateRun(workOfConfig(config.config, { stepsOverride: input.stepsOverride, resumeStep: input.resumeStep }), rates)
}

/**
 * The rates of a run of this model (with these memory settings) on the machine the provider would give
 * it; null when no machine fits. One query for the measured runs, and the price (cached).
 */
export async function estimateRatesFor(
  model: BaseModel,
  memory: MemorySettings,
  { prisma = defaultPrisma, provider = getEnv().GPU_PROVIDER, env = getEnv(), spot = false }: Deps & { spot?: boolean } = {},
): Promise<EstimateRates | null> {
  const offer = offerFor(hardwareNeedOf(model, memory), provider)
  if (!offer) return null
  const simulated = !runsRealTrainer(provider, env)
  const price = await priceOf(provider, offer.instanceType, offer.pricePerHourUsd, spot, { prisma, env })
  const table = startingRates(model, offer.gpu, provider, simulated, env)
  const measured = await measuredRates(model, provider, offer.instanceType, simulated, { prisma, table })
  return {
    provider,
    instanceType: offer.instanceType,
    machine: describeMachine(provider, offer.instanceType, env),
    spot,
    pricePerHour: price.pricePerHour,
    priceSource: provider === 'local' ? 'free' : price.source,
    ...table,
    ...measured?.rates,
    speedSource: measured ? 'measured' : 'table',
    measuredRuns: measured?.runs ?? 0,
  }
}

async function priceOf(
  provider: ProviderName,
  instanceType: string,
  cataloguePrice: number,
  spot: boolean,
  { prisma, env }: { prisma: PrismaClient; env: Env },
): Promise<PriceQuoteResult> {
  if (provider !== 'ec2') return { pricePerHour: cataloguePrice, source: 'table' }
  const options = {
    prisma,
    region: env.AWS_REGION,
    pricingEndpoint: env.AWS_ENDPOINT_URL_PRICING,
    // The provider's own spot look (the one a launch prices a spot machine with), in the zone a launch tries first.
    spotPrice: async (type: string) => {
      const ec2 = getGpuProvider('ec2') as Ec2GpuProvider
      const subnet = env.EC2_SUBNET_IDS[0] ?? env.EC2_SUBNET_ID
      const zone = subnet ? await ec2.zoneOf(subnet) : null
      return { price: zone ? await ec2.spotPrice(type, zone) : null, zone }
    },
  }
  const quote = spot ? await spotPriceFor(instanceType, options) : await onDemandPrice(instanceType, options)
  return quote ?? { pricePerHour: cataloguePrice, source: 'table' }
}

type TableRates = Omit<
  EstimateRates,
  'provider' | 'instanceType' | 'machine' | 'spot' | 'pricePerHour' | 'priceSource' | 'speedSource' | 'measuredRuns'
>

/** The starting table's rates for this model on this GPU and provider. */
export function startingRates(model: BaseModel, gpu: string, provider: ProviderName, simulated: boolean, env: Env): TableRates {
  const installs = provider === 'ec2' && !env.EC2_AMI_ID
  const bootSeconds =
    provider === 'ec2' ? EC2_BOOT_SECONDS + (installs ? EC2_INSTALL_SECONDS : 0) : LOCAL_SIMULATED_TABLE.bootSeconds
  if (simulated) {
    // The stand-in downloads nothing and spends SIMULATED_TRAINING_SECONDS whatever the work.
    return {
      bootSeconds,
      downloadSeconds: LOCAL_SIMULATED_TABLE.downloadSeconds,
      loadingSeconds: LOCAL_SIMULATED_TABLE.loadingSeconds,
      stepSeconds: 0,
      sampleSeconds: LOCAL_SIMULATED_TABLE.sampleSeconds,
      saveSeconds: LOCAL_SIMULATED_TABLE.saveSeconds,
      uploadSeconds: LOCAL_SIMULATED_TABLE.uploadSeconds,
      simulatedSeconds: env.SIMULATED_TRAINING_SECONDS,
    }
  }
  const t = REAL_TRAINER_TABLE[model.family]
  const slowness = GPU_SLOWNESS[gpu] ?? 1
  const weightsInImage = provider === 'ec2' && Boolean(env.EC2_AMI_ID) && env.EC2_AMI_MODELS.includes(model.ref.id)
  return {
    bootSeconds,
    downloadSeconds: weightsInImage ? t.cachedDownloadSeconds : t.downloadSeconds,
    loadingSeconds: t.loadingSeconds,
    stepSeconds: t.stepSeconds * slowness,
    sampleSeconds: t.sampleSeconds * slowness,
    saveSeconds: t.saveSeconds,
    uploadSeconds: t.uploadSeconds,
    simulatedSeconds: null,
  }
}

const PART_OF_PHASE: Record<string, EstimatePart> = {
  'starting-machine': 'boot',
  booting: 'boot',
  installing: 'boot',
  checking: 'boot',
  preparing: 'download',
  'downloading-model': 'download',
  'loading-model': 'loading',
  quantizing: 'loading',
  'caching-latents': 'loading',
  training: 'training',
  'sampling-baseline': 'sampling',
  sampling: 'sampling',
  saving: 'upload',
  uploading: 'upload',
}

/**
 * Seconds a finished run spent per estimate part, from its phases: the time from the launch to its first
 * phase counts as boot, the time after its last phase until it ended as upload.
 */
export function partSecondsOf(run: { phases: string | null; startedAt: Date | null; finishedAt: Date | null }) {
  const seconds: Record<EstimatePart, number> = { boot: 0, download: 0, loading: 0, training: 0, sampling: 0, upload: 0 }
  const spans = parsePhases(run.phases)
  for (const span of spans) {
    const part = PART_OF_PHASE[span.phase]
    if (!part || !span.endedAt) continue
    seconds[part] += Math.max(0, (Date.parse(span.endedAt) - Date.parse(span.startedAt)) / 1000)
  }
  const first = spans[0]
  const last = spans.at(-1)
  if (run.startedAt && first) seconds.boot += Math.max(0, (Date.parse(first.startedAt) - run.startedAt.getTime()) / 1000)
  if (run.finishedAt && last?.endedAt) seconds.upload += Math.max(0, (run.finishedAt.getTime() - Date.parse(last.endedAt)) / 1000)
  return seconds
}

function median(values: number[]): number | null {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return null
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * The speeds measured on this installation's newest succeeded runs of this model on this provider and
 * machine type, or null when fewer than MEASURED_RUNS_NEEDED have finished. A run interrupted on spot
 * (several machines) is left out: its phases hold a second boot.
 */
async function measuredRates(
  model: BaseModel,
  provider: ProviderName,
  instanceType: string,
  simulated: boolean,
  { prisma, table }: { prisma: PrismaClient; table: TableRates },
): Promise<{ runs: number; rates: Partial<TableRates> } | null> {
  const candidates = await prisma.trainingRun.findMany({
    // A caption job on the same machine says nothing about training speed.
    where: {
      kind: 'train',
      status: 'succeeded',
      provider,
      instanceType,
      interruptions: 0,
      phases: { not: null },
      startedAt: { not: null },
    },
    orderBy: { finishedAt: 'desc' },
    // Other models' runs on the same machine are among them: read a few more than needed.
    take: MEASURED_RUNS_USED * 4,
    select: {
      phases: true,
      startedAt: true,
      finishedAt: true,
      totalSteps: true,
      resumeStep: true,
      estimate: true,
      training: { select: { baseModel: true, config: true } },
    },
  })
  const runs = candidates
    // A simulated trainer takes the same time whatever the model: every run on the machine counts.
    .filter((r) => simulated || parseBaseModel(r.training.baseModel)?.slug === model.slug)
    .slice(0, MEASURED_RUNS_USED)
    .map((r) => ({ parts: partSecondsOf(r), work: workOfRun(r, model) }))
  if (runs.length < MEASURED_RUNS_NEEDED) return null
  const pick = (f: (r: (typeof runs)[number]) => number | null) => median(runs.map(f).filter((v): v is number => v !== null))
  const rates: Partial<TableRates> = {
    bootSeconds: pick((r) => r.parts.boot) ?? table.bootSeconds,
    downloadSeconds: pick((r) => r.parts.download) ?? table.downloadSeconds,
  }
  if (simulated && table.simulatedSeconds !== null) {
    // The stand-in's own seconds follow SIMULATED_TRAINING_SECONDS: what is measured is the time around
    // them (taking the setting as it is now).
    const seconds = table.simulatedSeconds
    rates.loadingSeconds =
      pick((r) => (r.work ? Math.max(0, r.parts.loading - simulatedSplit(r.work, seconds).loading) : null)) ??
      table.loadingSeconds
    rates.sampleSeconds =
      pick((r) => {
        const images = r.work ? r.work.sampleImages * (r.work.samplePixels ?? 1) : 0
        return r.work && images > 0 ? Math.max(0, r.parts.sampling - simulatedSplit(r.work, seconds).sampling) / images : null
      }) ?? table.sampleSeconds
    rates.uploadSeconds =
      pick((r) =>
        r.work ? Math.max(0, r.parts.upload - simulatedSplit(r.work, seconds).saving - r.work.saves * table.saveSeconds) : null,
      ) ?? table.uploadSeconds
    return { runs: runs.length, rates }
  }
  rates.loadingSeconds = pick((r) => r.parts.loading) ?? table.loadingSeconds
  rates.stepSeconds =
    pick((r) => (r.work && r.work.steps * r.work.stepWork > 0 ? r.parts.training / (r.work.steps * r.work.stepWork) : null)) ??
    table.stepSeconds
  rates.sampleSeconds =
    pick((r) =>
      r.work && r.work.sampleImages * r.work.sampleWork > 0 ? r.parts.sampling / (r.work.sampleImages * r.work.sampleWork) : null,
    ) ?? table.sampleSeconds
  rates.uploadSeconds = pick((r) => Math.max(0, r.parts.upload - (r.work?.saves ?? 0) * table.saveSeconds)) ?? table.uploadSeconds
  return { runs: runs.length, rates }
}

/** The work a finished run did: the one its estimate recorded, else its training's config now with its steps. */
function workOfRun(
  run: { totalSteps: number | null; resumeStep: number | null; estimate: string | null; training: { config: string } },
  model: BaseModel,
): EstimateWork | null {
  const recorded = parseEstimate(run.estimate)?.work
  if (recorded) return recorded
  const config = parseConfigText(run.training.config, model)
  if (!config.success) return null
  return workOfConfig(config.config, { stepsOverride: run.totalSteps ?? undefined, resumeStep: run.resumeStep ?? undefined })
}

/**
 * The estimates a start form shows: on-demand, and on spot where the operator offers spot machines (the
 * form switches between them as the person ticks the box). Nulls when the config cannot be estimated.
 */
export async function startEstimatesFor(
  trainingId: string,
  spotOffered: boolean,
  deps: Deps = {},
): Promise<{ estimate: RunEstimate | null; spotEstimate: RunEstimate | null }> {
  const [estimate, spotEstimate] = await Promise.all([
    estimateRunFor({ trainingId, spot: false }, deps),
    spotOffered ? estimateRunFor({ trainingId, spot: true }, deps) : null,
  ])
  return { estimate, spotEstimate }
}

/**
 * The rates for a training's stored base model and config (what the settings page sends the browser, so
 * the estimate follows the edits with no round trip); null when they cannot be estimated. On the
 * operator's default market: spot where every run or most runs are spot.
 */
export async function trainingRatesFor(
  training: { baseModel: string; config: string },
  { spot = false, ...deps }: Deps & { spot?: boolean } = {},
): Promise<EstimateRates | null> {
  const model = parseBaseModel(training.baseModel)
  if (!model) return null
  const config = parseConfigText(training.config, model)
  return estimateRatesFor(model, config.success ? (config.config.config.process[0]?.model ?? {}) : {}, { ...deps, spot })
}

/**
 * The rates of each base model with the settings its presets use (new training: the form estimates the
 * chosen preset on the chosen model in the browser). Keyed by the model's slug; a model no machine fits
 * is left out.
 */
export async function ratesByBaseModel(
  models: readonly BaseModel[],
  memoryOf: (model: BaseModel) => MemorySettings,
  deps: Deps & { spot?: boolean } = {},
): Promise<Record<string, EstimateRates>> {
  const entries = await Promise.all(models.map(async (m) => [m.slug, await estimateRatesFor(m, memoryOf(m), deps)] as const))
  return Object.fromEntries(entries.filter((e): e is readonly [string, EstimateRates] => e[1] !== null))
}
