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
// Tokens and what their accounts accepted are fixed below (FAKE_HUB_TOKENS), so browser tests, which
// cannot reach the stand-in's memory, know them too. `down` makes every /api call answer 503, like a
// Hub having a bad day; `hang` makes them never answer.
//
// Run it: `npx tsx tests/fake-hub/server.ts` (FAKE_HUB_PORT, default 3920), or from a test with
// startFakeHub({ port: 0 }).
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
} as const

const ACCOUNTS = new Map<string, { name: string; accepted: boolean }>([
  [FAKE_HUB_TOKENS.accepted, { name: 'ada', accepted: true }],
  [FAKE_HUB_TOKENS.notAccepted, { name: 'grace', accepted: false }],
])

export type FakeHubRequest = { method: string; path: string; authorization: string | null }

export type FakeHub = {
  /** e.g. http://127.0.0.1:41234 — the app's HF_ENDPOINT */
  url: string
  port: number
  /** Every request, oldest first (the tests check that nothing was asked, or what was sent). */
  requests: FakeHubRequest[]
  /** 'up' (default), 'down' (503 to every /api call) or 'hang' (never answers /api calls). */
  mode: 'up' | 'down' | 'hang'
  close: () => Promise<void>
}

export async function startFakeHub({ port = 0, host = '127.0.0.1' }: { port?: number; host?: string } = {}): Promise<FakeHub> {
  const hanging = new Set<http.ServerResponse>()
  const hub: FakeHub = {
    url: '',
    port: 0,
    requests: [],
    mode: 'up',
    close: () =>
      new Promise((resolve) => {
        for (const res of hanging) res.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }

  const server = http.createServer((req, res) => {
    const reqUrl = new URL(req.url ?? '/', 'http://fake-hub')
    const pathname = reqUrl.pathname
    hub.requests.push({ method: req.method ?? 'GET', path: pathname, authorization: req.headers.authorization ?? null })
    if (req.method !== 'GET') return send(res, 405, { error: 'Method not allowed' })
    if (pathname === '/healthz') return send(res, 200, 'ok')
    if (pathname.startsWith('/api/')) {
      if (hub.mode === 'down') return send(res, 503, { error: 'Service Unavailable' })
      if (hub.mode === 'hang') {
        hanging.add(res)
        return
      }
    }
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? null
    const account = bearer ? ACCOUNTS.get(bearer) : undefined

    if (pathname === '/api/whoami-v2') {
      if (!account) return send(res, 401, { error: 'Invalid credentials in Authorization header' })
      return send(res, 200, { type: 'user', name: account.name, auth: { type: 'access_token', accessToken: { role: 'read' } } })
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
    const repo = pathname.slice(1)
    if (GATED_REPOS.includes(repo) || OPEN_REPOS.includes(repo)) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' })
      return res.end(`<!doctype html><title>${repo}</title><h1>${repo} (local Hugging Face stand-in)</h1>`)
    }
    return send(res, 404, { error: 'Not found' })
  })

  await new Promise<void>((resolve) => server.listen(port, host, resolve))
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('fake Hub: no port')
  hub.port = address.port
  hub.url = `http://${host}:${address.port}`
  return hub
}

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
