// The access matrix: every loader and action of every route module under app/routes, called
// as a visitor, as a user who owns nothing, as the owner and as an admin, with the ids of the owner's
// training, image, run, GPU, user and role, and checked against the table in
// tests/access-matrix/expected.ts. A route module (or a loader or action of one) without a row fails,
// and so does a row whose route is gone. Calls that are refused must change nothing; permitted calls
// that write must change what they write (so a success in the table is a real one).
import path from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { afterAll, beforeAll, expect, test, vi } from 'vitest'
import { prisma } from '~/utils/db.server'
import { setGpuProviderForTests } from '~/gpu/registry.server'
import { createSessionCookie, createUser, ctx, makeRequest, uniqueEmail } from '../db-utils'
import { createTraining } from '../image-fixtures'
import { EXPECTED, WITHOUT_SERVER_CODE, type Row } from '../access-matrix/expected'
import { defaultParams, recordingProvider, REQUESTS, type CallContext } from '../access-matrix/requests'
import {
  classify,
  discoverRouteFiles,
  EXPORTS,
  isRefusal,
  matches,
  routeParamNames,
  routePath,
  rowKey,
  ROUTES_DIR,
  type RouteExport,
} from '../access-matrix/routes'
import { createWorld, PRINCIPALS, userIdOf, type World } from '../access-matrix/world'
import {
  API_CALLERS,
  API_EXPECTED,
  API_REQUESTS,
  apiDigest,
  createApiTokens,
  defaultApiParams,
  fillPath,
  pathParamNames,
  type ApiRow,
  type ApiTokens,
} from '../access-matrix/api'
import { api } from '../api-utils'
import { API_OPERATIONS } from '~/api/v1/operations.server'

// GitHub login must be off (the table says what an unconfigured server answers), before any app
// module reads the environment: it is cached on first read.
// Webhook URLs on 127.0.0.1 are allowed, as an operator may allow them, so registering one can succeed.
const savedGitHub = vi.hoisted(() => {
  const saved = {
    GITHUB_CLIENT_ID: process.env.GITHUB_CLIENT_ID,
    GITHUB_CLIENT_SECRET: process.env.GITHUB_CLIENT_SECRET,
    WEBHOOK_ALLOWED_ADDRESSES: process.env.WEBHOOK_ALLOWED_ADDRESSES,
  }
  delete process.env.GITHUB_CLIENT_ID
  delete process.env.GITHUB_CLIENT_SECRET
  process.env.WEBHOOK_ALLOWED_ADDRESSES = '127.0.0.1'
  return saved
})

// Publishing asks the Hub (the local stand-in) about the token before it answers 202.
await vi.hoisted(async () => {
  const { useFakeHub } = await import('../fake-hub/vitest')
  return useFakeHub()
})

type RouteFunction = (args: { request: Request; params: Record<string, string>; context: Record<string, unknown> }) => unknown
type RouteModule = Partial<Record<RouteExport, unknown>>

const routeFiles = discoverRouteFiles()
const modules = new Map<string, RouteModule>(
  await Promise.all(routeFiles.map(async (file) => [file, (await import(path.join(ROUTES_DIR, file))) as RouteModule] as const)),
)

/** Every loader and action there is, as table keys. */
const exportedKeys = routeFiles.flatMap((file) =>
  EXPORTS.filter((fn) => typeof modules.get(file)![fn] === 'function').map((fn) => rowKey(file, fn)),
)
const baseOf = (key: string) => key.split('#')[0]!

let world: World
let tokens: ApiTokens

beforeAll(async () => {
  // Terminate on the fleet page asks this recorder instead of killing a process.
  setGpuProviderForTests('local', recordingProvider)
  world = await createWorld()
  tokens = await createApiTokens(world)
})

afterAll(() => {
  setGpuProviderForTests('local', undefined)
  for (const [key, value] of Object.entries(savedGitHub)) {
    if (value === undefined) delete process.env[key]
    else process.env[key] = value
  }
})

test('every loader and action has a row, and every row a route', () => {
  expect(routeFiles.length).toBeGreaterThan(30)
  const missing = [
    ...exportedKeys.filter((key) => !(key in EXPECTED)),
    // A module with no loader and no action has no row: it must be named as such.
    ...routeFiles.filter(
      (file) => !exportedKeys.some((key) => key.startsWith(`${file}:`)) && !WITHOUT_SERVER_CODE.includes(file),
    ),
  ]
  const stale = [
    ...Object.keys(EXPECTED).filter((key) => !exportedKeys.includes(baseOf(key))),
    ...WITHOUT_SERVER_CODE.filter((file) => !routeFiles.includes(file) || exportedKeys.some((key) => key.startsWith(`${file}:`))),
  ]
  const staleRequests = Object.keys(REQUESTS).filter((key) => !exportedKeys.includes(baseOf(key)) || !(key in EXPECTED))
  expect({ missing, stale, staleRequests }).toEqual({ missing: [], stale: [], staleRequests: [] })
})

