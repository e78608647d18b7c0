// A local stand-in for GitHub's OAuth web flow and the two API calls the app makes, so the real
// remix-auth-github strategy runs end to end without the internet (the house rule: every outside
// service has a local stand-in).
//
//   GET  /login/oauth/authorize     a page "Sign in to GitHub (local stand-in)": type a login, name
//                                   and email, tick "verified", press Authorize or Cancel
//   POST /login/oauth/authorize     the page's form: redirects to redirect_uri with code + state,
//                                   or with error=access_denied + state
//   POST /login/oauth/access_token  code → token; client credentials by Basic auth or in the body,
//                                   form or JSON body; JSON answer when Accept: application/json
//   GET  /api/user, /api/user/emails   with Authorization: Bearer <token> (or "token <token>")
//   GET  /healthz
//
// Like GitHub, the user id is a number that stays the same for a login (here a hash of it, so the
// same "account" logs in twice as the same person), a bad code is answered with 200 and an error
// body, and API requests without a User-Agent are refused.
//
// Run it: `npx tsx tests/fake-github/server.ts` (FAKE_GITHUB_PORT, default 3918), or start it from
// a test with startFakeGitHub({ port: 0 }).
import crypto from 'node:crypto'
import http from 'node:http'
import path from 'node:path'
import url from 'node:url'

/** The app's test configuration uses these (see playwright.config.ts). */
export const FAKE_GITHUB_CLIENT_ID = 'e2e-client-id'
export const FAKE_GITHUB_CLIENT_SECRET = 'e2e-client-secret'

const CODE_VALID_MS = 10 * 60 * 1000
const MAX_BODY_BYTES = 64 * 1024

type Account = { id: number; login: string; name: string | null; email: string | null; verified: boolean }
type PendingCode = { account: Account; clientId: string; redirectUri: string; scope: string; expiresAt: number }

export type FakeGitHub = {
  /** e.g. http://127.0.0.1:41234 — the app's GITHUB_OAUTH_URL; the API is under `${url}/api`. */
  url: string
  apiUrl: string
  port: number
  clientId: string
  clientSecret: string
  close: () => Promise<void>
}

/** GitHub's numeric id for a login: stable, and the same whatever the case of the login. */
export function fakeGitHubId(login: string) {
  const hash = crypto.createHash('sha256').update(login.trim().toLowerCase()).digest()
  // 31 bits: a positive number well inside JavaScript's safe integers, like GitHub's ids.
  return hash.readUInt32BE(0) & 0x7fffffff
}

