// The job a run's agent gets (scripts/agent/README.md, "Job format"): what to download, how to train,
// where to upload. Everything the agent touches is a signed URL that expires after the run's hard
// stop; the agent holds no storage credentials.
import { parseBaseModel } from '../trainings/base-models'
import { getEnv } from '../utils/env.server'
import { type AgentJob, type GpuProvider, type LaunchRequest } from '../gpu/provider.server'
import { agentTokenFor } from './runs.server'
import { MAX_SIGNED_URL_EXPIRY_S } from '../storage/signing.server'
import { checkpointKey, jobKey, optimizerKey, sampleKey, stepSampleKey, weightsKey } from '../storage/keys'
import type { Storage } from '../storage/storage.server'
import { renderJobConfig, SERVER_FILLED } from '../trainings/config'
import { TRIGGER_TOKEN } from '../trainings/dataset-check'
import { planOfConfig } from './checkpoints.server'
import { CAPTION_PROMPTS, maxNewTokensFor, parseCaptionOptions, type CaptionOptions } from '../captions/options'
import { CAPTION_MODEL } from '../captions/estimate.server'

/** Past the hard stop: booting, the final upload and a supervisor that was down a while. */
const URL_EXPIRY_MARGIN_S = 60 * 60
/** One sample URL per sample prompt, within these bounds (the agent uploads the newest n images). */
const MIN_SAMPLE_UPLOADS = 1
const MAX_SAMPLE_UPLOADS = 8

const OCTET_STREAM = 'application/octet-stream'

/** Where GPU machine images put ai-toolkit; a provider whose machines keep it elsewhere sets its own. */
const AI_TOOLKIT_DIR = '/opt/ai-toolkit'

/**
 * The machine fetches its stored job once, at boot, within minutes of the launch (an hour covers one
 * that waits for capacity): the job may hold the Hugging Face token, so its URL must not outlive that.
 */
const STORED_JOB_URL_EXPIRY_S = 60 * 60

export function urlExpirySeconds(maxRunMinutes: number) {
  return Math.min(MAX_SIGNED_URL_EXPIRY_S, Math.ceil(maxRunMinutes * 60) + URL_EXPIRY_MARGIN_S)
}

export type JobTraining = { name: string; triggerWord: string; baseModel: string; config: string }
export type JobImage = { url: string; name: string; text: string | null }

export type BuildJobOptions = {
  storage: Storage
  maxRunMinutes?: number
  /**
   * What a GPU machine runs (default ai-toolkit). A provider may replace it with its own when it renders
   * the machine's job (a simulation on this computer, or one its settings ask for).
   */
  trainer?: 'ai-toolkit' | 'simulate'
  trainerCwd?: string
  simulateSeconds?: number
  secret?: string
  /**
   * The Hugging Face token the run uses (its owner's own, else the operator's): it reaches the trainer's
   * environment as HF_TOKEN through the job's secrets, which the agent redacts from everything it reports
   * and which never travel in EC2 user data.
   */
  hfToken?: string | null
  /**
   * The run resumes from a step save: its own (a spot machine's successor) or another run's (a
   * continuation). The agent downloads it (and the optimizer state, withOptimizer) before the trainer
   * starts, and ai-toolkit resumes from it as from its own newest save.
   */
  resume?: { runId: string; step: number; withOptimizer: boolean } | null
  /** This machine numbers its messages from here: a run's next machine continues its ids. */
  firstMessageId?: number
  /** A spot machine: the agent watches the instance metadata for the interruption notice. */
  spot?: boolean
}

/**
 * The agent job of a run. Folder paths in the config stay placeholders: the agent fills them on the
 * machine. Throws when the training's base model or config is no longer valid (startRun checked them,
 * but a training can be edited while its run waits in the queue).
 */
