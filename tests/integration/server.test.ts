// The real Express + Remix server as a child process: environment refusal, security headers, the
// healthcheck and rate limiting of auth POSTs. Needs the production build (npm test builds first).
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { requireProductionBuild, startAppProcess, type AppProcess } from '../app-process'
import { repoRoot, tmpDir } from '../setup/paths'

const SECRET = 'integration-secret-0123456789'

/** The production server with this file's settings; `env` adds to them. */
function startServer(env: Record<string, string>, options?: Parameters<typeof startAppProcess>[1]) {
  return startAppProcess({ ...process.env, NODE_ENV: 'production', SESSION_SECRET: SECRET, ...env }, options)
}

const database = path.join(tmpDir, `server-test-${process.pid}.db`)
// The server's database: a copy of this file's SQLite database, or (TEST_DB=postgres) this file's own
// PostgreSQL database, which nothing else in this file writes to.
const serverDatabaseUrl = process.env.DATABASE_URL!.startsWith('file:') ? `file:${database}` : process.env.DATABASE_URL!

beforeAll(() => {
  requireProductionBuild()
  // A migrated copy of the test database of this file.
  if (process.env.DATABASE_URL!.startsWith('file:')) fs.copyFileSync(process.env.DATABASE_URL!.replace(/^file:/, ''), database)
})
afterAll(() => fs.rmSync(database, { force: true }))

describe('start-up', () => {
  test('a bad variable stops the server with a message naming it', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
      cwd: repoRoot,
      env: { ...process.env, PORT: 'not-a-port', SESSION_SECRET: 'short' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(code).toBe(1)
    expect(stderr).toContain('Trainyard cannot start')
    expect(stderr).toMatch(/PORT: /)
    expect(stderr).toMatch(/SESSION_SECRET: must be at least 16 characters/)
  })

  test('production without a session secret of its own refuses to start', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
      cwd: repoRoot,
      env: { ...process.env, NODE_ENV: 'production', SESSION_SECRET: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(1)
    expect(stderr).toMatch(/SESSION_SECRET: must be set to a secret of your own in production/)
  })
})

describe('a running server', () => {
  let server: AppProcess | undefined
  beforeAll(async () => {
    server = await startServer({ DATABASE_URL: serverDatabaseUrl, AUTH_RATE_LIMIT_PER_MINUTE: '3', LOG_REQUESTS: 'true' })
  }, 40_000)
  afterAll(() => server?.stop())

  test('every page carries a fresh CSP nonce that its scripts use, and the other security headers', async () => {
    const first = await fetch(`${server!.url}/`)
    const second = await fetch(`${server!.url}/`)
    const csp = first.headers.get('content-security-policy')!
    const nonce = csp.match(/'nonce-([^']+)'/)?.[1]
    expect(nonce).toBeTruthy()
    expect(second.headers.get('content-security-policy')).not.toContain(nonce)
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).toContain("object-src 'none'")
    const html = await first.text()
    const scriptNonces = [...html.matchAll(/<script[^>]*\snonce="([^"]+)"/g)].map((m) => m[1])
    expect(scriptNonces.length).toBeGreaterThan(0)
    expect(new Set(scriptNonces)).toEqual(new Set([nonce]))
    expect(first.headers.get('x-content-type-options')).toBe('nosniff')
    expect(first.headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin')
    expect(first.headers.get('x-frame-options')).toBe('DENY')
    expect(first.headers.get('x-powered-by')).toBeNull()
  })

  test('error pages carry the headers too and leak no stack', async () => {
    const res = await fetch(`${server!.url}/no-such-page`)
    expect(res.status).toBe(404)
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'")
    const html = await res.text()
    expect(html).toContain('Page not found')
    expect(html).not.toMatch(/at .*\.(ts|js):\d+/)
  })

  test('the request log leaves query strings out (the emailed link carries a code)', async () => {
    await fetch(`${server!.url}/verify?type=onboarding&target=a%40example.test&code=654321`, { redirect: 'manual' })
    await expect.poll(() => server!.output()).toMatch(/GET \/verify \d{3}/)
    expect(server!.output()).not.toContain('654321')
  })

  test('the healthcheck answers 200 when the database answers', async () => {
    const res = await fetch(`${server!.url}/resources/healthcheck`)
    expect(res.status).toBe(200)
  })

  test('auth POSTs are rate limited per client; GETs and other pages are not', async () => {
    const post = () =>
      fetch(`${server!.url}/login`, {
        method: 'POST',
        body: new URLSearchParams({ email: 'nobody@example.test', password: 'whatever-password' }),
        redirect: 'manual',
      })
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) statuses.push((await post()).status)
    expect(statuses.slice(0, 3).every((s) => s !== 429)).toBe(true)
    expect(statuses[3]).toBe(429)
    const limited = await post()
    expect(await limited.text()).toMatch(/Too many attempts/)
    expect((await fetch(`${server!.url}/login`)).status).not.toBe(429)
    expect((await fetch(`${server!.url}/`, { method: 'GET' })).status).toBe(200)
  })
})

describe('a server whose database does not answer', () => {
  let server: AppProcess | undefined
  const empty = path.join(tmpDir, `empty-${process.pid}.db`)
  afterAll(async () => {
    await server?.stop()
    fs.rmSync(empty, { force: true })
  })

  test('the healthcheck answers 503', async () => {
    fs.writeFileSync(empty, '')
    server = await startServer({ DATABASE_URL: `file:${empty}` }, { until: 'answers' })
    const { status } = await fetch(`${server.url}/resources/healthcheck`)
    expect(status).toBe(503)
  }, 40_000)
})
