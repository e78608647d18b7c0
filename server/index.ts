// The HTTP server: Express in front of Remix, for what Remix alone cannot do — a CSP nonce per
// request, security headers, refusing writes from other origins and bodies over the form cap before
// Remix reads them, the client address for the auth rate limits (counted inside the auth actions,
// app/utils/rate-limit.server.ts), and timers (session purge).
// See docs/decisions/002-express-server.md.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import url from 'node:url'
import { createRequestHandler } from '@remix-run/express'
import { broadcastDevReady, type ServerBuild } from '@remix-run/node'
import compression from 'compression'
import express from 'express'
import morgan from 'morgan'
import { EnvError, getEnv, listeningOn } from '../app/utils/env.server'
import { bodyLimit } from './body-limit'
import { sameOriginOnly } from './same-origin'
import { securityHeaders } from './security'
import { clientKey } from './client-key'
import { withFormDataGuard } from './form-data'

// Variables already set in the environment win over .env (Node's loadEnvFile never overrides).
if (fs.existsSync('.env')) process.loadEnvFile('.env')

let env: ReturnType<typeof getEnv>
try {
  env = getEnv()
} catch (error) {
  if (error instanceof EnvError) {
    console.error(`Trainyard cannot start. ${error.message}\nSee .env.example for every variable and its default.`)
    process.exit(1)
  }
  throw error
}

const here = path.dirname(url.fileURLToPath(import.meta.url))
const root = path.resolve(here, '..')
const BUILD_PATH = path.join(root, 'build', 'index.js')
const isDev = env.NODE_ENV === 'development'

async function loadBuild() {
  // A query string defeats the ESM module cache so a rebuilt bundle is picked up in development.
  return (await import(`${url.pathToFileURL(BUILD_PATH).href}?t=${Date.now()}`)) as ServerBuild
}

let build: ServerBuild
try {
  build = await loadBuild()
} catch (error) {
  console.error(`Trainyard cannot start: no server build at ${BUILD_PATH}. Run "npm run build" first.`)
  console.error(error)
  process.exit(1)
}

const app = express()
app.disable('x-powered-by')
app.set('trust proxy', env.TRUST_PROXY)
app.use(compression())

app.use((_req, res, next) => {
  res.locals.cspNonce = crypto.randomBytes(16).toString('base64')
  next()
})
app.use(securityHeaders(env))

// Fingerprinted assets never change; everything else in public/ may.
app.use('/build', express.static(path.join(root, 'public', 'build'), { immutable: true, maxAge: '1y' }))
app.use(express.static(path.join(root, 'public'), { maxAge: '1h' }))

// The path only: query strings can carry one-time codes (the emailed /verify link) and tokens.
morgan.token('path', (req: express.Request) => req.path)
if (isDev || env.LOG_REQUESTS) app.use(morgan(':method :path :status :res[content-length] - :response-time ms'))
// Before anything reads a body: a request from another origin is refused unread, and a body is
// counted as it arrives and refused past its route's limit.
app.use(sameOriginOnly(env))
app.use(bodyLimit(build))

app.all(
  '*',
  createRequestHandler({
    build: withFormDataGuard(build),
    mode: env.NODE_ENV === 'production' ? 'production' : 'development',
    getLoadContext: (req, res) => ({ cspNonce: String(res.locals.cspNonce), clientAddress: clientKey(req.ip) }),
  }),
)

const server = app.listen(env.PORT, env.HOST, () => {
  console.log(`Trainyard is listening on ${listeningOn(env.HOST, env.PORT)}`)
  // Under `remix dev` this tells the dev server the app is up; a plain start has no dev origin.
  if (isDev && process.env.REMIX_DEV_ORIGIN) void broadcastDevReady(build)
})

// Expired session rows are deleted at each login and here every hour, so a quiet site is clean too.
const { purgeExpiredSessions } = await import('../app/utils/auth.server')
const PURGE_INTERVAL_MS = 60 * 60 * 1000
const purgeTimer = setInterval(() => {
  purgeExpiredSessions().catch((error: unknown) => console.error('session purge failed', error))
}, PURGE_INTERVAL_MS)
purgeTimer.unref()

// The run supervisor polls the GPU agents from this process unless RUN_SUPERVISOR=false (then
// `npm run worker` runs it elsewhere). Several processes may run it: leases keep them from doubling work.
const { startSupervisor } = await import('../app/runs/supervisor/loop.server')
const supervisor = env.RUN_SUPERVISOR ? startSupervisor() : null

function shutdown(signal: string) {
  console.log(`${signal} received, closing the server`)
  clearInterval(purgeTimer)
  // Keep-alive connections can hold close() open; do not wait for ever.
  setTimeout(() => process.exit(0), 5000).unref()
  // The cycle in flight finishes (its polls end within their timeout) and the leases are given back.
  const stopped = supervisor
    ? supervisor.stop().catch((error: unknown) => console.error('supervisor stop failed', error))
    : Promise.resolve()
  server.close(() => void stopped.then(() => process.exit(0)))
}
process.once('SIGTERM', () => shutdown('SIGTERM'))
process.once('SIGINT', () => shutdown('SIGINT'))