export async function buildAgentJob(
  run: { id: string; stepsOverride?: number | null },
  training: JobTraining,
  images: JobImage[],
  options: BuildJobOptions,
): Promise<AgentJob> {
  const env = getEnv()
  const maxRunMinutes = options.maxRunMinutes ?? env.MAX_RUN_MINUTES
  const trainer = options.trainer ?? 'ai-toolkit'
  const model = parseBaseModel(training.baseModel)
  if (!model) throw new Error('the base model of this training is no longer offered')
  const config = renderJobConfig(training, { datasetFolder: SERVER_FILLED, outputFolder: SERVER_FILLED })
  const process0 = config.config.process[0]
  // An image without a caption trains on the trigger word: the agent writes no caption file for it,
  // and ai-toolkit reads a missing (or blank) one as the dataset's default_caption, putting the
  // trigger word in place of [trigger] (toolkit/dataloader_mixins.py load_caption, get_caption).
  // A default_caption the person set in the config stays theirs.
  for (const process of config.config.process) {
    for (const dataset of process.datasets) dataset.default_caption ??= TRIGGER_TOKEN
  }
  // A continuation trains to its own new total.
  if (process0 && run.stepsOverride) process0.train.steps = run.stepsOverride
  const prompts = process0?.sample.prompts.length ?? 0
  const resume = options.resume ?? null
  const plan = planOfConfig(config, { startStep: resume?.step ?? 0 })
  const samples = Math.min(MAX_SAMPLE_UPLOADS, Math.max(MIN_SAMPLE_UPLOADS, prompts))
  const expiresInS = urlExpirySeconds(maxRunMinutes)
  const { storage } = options

  return {
    runId: run.id,
    token: agentTokenFor(run.id, options.secret),
    trainer,
    ...(trainer === 'ai-toolkit'
      ? // No command: the agent runs run.py with the interpreter ai-toolkit's own UI would pick (its venv).
        { trainerCwd: options.trainerCwd ?? AI_TOOLKIT_DIR }
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
      // Every step save and sample round the config plans (./checkpoints.ts), uploaded as they appear,
      // so a run that stops early keeps what it had. The agent sends application/octet-stream for a
      // checkpoint and image/jpeg for a sample, which these URLs are signed for.
      checkpoints: await Promise.all(
        plan.checkpointSteps.map(async (step) => ({
          step,
          url: await storage.signedPutUrl(checkpointKey(run.id, step), { expiresInS, contentType: OCTET_STREAM }),
        })),
      ),
      optimizer: {
        url: await storage.signedPutUrl(optimizerKey(run.id), { expiresInS, contentType: OCTET_STREAM }),
        contentType: OCTET_STREAM,
      },
      stepSamples: await Promise.all(
        plan.sampleSteps.flatMap((step) =>
          Array.from({ length: plan.prompts }, async (_, prompt) => ({
            step,
            prompt,
            url: await storage.signedPutUrl(stepSampleKey(run.id, step, prompt), { expiresInS, contentType: 'image/jpeg' }),
          })),
        ),
      ),
    },
    ...(resume
      ? {
          resume: {
            step: resume.step,
            checkpoint: { url: await storage.signedGetUrl(checkpointKey(resume.runId, resume.step), { expiresInS }) },
            optimizer: resume.withOptimizer
              ? { url: await storage.signedGetUrl(optimizerKey(resume.runId), { expiresInS }) }
              : null,
          },
        }
      : {}),
    firstMessageId: options.firstMessageId ?? 1,
    spot: options.spot ?? false,
    maxRunMinutes,
    ...(options.hfToken ? { secrets: { HF_TOKEN: options.hfToken } } : {}),
  }
}

/** The captioner the machine image carries (ai-toolkit's own, extensions_built_in/captioner). */
export const CAPTIONER_PROCESS_TYPE = 'Qwen3VLCaptioner'

/**
 * The config of ai-toolkit's captioner for a caption job, run by run.py as a training config is. No
 * sqlite_db_path: the captioner then prints its progress and writes `<image>.txt` beside each image,
 * which the agent reads and reports. `name` and `path_to_caption` are the agent's to fill.
 */
export function captionerConfig(options: CaptionOptions) {
  return {
    job: 'extension',
    config: {
      name: SERVER_FILLED,
      process: [
        {
          type: CAPTIONER_PROCESS_TYPE,
          device: 'cuda',
          caption: {
            model_name_or_path: CAPTION_MODEL,
            dtype: 'bf16',
            quantize: false,
            low_vram: false,
            extensions: ['jpg', 'jpeg', 'png', 'webp'],
            path_to_caption: SERVER_FILLED,
            recaption: true,
            caption_extension: 'txt',
            caption_prompt: CAPTION_PROMPTS[options.style],
            max_res: 512,
            max_new_tokens: maxNewTokensFor(options),
            batch_size: 1,
          },
        },
      ],
    },
  }
}

