// Publishing a run's LoRA to a model repository on the Hugging Face Hub, with @huggingface/hub: the
// repository is created if missing, then one commit carries `<slug>.safetensors` (the run's LoRA or a
// kept checkpoint, streamed from storage), README.md (./model-card.ts) and the sample images.
//
// startPublication checks what can be checked at once (the run succeeded, the file exists, the person
// has a saved Hub token that the Hub accepts and that may write) and inserts a HubPublication row
// `uploading`; the upload then runs in the background of this process and ends the row `published`
// (with the commit's URL) or `failed` (the Hub's refusal in words). The token is the person's own,
// from Settings, never the operator's HF_TOKEN (that would publish into the operator's account), and
// it never reaches a log, a row or an answer.
//
// A process that dies mid-upload leaves its row `uploading`. Every upload gives up after
// PUBLISH_TIMEOUT_MS, so a row still `uploading` after STALE_UPLOAD_MS (longer) has no process behind
// it: listPublications marks it failed before anyone reads it.
import { commit, createRepo, HubApiError, type CommitOperation } from '@huggingface/hub'
import { prisma } from '../utils/db.server'
import { getEnv } from '../utils/env.server'
import { getUserHuggingFaceToken, hubWhoami } from '../utils/huggingface.server'
import { offeredCheckpoint } from '../runs/checkpoints.server'
import { parseSamples, uploadedSamples } from '../runs/samples'
import { runStatusLabel } from '../runs/status'
import { runKeyPrefix } from '../storage/keys'
import { getStorage } from '../storage/storage.server'
import { parseBaseModel } from '../trainings/base-models'
import { jobName, parseConfigText } from '../trainings/config'
import { readKnobs } from '../trainings/knobs'
import { modelCard, type CardSample } from './model-card'
import { StorageBlob } from './storage-blob.server'

/** How long one upload may take before it gives up (a LoRA is at most a few hundred megabytes). */
export const PUBLISH_TIMEOUT_MS = 25 * 60 * 1000
/** A row `uploading` for longer than this has no process behind it any more (see above). */
export const STALE_UPLOAD_MS = 30 * 60 * 1000
export const STALE_UPLOAD_ERROR = 'The upload stopped without an answer (the server restarted while it ran): publish again.'
/** The most sample images a card shows. */
const MAX_CARD_SAMPLES = 8
const SETTINGS = 'Settings › Hugging Face'

export type Publication = {
  id: string
  runId: string
  step: number | null
  repo: string
  private: boolean
  status: 'uploading' | 'published' | 'failed'
  url: string | null
  error: string | null
  createdAt: string
  finishedAt: string | null
}

/** A refusal before anything was uploaded: an API code, an HTTP status and a sentence. */
export class PublishError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly field?: 'repo' | 'step',
  ) {
    super(message)
    this.name = 'PublishError'
  }
}

const PUBLICATION_SELECT = {
  id: true,
  runId: true,
  step: true,
  repo: true,
  private: true,
  status: true,
  url: true,
  error: true,
  createdAt: true,
  finishedAt: true,
} as const

type PublicationRow = {
  id: string
  runId: string
  step: number | null
  repo: string
  private: boolean
  status: string
  url: string | null
  error: string | null
  createdAt: Date
  finishedAt: Date | null
}

function toPublication(row: PublicationRow): Publication {
  return {
    ...row,
    status: row.status === 'published' || row.status === 'failed' ? row.status : 'uploading',
    createdAt: row.createdAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
  }
}

/** The repository's page on the Hub. */
export function repoUrl(repo: string) {
  return `${getEnv().HF_ENDPOINT.replace(/\/+$/, '')}/${repo}`
}

/** The run's publications, newest first; one left `uploading` by a process that died is failed first. */
export async function listPublications(runId: string, now = new Date()): Promise<Publication[]> {
  await prisma.hubPublication.updateMany({
    where: { runId, status: 'uploading', createdAt: { lt: new Date(now.getTime() - STALE_UPLOAD_MS) } },
    data: { status: 'failed', error: STALE_UPLOAD_ERROR, finishedAt: now },
  })
  const rows = await prisma.hubPublication.findMany({
    where: { runId },
    orderBy: { createdAt: 'desc' },
    take: 20,
    select: PUBLICATION_SELECT,
  })
  return rows.map(toPublication)
}

type RunForPublishing = {
  id: string
  status: string
  chosenStep: number | null
  weightsKey: string | null
  sampleKeys: string | null
}

/** The file to upload: the checkpoint at `step`, or the run's LoRA as its download serves it. */
async function fileToPublish(run: RunForPublishing, step: number | undefined) {
  if (step !== undefined) {
    const checkpoint = await prisma.runCheckpoint.findUnique({
      where: { runId_step: { runId: run.id, step } },
      select: { key: true, final: true, step: true },
    })
    if (!checkpoint)
      throw new PublishError(
        'checkpoint_not_found',
        404,
        `This run keeps no checkpoint at step ${step.toLocaleString('en-US')}.`,
        'step',
      )
    return { key: checkpoint.key, step: checkpoint.final ? null : checkpoint.step }
  }
  const offered = await offeredCheckpoint(run)
  if (offered && !offered.final) return { key: offered.key, step: offered.step }
  const key = offered?.key ?? run.weightsKey
  if (!key) throw new PublishError('no_lora', 409, 'This run has no LoRA file to publish.')
  return { key, step: null }
}