test('the discovery sees what Remix routes: no tests, no server modules, every route file', () => {
  expect(routeFiles).toContain('trainings+/$trainingId+/runs.$runId.tsx')
  expect(routeFiles).toContain('$.tsx')
  expect(routeFiles.some((file) => /\.test\.|\.server\./.test(file))).toBe(false)
  expect(routePath('trainings+/$trainingId+/runs._index.tsx', { trainingId: 't1' })).toBe('/trainings/t1/runs')
  expect(routePath('_auth+/auth.github_.callback.tsx', {})).toBe('/auth/github/callback')
  expect(routePath('resources+/storage.$.tsx', { '*': 'runs/r1/lora.safetensors' })).toBe(
    '/resources/storage/runs/r1/lora.safetensors',
  )
})

/** The rows to call: every exported key with a row, and the variants of those. */
const rowsToCall = Object.keys(EXPECTED).filter((key) => exportedKeys.includes(baseOf(key)))

test.each(rowsToCall)('%s', async (key) => {
  const [file, fn] = baseOf(key).split(/:(?=[^:]+$)/) as [string, RouteExport]
  const handler = modules.get(file)![fn] as RouteFunction
  const spec = REQUESTS[key] ?? {}
  const expected = EXPECTED[key]!
  const outcomes = {} as Row
  const problems: string[] = []

  for (const principal of PRINCIPALS) {
    await spec.prepare?.(world)
    // A fresh session per call: logout and a password change end sessions, and must not end the next call's.
    const userId = userIdOf(world, principal)
    const session = userId ? await createSessionCookie(userId) : null
    const call: CallContext = { world, principal, cookie: session?.cookie, sessionId: session?.sessionId ?? null }
    const params = { ...defaultParams(routeParamNames(file), world), ...spec.params?.(call) }
    const url = `http://localhost${routePath(file, params)}${spec.search ?? ''}`
    const request = spec.request
      ? await spec.request(call, url)
      : makeRequest(url, { cookie: call.cookie, ...(fn === 'action' ? { form: spec.form?.(call) ?? {} } : {}) })

    const before = await spec.snapshot?.(call)
    const { outcome, detail } = await answer(() => handler({ request, params, context: ctx.context }))
    outcomes[principal] = matches(expected[principal], outcome) ? expected[principal] : outcome
    if (outcomes[principal] !== expected[principal] && detail) problems.push(`${principal}: ${detail}`)

    if (spec.snapshot) {
      const after = await spec.snapshot(call)
      const changed = !isDeepStrictEqual(before, after)
      const mustChange = spec.changesFor ?? PRINCIPALS.filter((p) => !isRefusal(expected[p]))
      if (isRefusal(outcome) && changed) {
        problems.push(`${principal}: refused (${outcome}) yet it changed ${JSON.stringify(before)} → ${JSON.stringify(after)}`)
      } else if (!isRefusal(outcome) && mustChange.includes(principal) && !changed) {
        problems.push(`${principal}: answered ${outcome} yet nothing changed (${JSON.stringify(before)})`)
      }
    }
  }

  expect({ outcomes, problems }).toEqual({ outcomes: expected, problems: [] })
})

// The matrix's stranger owns nothing. A creator who does may try their own training as the way in to
// another's run or image: the child must belong to the training in the URL.
test("a creator's own training opens none of another's runs or images", async () => {
  const intruder = await createUser({ email: uniqueEmail('matrix-intruder') })
  const own = await createTraining(intruder.id, { name: 'Way in' })
  const { cookie } = await createSessionCookie(intruder.id)
  await REQUESTS['trainings+/$trainingId+/runs.$runId.tsx:action']!.prepare!(world)
  const activeRunId = world.activeRunId!
  const call = async (file: string, fn: RouteExport, params: Record<string, string>, form?: Record<string, string>) => {
    const handler = modules.get(file)![fn] as RouteFunction
    const request = makeRequest(`http://localhost${routePath(file, params)}`, { cookie, ...(form ? { form } : {}) })
    return (await answer(() => handler({ request, params, context: ctx.context }))).outcome
  }
  const runPage = 'trainings+/$trainingId+/runs.$runId.tsx'
  const imagesTab = 'trainings+/$trainingId+/_index.tsx'
  const imageText = async () =>
    (await prisma.trainingImage.findUnique({ where: { id: world.image.id }, select: { text: true } }))?.text
  const textBefore = await imageText()

  expect({
    runPage: await call(runPage, 'loader', { trainingId: own.id, runId: world.run.id }),
    cancel: await call(runPage, 'action', { trainingId: own.id, runId: activeRunId }, { intent: 'cancel' }),
    caption: await call(
      imagesTab,
      'action',
      { trainingId: own.id },
      { intent: 'caption', imageId: world.image.id, text: 'mine now' },
    ),
    deleteImage: await call(imagesTab, 'action', { trainingId: own.id }, { intent: 'delete', imageId: world.image.id }),
  }).toEqual({ runPage: '404', cancel: '404', caption: '404', deleteImage: '404' })
  expect((await prisma.trainingRun.findUnique({ where: { id: activeRunId }, select: { status: true } }))?.status).toBe('queued')
  expect(await imageText()).toBe(textBefore)
  expect(await prisma.trainingImage.count({ where: { id: world.image.id } })).toBe(1)
})

