// The access matrix of /api/v1: every operation of the table (app/api/v1/operations.server.ts), called
// with six kinds of caller, with the ids of the owner's objects, and checked against the table below.
// Written from the security rules, not from the code:
//  - no token (or a browser session only) is a 401;
//  - a read token may not write: 403 insufficient_scope, before anything is looked up;
//  - someone else's training, image, run or webhook is a 404, never a 403 that confirms it exists —
//    also for an administrator whose token lacks the admin scope (a token is narrowed to its scopes);
//  - an administrator's token WITH the admin scope uses the `any` permissions: other people's
//    trainings, images and runs, as in the browser; webhooks are one's own (there is no `any` on them).
// A key is `METHOD /path` as the API contract names it, so the rows stay right whoever writes the
// operation. An operation with no row fails; a row whose operation is not in the table yet is a todo.
import crypto from 'node:crypto'
import { prisma } from '~/utils/db.server'
import { endRun, startRun } from '~/runs/runs.server'
import { saveUserHuggingFaceToken } from '~/utils/huggingface.server'
import { createTestToken } from '../api-utils'
import { makeJpeg } from '../image-fixtures'
import { FAKE_HUB_TOKENS } from '../fake-hub/server'
import { captionUncaptioned, makeSpareImage, makeSpareTraining, type World } from './world'

export const API_CALLERS = ['none', 'ownerRead', 'ownerWrite', 'stranger', 'adminPlain', 'adminScoped'] as const
export type ApiCaller = (typeof API_CALLERS)[number]
export type ApiRow = Record<ApiCaller, string>

/** The tokens of the callers (none has none). */
export type ApiTokens = Record<Exclude<ApiCaller, 'none'>, string>

export async function createApiTokens(world: World): Promise<ApiTokens> {
  const token = async (userId: string, scopes: ('read' | 'write' | 'admin')[]) =>
    (await createTestToken(userId, { scopes })).token
  return {
    ownerRead: await token(world.owner.id, ['read']),
    ownerWrite: await token(world.owner.id, ['read', 'write']),
    // Write scope, so a refusal is about whose object it is, not about the scope.
    stranger: await token(world.stranger.id, ['read', 'write']),
    adminPlain: await token(world.admin.id, ['read', 'write']),
    adminScoped: await token(world.admin.id, ['read', 'write', 'admin']),
  }
}

/** Someone's training and what is under it: theirs, and an admin-scoped admin's. */
const ownerOrAdmin = (scope: 'read' | 'write'): ApiRow => ({
  none: '401',
  ownerRead: scope === 'read' ? 'ok' : '403',
  ownerWrite: 'ok',
  stranger: '404',
  adminPlain: '404',
  adminScoped: 'ok',
})
/** One's own account (the list of one's own things, creating one): anyone with a token. */
const anyToken = (scope: 'read' | 'write'): ApiRow => ({
  none: '401',
  ownerRead: scope === 'read' ? 'ok' : '403',
  ownerWrite: 'ok',
  stranger: 'ok',
  adminPlain: 'ok',
  adminScoped: 'ok',
})
/** An object of one's own account (a webhook): nobody else's, whatever their roles. */
const ownerOnly = (scope: 'read' | 'write'): ApiRow => ({ ...ownerOrAdmin(scope), adminScoped: '404' })
const everyone: ApiRow = { none: 'ok', ownerRead: 'ok', ownerWrite: 'ok', stranger: 'ok', adminPlain: 'ok', adminScoped: 'ok' }

