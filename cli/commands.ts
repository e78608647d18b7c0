// One function per command. Each returns its exit code; errors are thrown and printed by main.ts.
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { type ReadableStream as WebReadableStream } from 'node:stream/web'
import { type Command, type GlobalFlags } from './args'
import { ApiClient, apiErrorFromText } from './client'
import { isInsecureRemote, normalizeUrl, resolveCredentials, writeConfig } from './config'
import { ApiError, CliFailure, EXIT, UsageError } from './errors'
import { followRun, outcomeOf } from './follow'
import { onInterrupt } from './interrupt'
import { type Io } from './io'
import { ask } from './prompt'
import { clean, cleanLine, formatBytes, formatDuration, formatUsd, table } from './text'
import {
  type DatasetCheck,
  type Estimate,
  type Me,
  type Page,
  type Run,
  type Training,
  type UploadAnswer,
  type UploadResult,
} from './types'

type Context = { io: Io; global: GlobalFlags; client: () => ApiClient }

const out = (io: Io, text: string) => io.stdout.write(`${text}\n`)
const note = (io: Io, text: string) => io.stderr.write(`${text}\n`)
const printJson = (io: Io, value: unknown) => out(io, JSON.stringify(value, null, 2))
const seg = encodeURIComponent

export function makeClient(io: Io, global: GlobalFlags) {
  const { url, token } = resolveCredentials(io.env, global)
  return new ApiClient({
    baseUrl: url,
    token,
    onRetry: ({ status, attempt, delayMs }) =>
      note(
        io,
        `${status ? `The server answered ${status}` : 'The server did not answer'}; trying again in ${(delayMs / 1000).toFixed(1)} s (attempt ${attempt + 1}).`,
      ),
  })
}

/** Reads every page up to `limit` items; bounded by the limit and by a page count, whatever the cursors do. */
async function collect<T>(client: ApiClient, apiPath: string, limit: number) {
  const items: T[] = []
  let cursor: string | undefined
  for (let page = 0; page < 100 && items.length < limit; page++) {
    const answer = await client.json<Page<T>>('GET', apiPath, { query: { limit: Math.min(100, limit - items.length), cursor } })
    items.push(...answer.data)
    if (!answer.nextCursor || answer.nextCursor === cursor) break
    cursor = answer.nextCursor
  }
  return items.slice(0, limit)
}

export async function login(ctx: Context, command: Extract<Command, { name: 'login' }>) {
  const { io } = ctx
  const rawUrl = command.url ?? (io.env.TRAINYARD_URL || undefined) ?? (await ask(io, 'Trainyard URL: ', { hidden: false }))
  const url = normalizeUrl(rawUrl)
  const token = (
    command.token ??
    (io.env.TRAINYARD_TOKEN || undefined) ??
    (await ask(io, 'API token: ', { hidden: true }))
  ).trim()
  if (!token) throw new UsageError('The token is empty.', 'login')
  if (isInsecureRemote(url)) note(io, `Warning: ${url} is plain http: the token travels unencrypted. Use https.`)
  const client = new ApiClient({ baseUrl: url, token })
  const me = await client.json<Me>('GET', '/me')
  const file = writeConfig(io.env, { url, token })
  if (ctx.global.json) printJson(io, { url, user: me, configFile: file })
  else
    out(
      io,
      `Logged in to ${url} as ${cleanLine(me.email)} (scopes: ${me.token.scopes.map(cleanLine).join(', ')}). Saved in ${file}.`,
    )
  return EXIT.ok
}

export async function whoami(ctx: Context) {
  const client = ctx.client()
  const me = await client.json<Me>('GET', '/me')
  if (ctx.global.json) printJson(ctx.io, { url: client.baseUrl, ...me })
  else
    out(
      ctx.io,
      `${cleanLine(me.email)}${me.name ? ` (${cleanLine(me.name)})` : ''} on ${client.baseUrl}; token scopes: ${me.token.scopes.map(cleanLine).join(', ')}`,
    )
  return EXIT.ok
}

