// The job a run's agent gets (scripts/agent/README.md, "Job format"): what to download, how to train,
// where to upload. Everything the agent touches is a signed URL that expires after the run's hard
// stop; the agent holds no storage credentials.
import { parseBaseModel } from '../trainings/base-models'
import { getEnv } from '../utils/env.server'
import { type AgentJob, type GpuProvider, type LaunchRequest } from '../gpu/provider.server'
import { Ec2GpuProvider } from '../gpu/ec2/provider.server'
import { agentTokenFor } from './runs.server'
import { MAX_SIGNED_URL_EXPIRY_S } from '../storage/signing.server'
import { jobKey, sampleKey, weightsKey } from '../storage/keys'
import type { Storage } from '../storage/storage.server'
import { renderJobConfig, SERVER_FILLED } from '../trainings/config'

/** Past the hard stop: booting, the final upload and a supervisor that was down a while. */
const URL_EXPIRY_MARGIN_S = 60 * 60
/** One sample URL per sample prompt, within these bounds (the agent uploads the newest n images). */
const MIN_SAMPLE_UPLOADS = 1
const MAX_SAMPLE_UPLOADS = 8

export const AI_TOOLKIT_COMMAND = ['python', 'run.py', '{config}']

export function urlExpirySeconds(maxRunMinutes: number) {
  return Math.min(MAX_SIGNED_URL_EXPIRY_S, Math.ceil(maxRunMinutes * 60) + URL_EXPIRY_MARGIN_S)
}

export type JobTraining = { name: string; triggerWord: string; baseModel: string; config: string }
export type JobImage = { url: string; name: string; text: string | null }

export type BuildJobOptions = {
  storage: Storage
  maxRunMinutes?: number
  /** What a remote machine runs; the local provider replaces it with its own (simulate or LOCAL_TRAINER_COMMAND). */
  trainer?: 'ai-toolkit' | 'simulate'
  trainerCwd?: string
  simulateSeconds?: number
  secret?: string
}

/**
 * The agent job of a run. Folder paths in the config stay placeholders: the agent fills them on the
 * machine. Throws when the training's base model or config is no longer valid (startRun checked them,
 * but a training can be edited while its run waits in the queue).
 */
export async function buildAgentJob(
  run: { id: string },
  training: JobTraining,
  images: JobImage[],
  options: BuildJobOptions,
): Promise<AgentJob> {
  const env = getEnv()
  const maxRunMinutes = options.maxRunMinutes ?? env.MAX_RUN_MINUTES
  const trainer = options.trainer ?? env.EC2_TRAINER
  const model = parseBaseModel(training.baseModel)
  if (!model) throw new Error('the base model of this training is no longer offered')
  const config = renderJobConfig(training, { datasetFolder: SERVER_FILLED, outputFolder: SERVER_FILLED })
  const prompts = config.config.process[0]?.sample.prompts.length ?? 0
  const samples = Math.min(MAX_SAMPLE_UPLOADS, Math.max(MIN_SAMPLE_UPLOADS, prompts))
  const expiresInS = urlExpirySeconds(maxRunMinutes)
  const { storage } = options

  return {
    runId: run.id,
    token: agentTokenFor(run.id, options.secret),
    trainer,
    ...(trainer === 'ai-toolkit'
      ? { trainerCommand: AI_TOOLKIT_COMMAND, trainerCwd: options.trainerCwd ?? env.EC2_AI_TOOLKIT_DIR }
      : { simulateSeconds: options.simulateSeconds ?? env.SIMULATED_TRAINING_SECONDS }),
    triggerWord: training.triggerWord,
    baseModel: model.ref,
    config,
    images: await Promise.all(
      images.map(async (image) => ({
        url: await storage.signedGetUrl(image.url, { expiresInS }),
        name: image.name,
        caption: image.text ?? '',
      })),
    ),
    uploads: {
      weights: {
        url: await storage.signedPutUrl(weightsKey(run.id), { expiresInS, contentType: 'application/octet-stream' }),
        contentType: 'application/octet-stream',
      },
      samples: await Promise.all(
        Array.from({ length: samples }, async (_, n) => ({
          url: await storage.signedPutUrl(sampleKey(run.id, n), { expiresInS, contentType: 'image/jpeg' }),
          contentType: 'image/jpeg',
        })),
      ),
    },
    maxRunMinutes,
  }
}

/**
 * The launch request for a provider. EC2 carries the job in 16 KB of user data; a bigger job (a few
 * dozen images and up: each signed URL is ~200 bytes) is stored as runs/<runId>/job.json and the
 * machine gets a signed URL to fetch it (the agent's TRAINYARD_JOB_URL).
 */
export async function launchRequestFor(
  provider: GpuProvider,
  { runId, instanceType, job, maxRunMinutes, storage }: { runId: string; instanceType: string; job: AgentJob; maxRunMinutes: number; storage: Storage },
): Promise<LaunchRequest> {
  if (provider.name === 'local') {
    // The local provider sets the trainer itself (simulate, or LOCAL_TRAINER_COMMAND); a GPU machine's
    // ai-toolkit folder means nothing on this computer, and the agent would run the trainer in it.
    const { trainerCwd: _machineFolder, ...localJob } = job
    return { runId, instanceType, job: { ...localJob, runId, token: job.token }, maxRunMinutes }
  }
  const request: LaunchRequest = { runId, instanceType, job, maxRunMinutes }
  if (!(provider instanceof Ec2GpuProvider) || provider.userDataFits(request)) return request
  const key = jobKey(runId)
  // What buildUserData adds to an inline job, added here since this one does not pass through it.
  const stored = { ...job, maxRunMinutes: job.maxRunMinutes ?? maxRunMinutes, powerOffWhenDone: true }
  const body = Buffer.from(JSON.stringify(stored))
  await storage.put(key, body, { contentType: 'application/json', contentLength: body.length })
  const jobUrl = await storage.signedGetUrl(key, { expiresInS: urlExpirySeconds(maxRunMinutes) })
  return { ...request, job: { runId, token: job.token, jobUrl } }
}