export const API_EXPECTED: Record<string, ApiRow> = {
  'GET /openapi.json': everyone,

  'GET /me': anyToken('read'),
  'GET /me/spend': anyToken('read'),

  'GET /trainings': anyToken('read'),
  'POST /trainings': anyToken('write'),
  'GET /trainings/{trainingId}': ownerOrAdmin('read'),
  'PATCH /trainings/{trainingId}': ownerOrAdmin('write'),
  'DELETE /trainings/{trainingId}': ownerOrAdmin('write'),
  'POST /trainings/{trainingId}/duplicate': ownerOrAdmin('write'),
  'GET /base-models': anyToken('read'),
  'GET /presets': anyToken('read'),

  'GET /trainings/{trainingId}/images': ownerOrAdmin('read'),
  'POST /trainings/{trainingId}/images': ownerOrAdmin('write'),
  'PATCH /trainings/{trainingId}/images/{imageId}': ownerOrAdmin('write'),
  'DELETE /trainings/{trainingId}/images/{imageId}': ownerOrAdmin('write'),
  'GET /trainings/{trainingId}/dataset-check': ownerOrAdmin('read'),

  'GET /trainings/{trainingId}/runs': ownerOrAdmin('read'),
  'GET /runs': anyToken('read'),
  'GET /trainings/{trainingId}/estimate': ownerOrAdmin('read'),
  'POST /trainings/{trainingId}/runs': ownerOrAdmin('write'),
  'GET /runs/{runId}': ownerOrAdmin('read'),
  'POST /runs/{runId}/cancel': ownerOrAdmin('write'),
  'GET /runs/{runId}/checkpoints': ownerOrAdmin('read'),
  'GET /runs/{runId}/samples': ownerOrAdmin('read'),
  'GET /runs/{runId}/download': ownerOrAdmin('read'),

  'GET /webhooks': anyToken('read'),
  'POST /webhooks': anyToken('write'),
  'GET /webhooks/{webhookId}': ownerOnly('read'),
  'PATCH /webhooks/{webhookId}': ownerOnly('write'),
  'DELETE /webhooks/{webhookId}': ownerOnly('write'),
  'POST /webhooks/{webhookId}/test': ownerOnly('write'),
  'GET /webhooks/{webhookId}/deliveries': ownerOnly('read'),

  // Publishing reads the run (as a download does) and writes to the caller's own Hub account.
  'POST /runs/{runId}/publish': ownerOrAdmin('write'),
  'GET /runs/{runId}/publications': ownerOrAdmin('read'),
}

export type ApiCallContext = { world: World; caller: ApiCaller; index: number }

export type ApiRequestSpec = {
  /** Path params on top of the defaults (the owner's objects). */
  params?: (c: ApiCallContext) => Record<string, string>
  search?: string
  /** A JSON body (for a write operation without one, `{}`). */
  json?: (c: ApiCallContext) => unknown
  /** A body that is not JSON (an upload), with its headers. */
  body?: (c: ApiCallContext) => Promise<{ body: BodyInit; headers?: Record<string, string> }>
  headers?: (c: ApiCallContext) => Record<string, string>
  /** Runs before each call. */
  prepare?: (world: World) => Promise<void>
}

/** The owner's webhook endpoint (made once), and a spare one a call may delete. */
const webhooks = { ownerId: '', spareId: '' }

async function makeWebhook(world: World, description: string) {
  const row = await prisma.webhookEndpoint.create({
    select: { id: true },
    // The secret column holds an encrypted secret; no delivery is made here, so any placeholder does.
    data: { userId: world.owner.id, url: 'http://127.0.0.1:9/matrix', description, secret: `matrix-${crypto.randomUUID()}` },
  })
  return row.id
}

async function ensureOwnerWebhook(world: World) {
  if (webhooks.ownerId && (await prisma.webhookEndpoint.count({ where: { id: webhooks.ownerId } }))) return
  webhooks.ownerId = await makeWebhook(world, 'The matrix’s endpoint')
}

async function activeRunOf(trainingId: string) {
  return prisma.trainingRun.findUnique({ where: { activeTrainingId: trainingId }, select: { id: true } })
}

async function noActiveRun(world: World) {
  await captionUncaptioned(world)
  const active = await activeRunOf(world.training.id)
  if (active) await endRun(active.id, 'canceled', { error: 'Ended by the access matrix.' })
}