// The API: every operation of the table × six callers (tests/access-matrix/api.ts).
const apiKeys = API_OPERATIONS.map((op) => `${op.method} ${op.path}`)

test('every API operation has a row, and every request spec a row', () => {
  expect(API_OPERATIONS.length).toBeGreaterThan(1)
  const missing = apiKeys.filter((key) => !(key in API_EXPECTED))
  const staleRequests = Object.keys(API_REQUESTS).filter((key) => !(key in API_EXPECTED))
  expect({ missing, staleRequests }).toEqual({ missing: [], staleRequests: [] })
})

// Rows written from the API contract whose operation is not in the table (yet): listed, not failed.
for (const key of Object.keys(API_EXPECTED).filter((key) => !apiKeys.includes(key)))
  test.todo(`api ${key}: no such operation in the table`)

test.each(apiKeys.filter((key) => key in API_EXPECTED))('api %s', async (key) => {
  const operation = API_OPERATIONS.find((op) => `${op.method} ${op.path}` === key)!
  const spec = API_REQUESTS[key] ?? {}
  const expected = API_EXPECTED[key]!
  const outcomes = {} as ApiRow
  const problems: string[] = []
  const writes = operation.method !== 'GET'

  for (const [index, caller] of API_CALLERS.entries()) {
    await spec.prepare?.(world)
    const c = { world, caller, index }
    const params = { ...(await defaultApiParams(pathParamNames(operation.path), world)), ...spec.params?.(c) }
    const path = `${fillPath(operation.path, params)}${spec.search ?? ''}`
    const upload = await spec.body?.(c)
    const before = writes ? await apiDigest(world) : null
    const response = await api(path, {
      method: operation.method,
      token: caller === 'none' ? null : tokens[caller],
      ...(upload
        ? { body: upload.body }
        : writes && operation.body?.contentType !== 'multipart/form-data'
          ? { json: spec.json?.(c) ?? {} }
          : {}),
      headers: { ...upload?.headers, ...spec.headers?.(c) },
    })
    const text = await response.text()
    const outcome = classify(response)
    outcomes[caller] = matches(expected[caller], outcome) ? expected[caller] : outcome
    if (outcomes[caller] !== expected[caller]) problems.push(`${caller}: ${response.status} ${text.slice(0, 200)}`)
    // A read token is refused for its scope, before anything is looked up.
    if (outcome === '403' && caller === 'ownerRead' && !text.includes('insufficient_scope'))
      problems.push(`${caller}: a 403 that is not insufficient_scope: ${text.slice(0, 200)}`)
    if (writes) {
      const after = await apiDigest(world)
      const changed = !isDeepStrictEqual(before, after)
      if (isRefusal(outcome) && changed) problems.push(`${caller}: refused (${outcome}) yet it changed something`)
      else if (!isRefusal(outcome) && !changed) problems.push(`${caller}: answered ${outcome} yet nothing changed`)
    }
  }

  expect({ outcomes, problems }).toEqual({ outcomes: expected, problems: [] })
})

/**
 * Runs a loader or action as Remix would and names the answer: a returned or thrown Response is
 * classified; plain data is a 200 (Remix serializes it); any other throw is the 500 Remix would send.
 */
async function answer(fn: () => unknown): Promise<{ outcome: string; detail: string | null }> {
  let response: Response
  try {
    const result = await fn()
    response = result instanceof Response ? result : Response.json(result ?? null)
  } catch (error) {
    if (!(error instanceof Response)) return { outcome: '500', detail: error instanceof Error ? error.message : String(error) }
    response = error
  }
  // Read the body to the end: downloads are file streams, and an unread one keeps its file open.
  const body = await response.text().catch(() => '')
  const location = response.headers.get('location')
  return {
    outcome: classify(response),
    detail: location ? `→ ${location}` : body ? `${response.status} ${body.slice(0, 200)}` : null,
  }
}
