// A local stand-in for the two Hugging Face Hub calls the app makes, so the real client code runs
// against HF_ENDPOINT without the internet:
//
//   GET /api/whoami-v2                 Bearer token → 200 { type: 'user', name } for a known token, 401 otherwise
//   GET /api/models/{repo}/auth-check  200 the token may read the repo, 401 no or unknown token (for a
//                                      gated repo), 403 gated and the token's account has not accepted
//                                      the license, 404 no such repo
//   GET /{repo}                        the model's page (where the license is accepted): a small HTML page
//   GET /healthz
//
// and the upload API @huggingface/hub's createRepo and commit call (read from its dist/index.js):
//
//   POST /api/repos/create                       { name, organization, type, visibility } → { url }; 409 when
//                                                it exists, 403 for a read-only token or another's namespace
//   POST /api/models/{repo}/preupload/{rev}      which files go through LFS (binary or over 10 MB) and which inline
//   POST /{repo}.git/info/lfs/objects/batch      the LFS batch: always the "basic" transfer (never xet), with a
//                                                PUT URL per object not stored yet
//   PUT  /lfs-objects/{oid}                      the object's bytes, refused unless their SHA-256 is the oid
//   POST /api/models/{repo}/commit/{rev}         the NDJSON commit (header, file, lfsFile, deletedFile) → { commitOid, commitUrl }
//   GET  /{repo}/resolve/main/{path}             a committed file (a private repository only with its owner's token)
//
// Committed files are kept in `repos`, so tests read the README and the LoRA's bytes back.
//
// Tokens and what their accounts accepted are fixed below (FAKE_HUB_TOKENS), so browser tests, which
// cannot reach the stand-in's memory, know them too. `down` makes every /api call answer 503, like a
// Hub having a bad day; `hang` makes them never answer.
//
// Run it: `npx tsx tests/fake-hub/server.ts` (FAKE_HUB_PORT, default 3920), or from a test with
// startFakeHub({ port: 0 }).
import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import path from 'node:path'
import url from 'node:url'

const GATED_REPOS = ['black-forest-labs/FLUX.1-dev', 'black-forest-labs/FLUX.1-schnell']
const OPEN_REPOS = ['stabilityai/stable-diffusion-xl-base-1.0', 'stable-diffusion-v1-5/stable-diffusion-v1-5']

/** Tokens in the shape the app accepts (hf_ and at least 20 letters and digits). */
export const FAKE_HUB_TOKENS = {
  /** Accepted every gated license. */
  accepted: 'hf_AcceptedAllLicenses0123456789',
  /** A real account that accepted none. */
  notAccepted: 'hf_NotAcceptedAnyLicense01234567',
  /** Well-formed, but the Hub knows no such token (revoked, mistyped). */
  unknown: 'hf_UnknownToTheHub0123456789abcd',
  /** A write token (may create and push repositories), of an account in the organisation `studio`. */
  writer: 'hf_WriteAccessToTheHub012345678',
} as const

type Account = { name: string; accepted: boolean; role: 'read' | 'write'; orgs: string[] }

const ACCOUNTS = new Map<string, Account>([
  [FAKE_HUB_TOKENS.accepted, { name: 'ada', accepted: true, role: 'read', orgs: [] }],
  [FAKE_HUB_TOKENS.notAccepted, { name: 'grace', accepted: false, role: 'read', orgs: [] }],
  [FAKE_HUB_TOKENS.writer, { name: 'linus', accepted: true, role: 'write', orgs: ['studio'] }],
])

/** A repository as stored: its files after the newest commit. */
export type FakeRepo = {
  owner: string
  private: boolean
  files: Map<string, Buffer>
  commits: { oid: string; title: string }[]
}

/** The most bytes one request may send (a test LoRA is small; a runaway client is not). */
const MAX_BODY_BYTES = 256 * 1024 * 1024

export type FakeHubRequest = { method: string; path: string; authorization: string | null }

export type FakeHub = {
  /** e.g. http://127.0.0.1:41234 — the app's HF_ENDPOINT */
  url: string
  port: number
  /** Every request, oldest first (the tests check that nothing was asked, or what was sent). */
  requests: FakeHubRequest[]
  /**
   * 'up' (default), 'down' (503 to every /api call and upload), 'hang' (never answers them), or
   * 'hang-writes' (answers reads, never answers a POST or PUT: a Hub that stalls mid-publish).
   */
  mode: 'up' | 'down' | 'hang' | 'hang-writes'
  /** Model repositories by "owner/name"; a test may add one (someone else's) before publishing. */
  repos: Map<string, FakeRepo>
  /** The transfers each LFS batch offered (the client must not ask for xet's). */
  lfsTransfers: string[][]
  close: () => Promise<void>
}

