// What a caption job is expected to take and cost, and the machine it needs: read by startRun (which
// stores the estimate with the job, as it does a training run's) and by the Images tab before Start.
import type { HardwareNeed } from '../gpu/catalogue'
import type { ProviderName } from '../gpu/provider-env'
import { describeMachine, offerFor, runsRealTrainer } from '../gpu/registry.server'
import { CAPTION_TABLE, captionPartsFor } from './estimate-table'
import type { RunEstimate } from '../runs/estimate'
import { getEnv, type Env } from '../utils/env.server'

/**
 * What the captioner needs: Qwen3-VL-4B-Instruct in bf16 is ~8.9 GB of weights, plus the activations
 * of one 512 px image; ai-toolkit's captioner asks for a GPU with bf16, which a T4 (16 GB) lacks. The
 * smallest offer that fits is an NVIDIA A10G (g5.xlarge on EC2).
 */
export const CAPTION_HARDWARE_NEED: HardwareNeed = { gpuMemoryGb: 24, ramGib: 16 }

/** The model the captioner runs, pinned by ai-toolkit's captioner at the commit the machine image installs. */
export const CAPTION_MODEL = 'Qwen/Qwen3-VL-4B-Instruct'

export type CaptionEstimate = {
  seconds: number
  costUsd: number
  /** "g5.xlarge (NVIDIA A10G) on EC2", "local (simulated)". */
  machine: string
  instanceType: string
  pricePerHour: number
  parts: { part: 'boot' | 'download' | 'loading' | 'captioning'; seconds: number }[]
}

/**
 * What a caption job of `imageCount` images is expected to take and cost on the provider's machine for
 * the captioner: boot (and installing ai-toolkit where the machine image lacks it), the model download
 * (unless the image holds the weights), loading, and each image (up to `maxNewTokens` each; default the
 * table's, the default options' budget). The local provider is free.
 * `userId` is accepted for symmetry with the run estimate (a per-person price is not a thing yet).
 */
export async function estimateCaptionJob(
  { imageCount, maxNewTokens }: { imageCount: number; userId?: string; maxNewTokens?: number },
  { provider = getEnv().GPU_PROVIDER, env = getEnv() }: { provider?: ProviderName; env?: Env } = {},
): Promise<CaptionEstimate> {
  const images = Math.max(0, Math.floor(imageCount))
  const offer = offerFor(CAPTION_HARDWARE_NEED, provider)
  const instanceType = offer?.instanceType ?? 'unknown'
  const pricePerHour = provider === 'local' ? 0 : (offer?.pricePerHourUsd ?? 0)
  const installs = provider === 'ec2' && !env.EC2_AMI_ID
  // The simulated machine's stand-in spreads the job's simulateSeconds (SIMULATED_TRAINING_SECONDS) over
  // its images; a real captioner takes the table's paper figures (./estimate-table.ts says where from).
  const parts = captionPartsFor(images, CAPTION_TABLE[provider], {
    installsAtBoot: installs,
    weightsBaked: provider === 'ec2' && Boolean(env.EC2_AMI_ID) && env.EC2_AMI_MODELS.includes(CAPTION_MODEL),
    maxNewTokens,
    simulatedSeconds: runsRealTrainer(provider, env) ? null : env.SIMULATED_TRAINING_SECONDS,
  })
  const seconds = parts.reduce((sum, p) => sum + p.seconds, 0)
  return {
    seconds,
    costUsd: Math.round(((seconds / 3600) * pricePerHour + Number.EPSILON) * 10_000) / 10_000,
    machine: describeMachine(provider, instanceType, env),
    instanceType,
    pricePerHour,
    parts,
  }
}

/**
 * The estimate as a run stores it (TrainingRun.estimate): the run page and the budget read every run's
 * estimate alike. Captioning counts as the run's main work part; `steps` is the number of images.
 */
export function captionEstimateAsRun(estimate: CaptionEstimate, provider: ProviderName, imageCount: number): RunEstimate {
  return {
    provider,
    instanceType: estimate.instanceType,
    machine: estimate.machine,
    spot: false,
    pricePerHour: estimate.pricePerHour,
    priceSource: provider === 'local' ? 'free' : 'table',
    steps: imageCount,
    parts: estimate.parts.map((p) => ({ part: p.part === 'captioning' ? 'training' : p.part, seconds: p.seconds })),
    seconds: estimate.seconds,
    costUsd: estimate.costUsd,
    speedSource: 'table',
    measuredRuns: 0,
  }
}