export async function trainings(ctx: Context, command: Extract<Command, { name: 'trainings' }>) {
  const items = await collect<Training>(ctx.client(), '/trainings', command.limit)
  if (ctx.global.json) printJson(ctx.io, items)
  else if (!items.length) out(ctx.io, 'No trainings yet: create one with `trainyard create <folder> …`.')
  else
    out(
      ctx.io,
      table(
        ['ID', 'NAME', 'BASE MODEL', 'IMAGES', 'ACTIVE RUN'],
        items.map((t) => [t.id, t.name, t.baseModel, `${t.imageCount} (${t.captionedCount} captioned)`, t.activeRunId ?? '–']),
      ),
    )
  return EXIT.ok
}

export async function runs(ctx: Context, command: Extract<Command, { name: 'runs' }>) {
  const apiPath = command.trainingId ? `/trainings/${seg(command.trainingId)}/runs` : '/runs'
  const items = await collect<Run>(ctx.client(), apiPath, command.limit)
  if (ctx.global.json) printJson(ctx.io, items)
  else if (!items.length) out(ctx.io, 'No runs yet: start one with `trainyard start <trainingId>`.')
  else
    out(
      ctx.io,
      table(
        ['ID', 'TRAINING', 'STATUS', 'STEP', 'COST', 'CREATED'],
        items.map((r) => [
          r.id,
          r.trainingId,
          r.phase && r.phase !== r.status ? `${r.status} (${r.phase})` : r.status,
          r.totalSteps ? `${r.step ?? 0}/${r.totalSteps}` : '–',
          formatUsd(r.costUsd),
          r.createdAt,
        ]),
      ),
    )
  return EXIT.ok
}

export async function estimate(ctx: Context, command: Extract<Command, { name: 'estimate' }>) {
  const answer = await ctx.client().json<Estimate>('GET', `/trainings/${seg(command.trainingId)}/estimate`)
  if (ctx.global.json) printJson(ctx.io, answer)
  else {
    const machine = answer.machine ?? [answer.provider, answer.instanceType].filter(Boolean).join(' ')
    out(
      ctx.io,
      [
        machine ? `Machine: ${cleanLine(machine)}${answer.spot ? ' (spot)' : ''}` : null,
        answer.steps !== undefined ? `Steps:   ${answer.steps}` : null,
        `Time:    about ${formatDuration(answer.seconds)}`,
        `Cost:    about ${formatUsd(answer.costUsd)}${answer.pricePerHour !== undefined ? ` (${formatUsd(answer.pricePerHour)}/h)` : ''}`,
      ]
        .filter(Boolean)
        .join('\n'),
    )
  }
  return EXIT.ok
}

/** Starting a run another request with this key is still starting: asked again a few times, then said. */
const IN_PROGRESS_TRIES = 10
const IN_PROGRESS_WAIT_MS = 1000

export async function start(ctx: Context, command: Extract<Command, { name: 'start' }>) {
  const client = ctx.client()
  // One key for the whole command: every retry of this start (ours or the client's) is the same start.
  const key = command.idempotencyKey ?? randomUUID()
  const body = command.continueFrom ? { continueFrom: command.continueFrom } : {}
  let run: Run | null = null
  for (let attempt = 1; !run; attempt++) {
    try {
      run = await client.json<Run>('POST', `/trainings/${seg(command.trainingId)}/runs`, {
        json: body,
        headers: { 'idempotency-key': key },
      })
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 'idempotency_in_progress' && attempt < IN_PROGRESS_TRIES)) throw error
      await new Promise((resolve) => setTimeout(resolve, IN_PROGRESS_WAIT_MS))
    }
  }
  if (!command.follow) {
    if (ctx.global.json) printJson(ctx.io, run)
    else {
      const estimateText = run.estimate
        ? ` Estimate: about ${formatDuration(run.estimate.seconds)}, ${formatUsd(run.estimate.costUsd)}.`
        : ''
      out(ctx.io, `Started run ${run.id} (${cleanLine(run.status)}).${estimateText} Follow it: trainyard follow ${run.id}`)
    }
    return EXIT.ok
  }
  note(ctx.io, `Started run ${run.id}.`)
  return finish(ctx, await followRun(client, run.id, command, ctx.io))
}