export const API_REQUESTS: Record<string, ApiRequestSpec> = {
  'POST /trainings': { json: ({ caller }) => ({ name: `Matrix ${caller}`, triggerWord: 'mtrx', baseModel: 'flux-dev' }) },
  'PATCH /trainings/{trainingId}': { prepare: noActiveRun, json: ({ caller }) => ({ name: `Matrix portraits ${caller}` }) },
  'DELETE /trainings/{trainingId}': {
    prepare: makeSpareTraining,
    params: ({ world }) => ({ trainingId: world.spareTrainingId }),
  },
  'POST /trainings/{trainingId}/images': {
    body: async ({ caller, index }) => {
      const form = new FormData()
      const jpeg = await makeJpeg({ width: 512, height: 512, seed: 200 + index })
      form.append('files', new Blob([new Uint8Array(jpeg)], { type: 'image/jpeg' }), `api-matrix-${caller}.jpg`)
      return { body: form }
    },
  },
  'PATCH /trainings/{trainingId}/images/{imageId}': { json: ({ caller }) => ({ caption: `a photo of [trigger], by ${caller}` }) },
  'DELETE /trainings/{trainingId}/images/{imageId}': {
    prepare: makeSpareImage,
    params: ({ world }) => ({ imageId: world.spareImageId }),
  },
  'GET /trainings/{trainingId}/estimate': { prepare: noActiveRun },
  'POST /trainings/{trainingId}/runs': {
    prepare: noActiveRun,
    json: () => ({}),
    headers: ({ caller }) => ({ 'idempotency-key': `matrix-${caller}-${crypto.randomUUID()}` }),
  },
  'POST /runs/{runId}/cancel': {
    prepare: async (world) => {
      await captionUncaptioned(world)
      const active = await activeRunOf(world.training.id)
      world.activeRunId = active?.id ?? (await startRun({ trainingId: world.training.id, startedById: world.owner.id })).runId
    },
    params: ({ world }) => ({ runId: world.activeRunId ?? '' }),
    json: () => ({ keep: false }),
  },
  'POST /webhooks': { json: ({ caller }) => ({ url: `http://127.0.0.1:9/${caller}`, description: `matrix ${caller}` }) },
  'PATCH /webhooks/{webhookId}': { json: ({ caller }) => ({ description: `changed by ${caller}` }) },
  'DELETE /webhooks/{webhookId}': {
    prepare: async (world) => {
      webhooks.spareId = await makeWebhook(world, 'Spare to delete')
    },
    params: () => ({ webhookId: webhooks.spareId }),
  },
  'POST /runs/{runId}/publish': {
    prepare: async (world) => {
      for (const user of [world.owner, world.admin, world.stranger])
        await saveUserHuggingFaceToken(user.id, FAKE_HUB_TOKENS.writer)
      // One publication of a run at a time: the previous caller's may still be uploading in the background.
      await prisma.hubPublication.updateMany({
        where: { status: 'uploading' },
        data: { status: 'failed', error: 'set aside by the matrix' },
      })
    },
    json: ({ caller }) => ({ repo: `matrix-${caller}`, private: true }),
  },
}

/** The path params of an operation, pointing at the owner's objects. */
export async function defaultApiParams(names: string[], world: World) {
  if (names.includes('webhookId')) await ensureOwnerWebhook(world)
  const values: Record<string, string> = {
    trainingId: world.training.id,
    imageId: world.image.id,
    runId: world.run.id,
    webhookId: webhooks.ownerId,
  }
  return Object.fromEntries(
    names.map((name) => {
      const value = values[name]
      if (value === undefined)
        throw new Error(`The API access matrix has no value for the path param "${name}": add one to defaultApiParams`)
      return [name, value]
    }),
  )
}

/**
 * What any write could change, owner's and admin's side alike: a refused call must leave it as it was,
 * a permitted write must change it (so an `ok` in the table is a real success).
 */
export async function apiDigest(world: World) {
  const trainingIds = { in: [world.training.id, world.spareTrainingId].filter(Boolean) }
  const [trainings, images, runs, webhookRows, deliveries, publications] = await Promise.all([
    prisma.training.findMany({ orderBy: { id: 'asc' }, select: { id: true, name: true, triggerWord: true, config: true } }),
    prisma.trainingImage.findMany({
      where: { trainingId: trainingIds },
      orderBy: { id: 'asc' },
      select: { id: true, text: true },
    }),
    prisma.trainingRun.findMany({
      where: { trainingId: trainingIds },
      orderBy: { id: 'asc' },
      select: { id: true, status: true },
    }),
    prisma.webhookEndpoint.findMany({
      orderBy: { id: 'asc' },
      select: { id: true, url: true, description: true, events: true, enabled: true },
    }),
    prisma.webhookDelivery.count(),
    prisma.hubPublication.count(),
  ])
  return { trainings, images, runs, webhookRows, deliveries, publications }
}

/** `/trainings/{trainingId}` with the values filled in. */
export function fillPath(path: string, params: Record<string, string>) {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ''))
}

export function pathParamNames(path: string) {
  return [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!)
}
