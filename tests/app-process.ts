// The real app server (Express + Remix, the production build) as a child process on 127.0.0.1, for the
// integration tests and the benchmark. Node runs tsx as a loader, not the tsx CLI (which would run a
// child of its own), so `child.pid` is the server's: the benchmark samples its memory.
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { repoRoot } from './setup/paths'

/** A port nothing listens on right now (the OS picks it). */
export async function freePort() {
  return new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

export type AppProcess = {
  url: string
  port: number
  child: ChildProcess
  /** Everything the server printed so far, stdout and stderr together. */
  output: () => string
  stop: () => Promise<void>
}

const POLL_INTERVAL_MS = 200

/**
 * Starts the server with exactly `env` (plus PORT) and waits until /resources/healthcheck answers 200 —
 * or, with `until: 'answers'`, any status (to test a server whose database does not answer).
 */
export async function startAppProcess(
  env: NodeJS.ProcessEnv,
  { port, timeoutMs = 30_000, until = 'healthy' }: { port?: number; timeoutMs?: number; until?: 'healthy' | 'answers' } = {},
): Promise<AppProcess> {
  const listenPort = port ?? (await freePort())
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
    cwd: repoRoot,
    env: { ...env, PORT: String(listenPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const url = `http://127.0.0.1:${listenPort}`
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`The server exited during start:\n${output}`)
    const status = await fetch(`${url}/resources/healthcheck`).then(
      (r) => r.status,
      () => 0,
    )
    if (until === 'answers' ? status !== 0 : status === 200) return { url, port: listenPort, child, output: () => output, stop }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS))
  }
  await stop()
  throw new Error(`The server did not answer within ${timeoutMs / 1000} s:\n${output}`)
}

/** The integration tests run the production build: a clear sentence when it is not there. */
export function requireProductionBuild() {
  if (!fs.existsSync(path.join(repoRoot, 'build', 'index.js'))) {
    throw new Error('No production build: run `npx remix build` first (npm test does).')
  }
}

/**
 * The production server on this test file's database and environment, with a SESSION_SECRET of the
 * tests' own unless one is set, and an auth rate limit high enough to stay out of the way; `env` wins.
 */
export function startProductionServer(env: Record<string, string> = {}, options?: Parameters<typeof startAppProcess>[1]) {
  requireProductionBuild()
  return startAppProcess(
    {
      ...process.env,
      NODE_ENV: 'production',
      SESSION_SECRET: process.env.SESSION_SECRET ?? 'integration-secret-0123456789',
      AUTH_RATE_LIMIT_PER_MINUTE: '1000',
      ...env,
    },
    options,
  )
}

/** Presses Start on a training's Runs tab as a browser form post would; the new run's id. */
export async function startRunByForm(app: AppProcess, trainingId: string, cookie: string) {
  const response = await fetch(`${app.url}/trainings/${trainingId}/runs?index`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ intent: 'start' }),
    redirect: 'manual',
  })
  const location = response.headers.get('location') ?? ''
  const runId = /\/runs\/([a-z0-9]+)$/.exec(location)?.[1]
  if (response.status !== 302 || !runId)
    throw new Error(`start on ${app.url}: ${response.status} ${location} ${await response.text()}`)
  return runId
}