function finish(ctx: Context, run: Run) {
  const { exitCode, message } = outcomeOf(run)
  if (ctx.global.json) printJson(ctx.io, run)
  if (exitCode === EXIT.ok) {
    if (!ctx.global.json) out(ctx.io, message)
  } else note(ctx.io, message)
  return exitCode
}

export async function follow(ctx: Context, command: Extract<Command, { name: 'follow' }>) {
  return finish(ctx, await followRun(ctx.client(), command.runId, command, ctx.io))
}

export async function cancel(ctx: Context, command: Extract<Command, { name: 'cancel' }>) {
  // Canceling twice is canceling once, so this POST may be retried.
  const run = await ctx
    .client()
    .json<Run>('POST', `/runs/${seg(command.runId)}/cancel`, { json: { keep: !command.discard }, retry: 'safe' })
  if (ctx.global.json) printJson(ctx.io, run)
  else
    out(
      ctx.io,
      `Run ${run.id}: ${cleanLine(run.status)}${command.discard ? '; nothing is kept' : '; its newest checkpoint is kept'}.`,
    )
  return EXIT.ok
}

export async function download(ctx: Context, command: Extract<Command, { name: 'download' }>) {
  const { io } = ctx
  const defaultName =
    command.step === undefined ? `${command.runId}.safetensors` : `${command.runId}-step-${command.step}.safetensors`
  let target = path.resolve(io.cwd, command.output ?? '.')
  // "-o models/" names a folder, made if missing; an existing folder is one with or without the slash.
  const isFolder = /[\\/]$/.test(command.output ?? '/') || (fs.existsSync(target) && fs.statSync(target).isDirectory())
  if (isFolder) target = path.join(target, defaultName)
  // Checked before anything is asked of the server, and again when the file is put in place.
  if (fs.existsSync(target) && !command.force) {
    throw new UsageError(`${target} exists: choose another -o, or pass --force to replace it.`, 'download')
  }
  const client = ctx.client()
  const answer = await client.request('GET', `/runs/${seg(command.runId)}/download`, {
    query: { step: command.step },
    redirect: 'manual',
  })
  let response = answer
  if (answer.status >= 300 && answer.status < 400) {
    const location = answer.headers.get('location')
    if (!location) throw new CliFailure(`The server answered ${answer.status} without a Location to download from.`, EXIT.failed)
    const storageUrl = new URL(location, client.url(`/runs/${seg(command.runId)}/download`))
    if (storageUrl.protocol !== 'https:' && storageUrl.protocol !== 'http:') {
      throw new CliFailure(`The download link is not http(s): ${clean(storageUrl.protocol)}`, EXIT.failed)
    }
    // A signed URL carries its own authority: the token is not sent to storage (it may be another host).
    response = await client.fetchWithRetry(storageUrl.toString(), { redirect: 'follow' }, 'safe')
    if (!response.ok) {
      throw new CliFailure(
        `The storage answered HTTP ${response.status} for the download link (it lives a short while): run the command again.`,
        EXIT.failed,
      )
    }
  } else if (!answer.ok) {
    throw apiErrorFromText(answer.status, answer.statusText, await answer.text())
  }
  if (!response.body) throw new CliFailure('The download came without a body.', EXIT.failed)
  const expected = Number(response.headers.get('content-length') ?? NaN)
  fs.mkdirSync(path.dirname(target), { recursive: true })
  const partial = `${target}.${process.pid}.part`
  let bytes = 0
  const forget = onInterrupt(() => fs.rmSync(partial, { force: true }))
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length
      callback(null, chunk)
    },
  })
  try {
    await pipeline(
      Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
      counter,
      fs.createWriteStream(partial, { flags: 'wx' }),
    )
    if (Number.isFinite(expected) && bytes !== expected) {
      throw new CliFailure(`The download stopped at ${bytes} of ${expected} bytes: run the command again.`, EXIT.failed)
    }
    if (command.force) fs.renameSync(partial, target)
    else {
      // link() refuses an existing name: a file that appeared meanwhile is not replaced.
      try {
        fs.linkSync(partial, target)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new UsageError(`${target} appeared while downloading: choose another -o, or pass --force.`, 'download')
        }
        throw error
      }
      fs.unlinkSync(partial)
    }
  } finally {
    forget()
    fs.rmSync(partial, { force: true })
  }
  if (ctx.global.json) printJson(io, { runId: command.runId, step: command.step ?? null, path: target, bytes })
  else out(io, `Saved ${target}: ${formatBytes(bytes)}.`)
  return EXIT.ok
}