export async function startFakeGitHub({
  port = 0,
  host = '127.0.0.1',
  clientId = FAKE_GITHUB_CLIENT_ID,
  clientSecret = FAKE_GITHUB_CLIENT_SECRET,
}: { port?: number; host?: string; clientId?: string; clientSecret?: string } = {}): Promise<FakeGitHub> {
  const codes = new Map<string, PendingCode>()
  const tokens = new Map<string, Account>()

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // A bug in the stand-in: say so loudly to whoever runs it, answer 500.
      console.warn('[fake-github]', error)
      if (!res.headersSent) send(res, 500, 'text/plain', 'fake GitHub error')
    })
  })

  async function handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const reqUrl = new URL(req.url ?? '/', 'http://fake-github')
    const route = `${req.method} ${reqUrl.pathname.replace(/\/+$/, '') || '/'}`
    switch (route) {
      case 'GET /healthz':
        return send(res, 200, 'text/plain', 'ok')
      case 'GET /login/oauth/authorize':
        return showAuthorizePage(res, Object.fromEntries(reqUrl.searchParams))
      case 'POST /login/oauth/authorize':
        return decide(res, await readBody(req))
      case 'POST /login/oauth/access_token':
        return exchangeCode(req, res, await readBody(req))
      case 'GET /api/user':
        return withAccount(req, res, (account) =>
          sendJson(res, 200, {
            login: account.login,
            id: account.id,
            node_id: `U_fake${account.id}`,
            avatar_url: '',
            type: 'User',
            name: account.name,
            // Most people keep their address private; the app must ask /user/emails.
            email: null,
          }),
        )
      case 'GET /api/user/emails':
        return withAccount(req, res, (account) => sendJson(res, 200, emailsOf(account)))
      default:
        return sendJson(res, 404, { message: 'Not Found' })
    }
  }

  function showAuthorizePage(res: http.ServerResponse, params: Record<string, string>, error?: string) {
    if (params.client_id !== clientId) {
      return send(
        res,
        404,
        'text/html',
        page('Unknown application', `<p>No application has the client id “${escapeHtml(params.client_id ?? '')}”.</p>`),
      )
    }
    if (!isHttpUrl(params.redirect_uri)) {
      return send(res, 400, 'text/html', page('Bad redirect', '<p>The redirect_uri is missing or not an http(s) URL.</p>'))
    }
    const hidden = ['client_id', 'redirect_uri', 'state', 'scope']
      .map((name) => `<input type="hidden" name="${name}" value="${escapeHtml(params[name] ?? '')}">`)
      .join('')
    const value = (name: string) => escapeHtml(params[name] ?? '')
    const body = `
      <p>This page stands in for github.com. Whatever you type here is the GitHub account the app will see.</p>
      <p>The application asks for: <code>${escapeHtml(params.scope || '(no scope)')}</code></p>
      ${error ? `<p role="alert" class="error">${escapeHtml(error)}</p>` : ''}
      <form method="POST" action="/login/oauth/authorize">
        ${hidden}
        <label for="login">GitHub login</label>
        <input id="login" name="login" autocomplete="off" value="${value('login')}">
        <label for="name">Name</label>
        <input id="name" name="name" autocomplete="off" value="${value('name')}">
        <label for="email">Email</label>
        <input id="email" name="email" type="email" autocomplete="off" value="${value('email')}">
        <label class="check"><input type="checkbox" name="verified" ${params.verified === 'off' ? '' : 'checked'}> Verified email</label>
        <div class="buttons">
          <button type="submit" name="decision" value="authorize">Authorize</button>
          <button type="submit" name="decision" value="cancel" formnovalidate>Cancel</button>
        </div>
      </form>`
    return send(res, error ? 400 : 200, 'text/html', page('Sign in to GitHub (local stand-in)', body))
  }

  function decide(res: http.ServerResponse, form: Record<string, string>) {
    if (form.client_id !== clientId || !isHttpUrl(form.redirect_uri)) return showAuthorizePage(res, form)
    const target = new URL(form.redirect_uri)
    if (form.decision === 'cancel') {
      target.searchParams.set('error', 'access_denied')
      target.searchParams.set('error_description', 'The user has denied your application access.')
      if (form.state) target.searchParams.set('state', form.state)
      return redirect(res, target)
    }
    const login = (form.login ?? '').trim()
    if (!/^[a-z\d](?:[a-z\d-]{0,38})$/i.test(login)) {
      return showAuthorizePage(
        res,
        { ...form, verified: form.verified ? 'on' : 'off' },
        'Enter a GitHub login: letters, digits and dashes.',
      )
    }
    const account: Account = {
      id: fakeGitHubId(login),
      login,
      name: form.name?.trim() || null,
      email: form.email?.trim() || null,
      verified: Boolean(form.verified),
    }
    const code = crypto.randomBytes(10).toString('hex')
    codes.set(code, {
      account,
      clientId,
      redirectUri: form.redirect_uri,
      scope: form.scope ?? '',
      expiresAt: Date.now() + CODE_VALID_MS,
    })
    target.searchParams.set('code', code)
    if (form.state) target.searchParams.set('state', form.state)
    return redirect(res, target)
  }

  function exchangeCode(req: http.IncomingMessage, res: http.ServerResponse, body: Record<string, string>) {
    const wantsJson = (req.headers.accept ?? '').includes('application/json')
    // GitHub answers OAuth errors with 200 and an error body.
    const answer = (data: Record<string, string>) =>
      wantsJson
        ? sendJson(res, 200, data)
        : send(res, 200, 'application/x-www-form-urlencoded', new URLSearchParams(data).toString())
    const basic = parseBasicAuth(req.headers.authorization)
    const id = basic?.id ?? body.client_id
    const secret = basic?.secret ?? body.client_secret
    if (id !== clientId || secret !== clientSecret) {
      return answer({
        error: 'incorrect_client_credentials',
        error_description: 'The client_id and/or client_secret passed are incorrect.',
      })
    }
    const pending = body.code ? codes.get(body.code) : undefined
    // A code works once, like GitHub's.
    if (body.code) codes.delete(body.code)
    if (!pending || pending.expiresAt < Date.now() || pending.clientId !== id) {
      return answer({ error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' })
    }
    if (body.redirect_uri && body.redirect_uri !== pending.redirectUri) {
      return answer({
        error: 'redirect_uri_mismatch',
        error_description: 'The redirect_uri does not match the one used to authorize.',
      })
    }
    const token = `gho_fake${crypto.randomBytes(16).toString('hex')}`
    tokens.set(token, pending.account)
    return answer({ access_token: token, token_type: 'bearer', scope: pending.scope.split(/[ ,]+/).filter(Boolean).join(',') })
  }

  function withAccount(req: http.IncomingMessage, res: http.ServerResponse, then: (account: Account) => void) {
    if (!req.headers['user-agent']) {
      return sendJson(res, 403, {
        message: 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header.',
      })
    }
    const token = /^(?:Bearer|token)\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1]
    const account = token ? tokens.get(token) : undefined
    if (!account) return sendJson(res, 401, { message: 'Requires authentication' })
    return then(account)
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('fake GitHub: no TCP address')
  const base = `http://${host}:${address.port}`
  return {
    url: base,
    apiUrl: `${base}/api`,
    port: address.port,
    clientId,
    clientSecret,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

function emailsOf(account: Account) {
  const emails: Array<{ email: string; primary: boolean; verified: boolean; visibility: string | null }> = []
  if (account.email) emails.push({ email: account.email, primary: true, verified: account.verified, visibility: 'private' })
  // Every GitHub account also has a verified no-reply address, never the primary one.
  emails.push({
    email: `${account.id}+${account.login}@users.noreply.github.com`,
    primary: false,
    verified: true,
    visibility: null,
  })
  return emails
}

async function readBody(req: http.IncomingMessage): Promise<Record<string, string>> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw new Error('body too large')
    chunks.push(chunk as Buffer)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if ((req.headers['content-type'] ?? '').includes('application/json')) {
    const parsed = JSON.parse(text || '{}') as Record<string, unknown>
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]))
  }
  return Object.fromEntries(new URLSearchParams(text))
}

