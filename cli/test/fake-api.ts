// A throwaway stand-in of the /api/v1 contract for the command line's own tests: just enough of me,
// trainings, images, runs and downloads (with a separate "storage" path) on 127.0.0.1, recording what it
// was sent. The real API is tested by the app's own tests and tests/integration/cli.test.ts.
import http from 'node:http'
import { type AddressInfo } from 'node:net'
import busboy from 'busboy'

export const FAKE_TOKEN = 'ty_test_token_0123456789'
export const LORA_BYTES = Buffer.from('fake-safetensors-'.repeat(4096))

type FakeRun = { id: string; trainingId: string; polls: number; canceled: boolean }

export type FakeApi = {
  url: string
  /** Every request: method, path with query, and the Authorization header it carried. */
  requests: { method: string; path: string; authorization: string | undefined; idempotencyKey?: string }[]
  uploads: { trainingId: string; files: { field: string; name: string; type: string; bytes: number }[] }[]
  captions: Record<string, string>
  runs: FakeRun[]
  /** Answers queued per "METHOD /path" (without the query): each is used once, before the normal answer. */
  inject: (
    route: string,
    answer: { status: number; body?: string; headers?: Record<string, string>; afterHandling?: boolean },
  ) => void
  /** The run ends this way after `pollsToFinish` reads. */
  setRunEnding: (ending: { status: 'succeeded' | 'failed'; error?: string; pollsToFinish?: number }) => void
  close: () => Promise<void>
}

const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}
const apiError = (res: http.ServerResponse, status: number, code: string, message: string, fields?: Record<string, string[]>) =>
  json(res, status, { error: { code, message, ...(fields ? { fields } : {}) } })