const UPLOAD_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.zip': 'application/zip',
}
/** A caption is a sentence or a paragraph; a larger .txt is not one (the server would refuse it anyway). */
const MAX_CAPTION_BYTES = 64 * 1024

type LocalFile = { name: string; path: string; type: string; captionPath: string | null }

/** The folder's uploadable files, by name, each with its caption file when there is one. */
export function listFolder(folder: string) {
  let entries: fs.Dirent[]
  try {
    entries = fs.readdirSync(folder, { withFileTypes: true })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new UsageError(
      code === 'ENOENT'
        ? `No folder ${folder}.`
        : code === 'ENOTDIR'
          ? `${folder} is not a folder.`
          : `Cannot read ${folder}: ${code}`,
      'create',
    )
  }
  const names = new Set(entries.filter((e) => e.isFile()).map((e) => e.name))
  const files: LocalFile[] = []
  const captionsUsed = new Set<string>()
  for (const name of [...names].sort()) {
    if (name.startsWith('.')) continue
    const extension = path.extname(name).toLowerCase()
    const type = UPLOAD_TYPES[extension]
    if (!type) continue
    const captionName = `${name.slice(0, -extension.length)}.txt`
    const hasCaption = extension !== '.zip' && names.has(captionName)
    if (hasCaption) captionsUsed.add(captionName)
    files.push({ name, path: path.join(folder, name), type, captionPath: hasCaption ? path.join(folder, captionName) : null })
  }
  const orphans = [...names].filter((n) => n.toLowerCase().endsWith('.txt') && !captionsUsed.has(n)).sort()
  return { files, orphans }
}

type FileReport = { name: string; ok: boolean; imageId?: string; warnings?: string[]; error?: string; caption?: 'saved' | string }

function readCaption(file: LocalFile): { caption: string } | { error: string } {
  const stat = fs.statSync(file.captionPath!)
  if (stat.size > MAX_CAPTION_BYTES) return { error: `${path.basename(file.captionPath!)} is larger than 64 KiB: not a caption` }
  return { caption: fs.readFileSync(file.captionPath!, 'utf8').trim() }
}

/** Errors that end the whole command: the token, the training, or the server itself is the problem. */
function isFatal(error: ApiError) {
  return error.status === 401 || error.status === 403 || error.status === 404 || error.status >= 500
}