/**
 * The agent job of a caption job: the images to caption (with their ids, to report each caption by;
 * no captions sent), the captioner config, nothing to upload. What runs it is as for training.
 */
export async function buildCaptionJob(
  run: { id: string; captionOptions: string | null },
  images: { id: string; url: string; name: string }[],
  options: BuildJobOptions,
): Promise<AgentJob> {
  const env = getEnv()
  const maxRunMinutes = options.maxRunMinutes ?? env.MAX_RUN_MINUTES
  const trainer = options.trainer ?? 'ai-toolkit'
  const expiresInS = urlExpirySeconds(maxRunMinutes)
  return {
    kind: 'caption',
    runId: run.id,
    token: agentTokenFor(run.id, options.secret),
    trainer,
    ...(trainer === 'ai-toolkit'
      ? { trainerCwd: options.trainerCwd ?? AI_TOOLKIT_DIR }
      : { simulateSeconds: options.simulateSeconds ?? env.SIMULATED_TRAINING_SECONDS }),
    config: captionerConfig(parseCaptionOptions(run.captionOptions)),
    images: await Promise.all(
      images.map(async (image) => ({
        url: await options.storage.signedGetUrl(image.url, { expiresInS }),
        name: image.name,
        id: image.id,
      })),
    ),
    uploads: {},
    firstMessageId: options.firstMessageId ?? 1,
    // A caption job is not resumed on another machine: it always runs on-demand.
    spot: false,
    maxRunMinutes,
    ...(options.hfToken ? { secrets: { HF_TOKEN: options.hfToken } } : {}),
  }
}

/**
 * The launch request for a provider. A job travels inline while the provider carries it
 * (capabilities.maxInlineJobBytes: a cloud's few KB of user data; any size on this computer); a bigger one
 * (a few dozen images and up: each signed URL is ~200 bytes) is stored as runs/<runId>/job.json, as the
 * agent on the machine would read it, and the machine gets a signed URL to fetch it (the agent's
 * TRAINYARD_JOB_URL).
 */
export async function launchRequestFor(
  provider: GpuProvider,
  {
    runId,
    instanceType,
    job,
    maxRunMinutes,
    storage,
  }: { runId: string; instanceType: string; job: AgentJob; maxRunMinutes: number; storage: Storage },
): Promise<LaunchRequest> {
  const { capabilities } = provider
  if (capabilities.runsOnAppHost) {
    // The provider sets the trainer itself (simulate, or LOCAL_TRAINER_COMMAND); a GPU machine's
    // ai-toolkit folder means nothing on this computer, and the agent would run the trainer in it.
    const { trainerCwd: _machineFolder, ...hostJob } = job
    job = { ...hostJob, runId, token: job.token }
  }
  let request: LaunchRequest = { runId, instanceType, job, maxRunMinutes }
  // First, so what is measured (and maybe stored) is the job the machine reads, with its signed URLs.
  if (provider.stageLaunch) request = await provider.stageLaunch(request, storage)
  // A provider counts a job it must never carry inline (EC2: one with secrets, since anyone allowed to
  // describe instances reads user data) as Infinity bytes: stored, whatever its size.
  if (inlineJobBytes(provider, request) <= capabilities.maxInlineJobBytes) return request
  const key = jobKey(runId)
  const stored = provider.machineJob?.(request) ?? request.job
  const body = Buffer.from(JSON.stringify(stored))
  await storage.put(key, body, { contentType: 'application/json', contentLength: body.length })
  const jobUrl = await storage.signedGetUrl(key, { expiresInS: STORED_JOB_URL_EXPIRY_S })
  return { ...request, job: { runId, token: job.token, jobUrl } }
}

function inlineJobBytes(provider: GpuProvider, request: LaunchRequest) {
  // Any job fits a provider without a limit: no need to render or measure it.
  if (provider.capabilities.maxInlineJobBytes === Infinity) return 0
  return provider.inlineJobBytes?.(request) ?? Buffer.byteLength(JSON.stringify(request.job))
}