async function readBody(req: http.IncomingMessage) {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

export async function startFakeApi(): Promise<FakeApi> {
  const requests: FakeApi['requests'] = []
  const uploads: FakeApi['uploads'] = []
  const captions: Record<string, string> = {}
  const runs: FakeRun[] = []
  const injected = new Map<string, Parameters<FakeApi['inject']>[1][]>()
  const byKey = new Map<string, { body: string; run: FakeRun }>()
  let ending: { status: 'succeeded' | 'failed'; error?: string; pollsToFinish: number } = {
    status: 'succeeded',
    pollsToFinish: 4,
  }
  let imageSeq = 0

  const runJson = (run: FakeRun) => {
    const total = 100
    const done = run.canceled || run.polls >= ending.pollsToFinish
    const status = run.canceled ? 'canceled' : done ? ending.status : run.polls === 0 ? 'queued' : 'training'
    const step = done ? total : Math.round((run.polls / ending.pollsToFinish) * total)
    return {
      id: run.id,
      trainingId: run.trainingId,
      status,
      phase: status === 'training' ? 'training' : null,
      phases: [],
      step: status === 'queued' ? null : step,
      totalSteps: status === 'queued' ? null : total,
      loss: status === 'queued' ? null : 0.1234,
      etaSeconds: done ? null : 30,
      costUsd: 0.01 * run.polls,
      gpuMinutes: run.polls,
      estimate: { seconds: 60, costUsd: 0.05 },
      error: done && status === 'failed' ? (ending.error ?? 'The trainer stopped') : null,
      errorKind: done && status === 'failed' ? 'trainer' : null,
      provider: 'local',
      instanceType: 'local',
      continuedFrom: null,
      createdAt: '2026-11-30T08:00:00.000Z',
      startedAt: '2026-11-30T08:00:00.000Z',
      finishedAt: done ? '2026-11-30T08:01:05.000Z' : null,
      loraReady: done && status === 'succeeded',
    }
  }

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x')
      const key = req.headers['idempotency-key'] as string | undefined
      requests.push({
        method: req.method ?? '',
        path: url.pathname + url.search,
        authorization: req.headers.authorization,
        idempotencyKey: key,
      })
      const route = `${req.method} ${url.pathname}`
      const queued = injected.get(route)?.shift()
      if (queued && !queued.afterHandling) {
        res.writeHead(queued.status, queued.headers ?? {})
        return res.end(queued.body ?? '')
      }

      if (url.pathname.startsWith('/storage/')) {
        if (url.searchParams.get('sig') !== 'ok') return apiError(res, 403, 'forbidden', 'Bad signature')
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(LORA_BYTES.length) })
        return res.end(LORA_BYTES)
      }
      if (req.headers.authorization !== `Bearer ${FAKE_TOKEN}`) {
        return apiError(res, 401, 'unauthorized', 'This token is not valid: it may be revoked or expired.')
      }
      let m: RegExpMatchArray | null
      const p = url.pathname.replace(/^\/api\/v1/, '')
      if (route === 'GET /api/v1/me') {
        return json(res, 200, { id: 'u1', email: 'ada@example.com', name: 'Ada', token: { id: 't1', scopes: ['read', 'write'] } })
      }
      if (route === 'GET /api/v1/trainings') {
        const all = Array.from({ length: 5 }, (_, i) => ({
          id: `tr${i}`,
          name: `Training ${i}`,
          triggerWord: 'ohwx',
          baseModel: 'flux-dev',
          imageCount: i,
          captionedCount: 0,
          activeRunId: null,
        }))
        const start = Number(url.searchParams.get('cursor') ?? 0)
        const limit = Number(url.searchParams.get('limit') ?? 20)
        const data = all.slice(start, start + Math.min(limit, 2))
        return json(res, 200, { data, nextCursor: start + data.length < all.length ? String(start + data.length) : null })
      }
      if (route === 'POST /api/v1/trainings') {
        const body = JSON.parse(await readBody(req)) as { name?: string; baseModel?: string }
        if (body.baseModel !== 'flux-dev') {
          return apiError(res, 422, 'validation_failed', 'The request was refused: see fields.', {
            baseModel: ['Choose a base model'],
          })
        }
        return json(
          res,
          201,
          { id: 'trnew', name: body.name, triggerWord: 'ohwx', baseModel: body.baseModel, imageCount: 0 },
          {
            location: '/api/v1/trainings/trnew',
          },
        )
      }
      if (req.method === 'POST' && (m = p.match(/^\/trainings\/([^/]+)\/images$/))) {
        const trainingId = m[1]!
        const files: FakeApi['uploads'][number]['files'] = []
        const results: unknown[] = []
        await new Promise<void>((resolve, reject) => {
          const parser = busboy({ headers: req.headers })
          parser.on('file', (field, stream, info) => {
            let bytes = 0
            stream.on('data', (chunk: Buffer) => (bytes += chunk.length))
            stream.on('end', () => {
              const name = info.filename ?? ''
              files.push({ field, name, type: info.mimeType, bytes })
              results.push(
                name.includes('bad')
                  ? { name, ok: false, error: 'This file is not an image we can read.' }
                  : { name, ok: true, image: { id: `img${++imageSeq}`, name }, warnings: [] },
              )
            })
          })
          parser.on('close', resolve)
          parser.on('error', reject)
          req.pipe(parser)
        })
        uploads.push({ trainingId, files })
        return json(res, 200, { results })
      }
      if (req.method === 'PATCH' && (m = p.match(/^\/trainings\/([^/]+)\/images\/([^/]+)$/))) {
        const body = JSON.parse(await readBody(req)) as { caption: string }
        if (body.caption.length > 100)
          return apiError(res, 422, 'validation_failed', 'The request was refused: see fields.', { caption: ['Too long'] })
        captions[m[2]!] = body.caption
        return json(res, 200, { id: m[2], caption: body.caption })
      }
      if (req.method === 'GET' && (m = p.match(/^\/trainings\/([^/]+)\/dataset-check$/))) {
        return json(res, 200, {
          ready: true,
          blockers: [],
          advice: [
            { id: 'resolution', level: 'advice', title: 'Smallest image: 64 × 48 px (a.jpg)', detail: 'More pixels help.' },
          ],
        })
      }
      if (req.method === 'GET' && (m = p.match(/^\/trainings\/([^/]+)\/estimate$/))) {
        return json(res, 200, {
          machine: 'g5.xlarge (NVIDIA A10G)',
          steps: 1000,
          seconds: 1800,
          costUsd: 0.5,
          pricePerHour: 1.006,
        })
      }
      if (req.method === 'POST' && (m = p.match(/^\/trainings\/([^/]+)\/runs$/))) {
        const body = await readBody(req)
        const previous = key ? byKey.get(key) : undefined
        if (previous && previous.body !== body)
          return apiError(res, 422, 'idempotency_key_reused', 'This key was used for another request.')
        const run = previous?.run ?? { id: `run${runs.length + 1}`, trainingId: m[1]!, polls: 0, canceled: false }
        if (!previous) {
          runs.push(run)
          if (key) byKey.set(key, { body, run })
        }
        if (queued?.afterHandling) {
          // The run was started, but the answer is lost on the way (a proxy's 502).
          res.writeHead(queued.status, queued.headers ?? {})
          return res.end(queued.body ?? '')
        }
        return json(res, 201, runJson(run))
      }
      if (req.method === 'GET' && (m = p.match(/^\/runs\/([^/]+)$/))) {
        const run = runs.find((r) => r.id === m![1])
        if (!run) return apiError(res, 404, 'not_found', 'Not found.')
        const answer = runJson(run)
        run.polls++
        return json(res, 200, answer)
      }
      if (req.method === 'POST' && (m = p.match(/^\/runs\/([^/]+)\/cancel$/))) {
        const run = runs.find((r) => r.id === m![1])
        if (!run) return apiError(res, 404, 'not_found', 'Not found.')
        run.canceled = true
        return json(res, 200, runJson(run))
      }
      if (req.method === 'GET' && (m = p.match(/^\/runs\/([^/]+)\/download$/))) {
        const run = runs.find((r) => r.id === m![1])
        if (!run) return apiError(res, 404, 'not_found', 'Not found.')
        res.writeHead(302, { location: `/storage/runs/${run.id}/lora.safetensors?sig=ok` })
        return res.end()
      }
      return apiError(res, 404, 'not_found', `No such API path: ${route}`)
    })().catch((error: Error) => {
      res.writeHead(500)
      res.end(String(error.stack))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    uploads,
    captions,
    runs,
    inject: (route, answer) => injected.set(route, [...(injected.get(route) ?? []), answer]),
    setRunEnding: (next) => (ending = { pollsToFinish: 4, ...next }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