export async function create(ctx: Context, command: Extract<Command, { name: 'create' }>) {
  const { io } = ctx
  const folder = path.resolve(io.cwd, command.folder)
  const { files, orphans } = listFolder(folder)
  if (!files.length)
    throw new UsageError(`${folder} has no images (.jpg, .jpeg, .png, .webp or .zip): nothing was created.`, 'create')
  for (const orphan of orphans) note(io, `Skipped ${orphan}: no image of the same name beside it.`)

  const client = ctx.client()
  const training = await client.json<Training>('POST', '/trainings', {
    json: {
      name: command.trainingName,
      triggerWord: command.trigger,
      baseModel: command.baseModel,
      ...(command.preset ? { preset: command.preset } : {}),
    },
  })
  note(io, `Created training "${cleanLine(training.name)}" (${training.id}).`)
  const imagesPath = `/trainings/${seg(training.id)}/images`

  const reports: FileReport[] = []
  for (let first = 0; first < files.length; first += command.batchSize) {
    const batch = files.slice(first, first + command.batchSize)
    const form = new FormData()
    for (const file of batch) form.append('files', await fs.openAsBlob(file.path, { type: file.type }), file.name)
    const response = await client.request('POST', imagesPath, { body: form, raw: true })
    const text = await response.text()
    let answer: UploadAnswer | null = null
    try {
      answer = JSON.parse(text) as UploadAnswer
    } catch {
      answer = null
    }
    const results = Array.isArray(answer?.results) ? answer.results : null
    if (!results) {
      // The whole batch was refused (too large, a run active…): said for each file, and the next batch tries.
      const error = apiErrorFromText(response.status, response.statusText, text)
      if (isFatal(error)) throw error
      for (const file of batch) reports.push(printReport(io, { name: file.name, ok: false, error: error.message }))
      continue
    }
    if (answer?.error) note(io, clean(answer.error))
    for (const [index, result] of results.entries()) {
      const file = batch.find((f) => f.name === result.name) ?? (results.length === batch.length ? batch[index] : undefined)
      reports.push(printReport(io, await captionResult(client, imagesPath, result, file)))
    }
  }

  let check: DatasetCheck | null = null
  check = await client.json<DatasetCheck>('GET', `/trainings/${seg(training.id)}/dataset-check`)
  const uploaded = reports.filter((r) => r.ok).length
  const captioned = reports.filter((r) => r.caption === 'saved').length
  const problems = reports.filter((r) => !r.ok || (r.caption !== undefined && r.caption !== 'saved')).length
  if (ctx.global.json) printJson(io, { training, files: reports, datasetCheck: check })
  else {
    out(io, `Uploaded ${uploaded} of ${files.length} files, ${captioned} captioned, to training ${training.id}.`)
    out(io, describeCheck(check))
    if (check.ready) out(io, `Start it: trainyard start ${training.id} --follow`)
  }
  return problems ? EXIT.refused : EXIT.ok
}

async function captionResult(
  client: ApiClient,
  imagesPath: string,
  result: UploadResult,
  file: LocalFile | undefined,
): Promise<FileReport> {
  if (!result.ok) return { name: result.name, ok: false, error: result.error }
  const report: FileReport = { name: result.name, ok: true, imageId: result.image.id, warnings: result.warnings ?? [] }
  if (!file?.captionPath) return report
  const read = readCaption(file)
  if ('error' in read) return { ...report, caption: read.error }
  if (!read.caption) return report
  try {
    await client.json('PATCH', `${imagesPath}/${seg(result.image.id)}`, { json: { caption: read.caption } })
    return { ...report, caption: 'saved' }
  } catch (error) {
    if (error instanceof ApiError && !isFatal(error)) return { ...report, caption: `caption not saved: ${error.message}` }
    throw error
  }
}

function printReport(io: Io, report: FileReport) {
  const name = cleanLine(report.name)
  if (!report.ok) note(io, `✗ ${name}: ${cleanLine(report.error)}`)
  else {
    const caption = report.caption === 'saved' ? ' (captioned)' : report.caption ? ` (${cleanLine(report.caption)})` : ''
    note(io, `✓ ${name}${caption}`)
    for (const warning of report.warnings ?? []) note(io, `  ! ${cleanLine(warning)}`)
  }
  return report
}

function sentence(item: unknown) {
  if (typeof item === 'string') return cleanLine(item)
  if (item && typeof item === 'object') {
    // The page's check items are { title, detail }; other shapes carry a message.
    const record = item as Record<string, unknown>
    const text = (key: string) => (typeof record[key] === 'string' ? (record[key] as string) : null)
    const title = text('title')
    const detail = text('detail')
    if (title && detail) return cleanLine(`${title}: ${detail}`)
    const one = title ?? detail ?? text('message') ?? text('text')
    if (one) return cleanLine(one)
  }
  return cleanLine(JSON.stringify(item))
}

export function describeCheck(check: DatasetCheck) {
  const lines = [check.ready ? 'Dataset check: ready to train.' : 'Dataset check: not ready yet.']
  for (const blocker of check.blockers ?? []) lines.push(`  ✗ ${sentence(blocker)}`)
  for (const advice of check.advice ?? []) lines.push(`  · ${sentence(advice)}`)
  return lines.join('\n')
}