export async function startFakeHub({ port = 0, host = '127.0.0.1' }: { port?: number; host?: string } = {}): Promise<FakeHub> {
  const hanging = new Set<http.ServerResponse>()
  const hub: FakeHub = {
    url: '',
    port: 0,
    requests: [],
    mode: 'up',
    repos: new Map(),
    lfsTransfers: [],
    close: () =>
      new Promise((resolve) => {
        for (const res of hanging) res.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }

  /** LFS objects by SHA-256, uploaded but maybe not committed yet. */
  const lfsObjects = new Map<string, Buffer>()

  const server = http.createServer((req, res) => {
    const reqUrl = new URL(req.url ?? '/', 'http://fake-hub')
    const pathname = reqUrl.pathname
    hub.requests.push({ method: req.method ?? 'GET', path: pathname, authorization: req.headers.authorization ?? null })
    if (pathname === '/healthz') return send(res, 200, 'ok')
    if (pathname.startsWith('/api/') || req.method !== 'GET') {
      if (hub.mode === 'down') return send(res, 503, { error: 'Service Unavailable' })
      if (hub.mode === 'hang' || (hub.mode === 'hang-writes' && req.method !== 'GET')) {
        hanging.add(res)
        return
      }
    }
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? null
    const account = bearer ? ACCOUNTS.get(bearer) : undefined

    if (req.method === 'POST' || req.method === 'PUT') {
      readBody(req).then(
        (body) => {
          try {
            handleUpload(req.method!, pathname, body, account ?? null, res)
          } catch (error) {
            send(res, 400, { error: error instanceof Error ? error.message : 'Bad request' })
          }
        },
        () => send(res, 413, { error: 'Request body too large' }),
      )
      return
    }
    if (req.method !== 'GET') return send(res, 405, { error: 'Method not allowed' })

    if (pathname === '/api/whoami-v2') {
      if (!account) return send(res, 401, { error: 'Invalid credentials in Authorization header' })
      return send(res, 200, {
        type: 'user',
        name: account.name,
        orgs: account.orgs.map((name) => ({ name })),
        auth: { type: 'access_token', accessToken: { role: account.role } },
      })
    }
    const check = /^\/api\/models\/(.+)\/auth-check$/.exec(pathname)
    if (check) {
      const repo = check[1]!
      if (!GATED_REPOS.includes(repo) && !OPEN_REPOS.includes(repo)) return send(res, 404, { error: 'Repository not found' })
      if (OPEN_REPOS.includes(repo)) return send(res, 200, {})
      // As the Hub: a gated repo asked anonymously or with a bad token is a 401; a good token whose
      // account has not accepted the license, a 403.
      if (!account) return send(res, 401, { error: 'Access to this model is restricted. You must be authenticated.' })
      if (!account.accepted)
        return send(res, 403, { error: `Access to model ${repo} is restricted and you are not in the authorized list.` })
      return send(res, 200, {})
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/main\/(.+)$/.exec(pathname)
    if (resolve) {
      // A committed file, as the Hub serves it; a private repository only to its owner (or organisation).
      const stored = hub.repos.get(resolve[1]!)
      const readable =
        stored && (!stored.private || (account && (account.name === stored.owner || account.orgs.includes(stored.owner))))
      const file = readable ? stored.files.get(decodeURIComponent(resolve[2]!)) : undefined
      if (!file) return send(res, 404, { error: 'Entry not found' })
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': file.length })
      return res.end(file)
    }
    const repo = pathname.slice(1)
    if (GATED_REPOS.includes(repo) || OPEN_REPOS.includes(repo) || hub.repos.has(repo)) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' })
      return res.end(
        `<!doctype html><title>${escapeHtml(repo)}</title><h1>${escapeHtml(repo)} (local Hugging Face stand-in)</h1>`,
      )
    }
    return send(res, 404, { error: 'Not found' })
  })

  /** May this account push to this repository? As the Hub: a write token, and its own or its organisation's. */
  function writeRefusal(account: Account | null, owner: string): [number, string] | null {
    if (!account) return [401, 'Invalid credentials in Authorization header']
    if (account.role !== 'write' || (owner !== account.name && !account.orgs.includes(owner)))
      return [403, `You don't have the rights to create a model under the namespace "${owner}"`]
    return null
  }

  function handleUpload(method: string, pathname: string, body: Buffer, account: Account | null, res: http.ServerResponse) {
    if (method === 'POST' && pathname === '/api/repos/create') {
      const input = JSON.parse(body.toString('utf8')) as {
        name?: string
        organization?: string
        type?: string
        visibility?: string
      }
      if (input.type !== 'model' || !input.name) return send(res, 400, { error: 'Only model repositories, with a name' })
      const owner = input.organization ?? account?.name ?? ''
      const refusal = writeRefusal(account, owner)
      if (refusal) return send(res, refusal[0], { error: refusal[1] })
      const id = `${owner}/${input.name}`
      if (hub.repos.has(id)) return send(res, 409, { error: 'You already created this model repo', url: `${hub.url}/${id}` })
      hub.repos.set(id, { owner, private: input.visibility !== 'public', files: new Map(), commits: [] })
      return send(res, 200, { url: `${hub.url}/${id}`, name: id, id: randomBytes(12).toString('hex') })
    }
    const put = /^\/lfs-objects\/([0-9a-f]{64})$/.exec(pathname)
    if (method === 'PUT' && put) {
      const oid = put[1]!
      if (createHash('sha256').update(body).digest('hex') !== oid)
        return send(res, 400, { error: 'The content does not match its oid' })
      lfsObjects.set(oid, body)
      res.writeHead(200, { ETag: `"${oid}"` })
      return res.end()
    }
    const batch = /^\/(.+)\.git\/info\/lfs\/objects\/batch$/.exec(pathname)
    if (method === 'POST' && batch) {
      const repo = hub.repos.get(batch[1]!)
      if (!repo) return send(res, 404, { error: 'Repository not found' })
      const refusal = writeRefusal(account, repo.owner)
      if (refusal) return send(res, refusal[0], { error: refusal[1] })
      const input = JSON.parse(body.toString('utf8')) as { transfers?: string[]; objects: { oid: string; size: number }[] }
      hub.lfsTransfers.push(input.transfers ?? [])
      return send(res, 200, {
        transfer: 'basic',
        objects: input.objects.map(({ oid, size }) => ({
          oid,
          size,
          ...(lfsObjects.has(oid) ? {} : { actions: { upload: { href: `${hub.url}/lfs-objects/${oid}` } } }),
        })),
      })
    }
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/(preupload|commit)\/([^/]+)$/.exec(pathname)
    if (method === 'POST' && api) {
      const [, id, what] = api as unknown as [string, string, 'preupload' | 'commit']
      const repo = hub.repos.get(id)
      if (!repo) return send(res, 404, { error: 'Repository not found' })
      const refusal = writeRefusal(account, repo.owner)
      if (refusal) return send(res, refusal[0], { error: refusal[1] })
      if (what === 'preupload') {
        const input = JSON.parse(body.toString('utf8')) as { files: { path: string; size: number; sample: string }[] }
        return send(res, 200, {
          files: input.files.map((f) => ({
            path: f.path,
            uploadMode: isText(Buffer.from(f.sample, 'base64')) && f.size < 10_000_000 ? 'regular' : 'lfs',
          })),
        })
      }
      const lines = body
        .toString('utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { key: string; value: Record<string, unknown> })
      const header = lines.find((l) => l.key === 'header')
      if (!header) return send(res, 400, { error: 'The commit has no header' })
      const files = new Map(repo.files)
      for (const { key, value } of lines) {
        if (key === 'file') files.set(String(value.path), Buffer.from(String(value.content), 'base64'))
        else if (key === 'lfsFile') {
          const bytes = lfsObjects.get(String(value.oid))
          if (!bytes) return send(res, 422, { error: `LFS object ${String(value.oid)} was never uploaded` })
          files.set(String(value.path), bytes)
        } else if (key === 'deletedFile') files.delete(String(value.path))
      }
      repo.files = files
      const oid = randomBytes(20).toString('hex')
      repo.commits.push({ oid, title: String(header.value.summary ?? '') })
      return send(res, 200, { success: true, commitOid: oid, commitUrl: `${hub.url}/${id}/commit/${oid}` })
    }
    return send(res, 404, { error: 'Not found' })
  }

  await new Promise<void>((resolve) => server.listen(port, host, resolve))
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('fake Hub: no port')
  hub.port = address.port
  hub.url = `http://${host}:${address.port}`
  return hub
}

function readBody(req: http.IncomingMessage) {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        req.destroy()
        reject(new Error('too large'))
      } else chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

/** As the Hub's preupload: a sample with no NUL that decodes as UTF-8 is text. */
function isText(sample: Buffer) {
  return !sample.includes(0) && !new TextDecoder('utf-8', { fatal: false }).decode(sample).includes('\ufffd')
}

const escapeHtml = (text: string) => text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`)

function send(res: http.ServerResponse, status: number, body: unknown) {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  res.writeHead(status, { 'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json' })
  res.end(text)
}

// Run alone: `npx tsx tests/fake-hub/server.ts`.
if (process.argv[1] && path.resolve(process.argv[1]) === url.fileURLToPath(import.meta.url)) {
  const hub = await startFakeHub({ port: Number(process.env.FAKE_HUB_PORT ?? 3920) })
  console.log(`Fake Hugging Face Hub listening on ${hub.url}`)
  const stop = () => void hub.close().then(() => process.exit(0))
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}