/** Checks, the row, and the upload in the background; `done` settles when the row has its ending. */
export async function startPublication(
  input: {
    runId: string
    userId: string
    repo: string
    private: boolean
    step?: number
  },
  { timeoutMs = PUBLISH_TIMEOUT_MS }: { timeoutMs?: number } = {},
): Promise<{ publication: Publication; done: Promise<void> }> {
  const run = await prisma.trainingRun.findUnique({
    where: { id: input.runId },
    select: {
      id: true,
      status: true,
      chosenStep: true,
      weightsKey: true,
      sampleKeys: true,
      training: { select: { name: true, triggerWord: true, baseModel: true, config: true } },
    },
  })
  if (!run) throw new PublishError('not_found', 404, 'Not found.')
  if (run.status !== 'succeeded')
    throw new PublishError(
      'not_succeeded',
      409,
      `Only a run that succeeded can be published; this one is ${runStatusLabel(run.status).toLowerCase()}.`,
    )
  const file = await fileToPublish(run, input.step)
  // Only a key under the run's own folder: another would publish someone else's file.
  if (!file.key.startsWith(runKeyPrefix(run.id))) throw new PublishError('no_lora', 409, 'This run has no LoRA file to publish.')

  const saved = await getUserHuggingFaceToken(input.userId)
  if (saved.state === 'none')
    throw new PublishError(
      'hub_token_missing',
      409,
      `Publishing uses your own Hugging Face account: save a token with write access in ${SETTINGS} first.`,
    )
  if (saved.state === 'unreadable')
    throw new PublishError(
      'hub_token_unreadable',
      409,
      `Your saved Hugging Face token can no longer be read (the server's secret changed): save it again in ${SETTINGS}.`,
    )
  const token = saved.token
  const whoami = await hubWhoami(token)
  if (!whoami.ok)
    throw whoami.reason === 'refused'
      ? new PublishError(
          'hub_token_refused',
          409,
          `Hugging Face refused your saved token (it may have been revoked or expired): save a new one in ${SETTINGS}.`,
        )
      : new PublishError('hub_unreachable', 503, 'Hugging Face did not answer: try again in a minute.')
  if (whoami.role === 'read')
    throw new PublishError(
      'hub_token_read_only',
      409,
      `Your saved Hugging Face token is read-only: publishing needs a token with write access. Create one on Hugging Face and save it in ${SETTINGS}.`,
    )
  const repo = input.repo.includes('/') ? input.repo : `${whoami.name}/${input.repo}`

  const busy = await prisma.hubPublication.findFirst({
    where: { runId: run.id, status: 'uploading', createdAt: { gte: new Date(Date.now() - STALE_UPLOAD_MS) } },
    select: { repo: true },
  })
  if (busy)
    throw new PublishError('publish_in_progress', 409, `This run is being published to ${busy.repo} now: wait until it is done.`)

  const row = await prisma.hubPublication.create({
    data: { runId: run.id, userId: input.userId, repo, private: input.private, step: file.step, status: 'uploading' },
    select: PUBLICATION_SELECT,
  })
  const done = upload({
    publicationId: row.id,
    token,
    repo,
    private: input.private,
    fileKey: file.key,
    step: file.step,
    run,
    timeoutMs,
  })
  return { publication: toPublication(row), done }
}

type UploadJob = {
  publicationId: string
  token: string
  repo: string
  private: boolean
  fileKey: string
  step: number | null
  timeoutMs: number
  run: RunForPublishing & { training: { name: string; triggerWord: string; baseModel: string; config: string } }
}

/** The samples the card shows: those of the published checkpoint's step, else the run's final ones. */
async function cardSamples(run: RunForPublishing, step: number | null) {
  const prompts = parseSamples(run).map((s) => s.prompt)
  const fromRows =
    step !== null
      ? (
          await prisma.runSample.findMany({
            where: { runId: run.id, step },
            orderBy: { prompt: 'asc' },
            take: MAX_CARD_SAMPLES,
            select: { key: true, prompt: true },
          })
        ).map((s) => ({ key: s.key, prompt: prompts[s.prompt] ?? null }))
      : []
  const samples = fromRows.length ? fromRows : uploadedSamples(run).slice(0, MAX_CARD_SAMPLES)
  return samples
    .filter((s) => s.key.startsWith(runKeyPrefix(run.id)))
    .map((s, i) => ({
      key: s.key,
      prompt: s.prompt,
      path: `images/sample-${i + 1}${/\.(png|webp|jpe?g)$/i.exec(s.key)?.[0]?.toLowerCase() ?? '.jpg'}`,
    }))
}