function parseBasicAuth(header: string | undefined) {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '')
  if (!match) return null
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return null
  return { id: decoded.slice(0, colon), secret: decoded.slice(colon + 1) }
}

function isHttpUrl(value: string | undefined): value is string {
  if (!value) return false
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol)
  } catch {
    return false
  }
}

function send(res: http.ServerResponse, status: number, type: string, body: string) {
  res.writeHead(status, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' }).end(body)
}

function sendJson(res: http.ServerResponse, status: number, data: unknown) {
  send(res, status, 'application/json', JSON.stringify(data))
}

function redirect(res: http.ServerResponse, target: URL) {
  res.writeHead(302, { location: target.toString(), 'cache-control': 'no-store' }).end()
}

function escapeHtml(s: string) {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

function page(title: string, body: string) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; background: #f6f8fa; color: #1f2328; margin: 0; padding: 24px 16px; }
  main { max-width: 360px; margin: 0 auto; background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 16px 20px; }
  h1 { font-size: 20px; font-weight: 400; text-align: center; }
  label { display: block; font-weight: 600; margin-top: 12px; }
  input:not([type=checkbox]) { display: block; width: 100%; box-sizing: border-box; padding: 6px 8px; font: inherit; border: 1px solid #d0d7de; border-radius: 6px; }
  label.check { font-weight: 400; }
  .buttons { display: flex; gap: 8px; margin-top: 16px; }
  button { flex: 1; padding: 6px 12px; font: inherit; border-radius: 6px; border: 1px solid #d0d7de; background: #f6f8fa; cursor: pointer; }
  button[value=authorize] { background: #1f883d; border-color: #1a7f37; color: #fff; font-weight: 600; }
  .error { color: #d1242f; }
</style></head>
<body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`
}

// Run directly (Playwright's webServer, or by hand): listen on FAKE_GITHUB_PORT until stopped.
const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === url.fileURLToPath(import.meta.url)
if (isMain) {
  const fake = await startFakeGitHub({ port: Number(process.env.FAKE_GITHUB_PORT ?? 3918) })
  console.log(`Fake GitHub listening on ${fake.url} (API ${fake.apiUrl}, client id ${fake.clientId})`)
  const stop = () => void fake.close().then(() => process.exit(0))
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}