/** Never rejects: every ending is written to the row. */
async function upload(job: UploadJob): Promise<void> {
  const hubUrl = getEnv().HF_ENDPOINT.replace(/\/+$/, '')
  const signal = AbortSignal.timeout(job.timeoutMs)
  const repoDesignation = { type: 'model' as const, name: job.repo }
  let phase: 'create' | 'commit' = 'create'
  try {
    const storage = await getStorage()
    const lora = await StorageBlob.create(storage, job.fileKey)
    if (!lora) throw new PublishError('missing', 409, 'The LoRA file of this run is missing from storage.')
    const samples = await cardSamples(job.run, job.step)
    const sampleBlobs = (
      await Promise.all(samples.map(async (s) => ({ ...s, blob: await StorageBlob.create(storage, s.key) })))
    ).filter((s): s is typeof s & { blob: StorageBlob } => s.blob !== null)
    const { training } = job.run
    const fileName = `${jobName(training.name)}.safetensors`
    const parsed = parseConfigText(training.config)
    const card = modelCard({
      repo: job.repo,
      trainingName: training.name,
      triggerWord: training.triggerWord,
      model: parseBaseModel(training.baseModel),
      knobs: parsed.success ? readKnobs(parsed.config) : {},
      fileName,
      step: job.step,
      samples: sampleBlobs.map((s): CardSample => ({ path: s.path, prompt: s.prompt })),
      appUrl: getEnv().APP_URL,
    })

    try {
      await createRepo({
        repo: repoDesignation,
        accessToken: job.token,
        hubUrl,
        private: job.private,
        fetch: (url, init) => fetch(url, { ...init, signal }),
      })
    } catch (error) {
      // 409: the repository exists and is the token's to write (someone else's namespace is a 403):
      // the commit below adds to it, and it keeps the visibility it has.
      if (!(error instanceof HubApiError && error.statusCode === 409)) throw error
    }
    phase = 'commit'
    const operations: CommitOperation[] = [
      { operation: 'addOrUpdate', path: 'README.md', content: new Blob([card], { type: 'text/markdown' }) },
      { operation: 'addOrUpdate', path: fileName, content: lora },
      ...sampleBlobs.map((s): CommitOperation => ({ operation: 'addOrUpdate', path: s.path, content: s.blob })),
    ]
    const result = await commit({
      repo: repoDesignation,
      accessToken: job.token,
      hubUrl,
      title: job.step === null ? `Publish ${fileName} from Trainyard` : `Publish ${fileName} (step ${job.step}) from Trainyard`,
      operations,
      // The LFS "basic" transfer: what the local stand-in speaks and the tests cover; the Hub still
      // accepts it, and the xet protocol would add a WebAssembly chunker to a small upload.
      useXet: false,
      abortSignal: signal,
    })
    await prisma.hubPublication.update({
      where: { id: job.publicationId },
      data: { status: 'published', url: result?.commit.url ?? repoUrl(job.repo), error: null, finishedAt: new Date() },
    })
  } catch (error) {
    const message = failureText(error, job.repo, phase).replaceAll(job.token, 'hf_…')
    await prisma.hubPublication
      .update({ where: { id: job.publicationId }, data: { status: 'failed', error: message, finishedAt: new Date() } })
      .catch((e: unknown) => console.error('hub: could not record a failed publication', e instanceof Error ? e.message : e))
  }
}

/** The Hub's answer as the person should read it. */
function failureText(error: unknown, repo: string, phase: 'create' | 'commit'): string {
  if (error instanceof PublishError) return error.message
  if (error instanceof HubApiError) {
    switch (error.statusCode) {
      case 401:
        return `Hugging Face refused your saved token (it may have been revoked or expired): save a new one in ${SETTINGS}.`
      case 403:
        return phase === 'create'
          ? `Hugging Face refused to create ${repo}: the name is in a namespace your account may not write to (another account’s, or an organisation you are not a writer of), or the token is read-only.`
          : `Hugging Face refused to write to ${repo}: it belongs to another account, or your token may not write to it.`
      case 404:
        return `Hugging Face has no repository ${repo} (was it deleted during the upload?): publish again.`
      case 429:
        return 'Hugging Face asked to slow down (too many requests): publish again in a few minutes.'
      default: {
        if (error.statusCode >= 500)
          return `Hugging Face failed while publishing (HTTP ${error.statusCode}): publish again in a few minutes.`
        // The library appends the URL and request id: the Hub's own sentence is enough.
        const said = error.message.split('. URL: ')[0]?.slice(0, 300) ?? ''
        return `Hugging Face refused the upload (HTTP ${error.statusCode})${said ? `: ${said}` : ''}.`
      }
    }
  }
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
    return 'Hugging Face did not answer in time: publish again later.'
  if (error instanceof TypeError && /fetch failed/i.test(error.message))
    return 'Hugging Face could not be reached: publish again in a few minutes.'
  console.error('hub: publishing failed', error instanceof Error ? error.message : error)
  return 'Publishing failed on our side; the server log has the details. Publish again.'
}
