// How each loader and action is called: the params (by default the owner's objects), a form that
// reaches success for whoever the route is meant for (so an `ok` in the table is a real success,
// not a validation error), what must be true before each call, and a snapshot of what the call
// could change — unchanged after a refusal, changed after a success.
import crypto from 'node:crypto'
import { prisma } from '~/utils/db.server'
import { serializePendingGitHubConnection } from '~/utils/github.server'
import type { GpuProvider, Machine } from '~/gpu/provider.server'
import { capabilitiesOf } from '~/gpu/registry.server'
import { endRun, startRun } from '~/runs/runs.server'
import { getStorage } from '~/storage/storage.server'
import { saveUserHuggingFaceToken } from '~/utils/huggingface.server'
import { makeRequest, TEST_PASSWORD, uniqueEmail } from '../db-utils'
import { makeJpeg } from '../image-fixtures'
import { API_WRITE_PROBE } from './api-probe'
import {
  captionUncaptioned,
  ensureOwnerConnection,
  ensureOwnerOtherSession,
  makeSpareImage,
  makeSpareTraining,
  type Principal,
  userIdOf,
  type World,
} from './world'

const MATRIX_API_TOKEN_ID = 'matrix-owner-api-token'

export type CallContext = {
  world: World
  principal: Principal
  /** The Cookie header of a fresh session of the principal (none for anonymous). */
  cookie: string | undefined
  sessionId: string | null
}

type Form = Record<string, string | string[]>

export type RequestSpec = {
  /** Params on top of the defaults (the owner's objects, see defaultParams). */
  params?: (c: CallContext) => Record<string, string>
  /** A query string for the URL, with its `?`. */
  search?: string
  /** The form an action is posted; without one, an empty form. */
  form?: (c: CallContext) => Form
  /** A request made by hand (a body that is not a form, another method, a signed URL). */
  request?: (c: CallContext, url: string) => Promise<Request>
  /** Runs before each call: what the route needs to be there (an active run to cancel…). */
  prepare?: (world: World) => Promise<void>
  /** What the call could change. Compared before and after each call. */
  snapshot?: (c: CallContext) => Promise<unknown>
  /** Whose successful call must change the snapshot; default: everyone whose expected outcome is not a refusal. */
  changesFor?: Principal[]
}

/** Answers the fleet page's Terminate without touching a process, and remembers what it was asked. */
export class RecordingGpuProvider implements GpuProvider {
  readonly name = 'local'
  readonly capabilities = capabilitiesOf('local')
  readonly terminated: string[] = []
  async launch(): Promise<Machine> {
    throw new Error('the access matrix launches no machine')
  }
  async describe() {
    return []
  }
  async listTagged() {
    return []
  }
  async terminate(instanceIds: string[]) {
    this.terminated.push(...instanceIds)
  }
}
export const recordingProvider = new RecordingGpuProvider()

/** A route's params, by name, pointing at the owner's objects. */
export function defaultParams(names: string[], world: World): Record<string, string> {
  const values: Record<string, string> = {
    trainingId: world.training.id,
    imageId: world.image.id,
    variant: 'thumb',
    runId: world.run.id,
    index: '0',
    // The world's run keeps its final file as its checkpoint at step 100, and a sample of prompt 0 there.
    step: '100',
    prompt: '0',
    userId: world.owner.id,
    roleId: world.role.id,
    webhookId: world.webhook.id,
    '*': world.runKeys.weightsKey,
  }
  return Object.fromEntries(
    names.map((name) => {
      const value = values[name]
      if (value === undefined)
        throw new Error(`The access matrix has no value for the route param "${name}": add one to defaultParams`)
      return [name, value]
    }),
  )
}

/** An address that has no account: the answers of forgot-password and verify must not depend on it. */
const NOBODY = 'nobody-matrix@example.test'

async function activeRunOf(trainingId: string) {
  return prisma.trainingRun.findUnique({ where: { activeTrainingId: trainingId }, select: { id: true } })
}

function sha256(bytes: Buffer) {
  return crypto.createHash('sha256').update(bytes).digest('hex')
}

async function storedDigest(key: string) {
  const object = await (await getStorage()).get(key)
  if (!object) return null
  const chunks: Buffer[] = []
  for await (const chunk of object.body) chunks.push(Buffer.from(chunk as Uint8Array))
  return sha256(Buffer.concat(chunks))
}

function withCookie(cookie: string | undefined, headers: Record<string, string> = {}) {
  return cookie ? { ...headers, cookie } : headers
}

export const REQUESTS: Record<string, RequestSpec> = {
  '$.tsx:loader': { params: () => ({ '*': 'no/such/page' }) },
  '$.tsx:action': { params: () => ({ '*': 'no/such/page' }) },

  '_auth+/login.tsx:action': {
    form: ({ world }) => ({ email: world.owner.email, password: TEST_PASSWORD, redirectTo: '/trainings' }),
  },
  '_auth+/signup.tsx:action': { form: () => ({ email: uniqueEmail('matrix-signup') }) },
  '_auth+/forgot-password.tsx:action': { form: () => ({ email: NOBODY }) },
  '_auth+/verify.tsx:loader': { search: `?${new URLSearchParams({ type: 'reset-password', target: NOBODY })}` },
  '_auth+/verify.tsx:action': { form: () => ({ type: 'reset-password', intent: 'resend', target: NOBODY }) },
  '_auth+/logout.tsx:action': {
    snapshot: async ({ sessionId }) =>
      sessionId ? Boolean(await prisma.session.findUnique({ where: { id: sessionId } })) : null,
    changesFor: ['stranger', 'owner', 'admin'],
  },

  'settings+/_index.tsx:action': { form: ({ principal }) => ({ name: `Matrix ${principal}` }) },
  // The same password again: a real change (every other session ends) that keeps the login working.
  'settings+/password.tsx:action': {
    form: () => ({ currentPassword: TEST_PASSWORD, password: TEST_PASSWORD, confirmPassword: TEST_PASSWORD }),
  },
  'settings+/two-factor.tsx:action': { form: () => ({ intent: 'cancel' }) },
  // Removing one's own token: each signed-in principal has one saved first, so a success is a real change.
  'settings+/hugging-face.tsx:action': {
    prepare: async (world) => {
      for (const user of [world.stranger, world.owner, world.admin])
        await saveUserHuggingFaceToken(user.id, 'hf_MatrixToken0123456789abcdefgh')
    },
    form: () => ({ intent: 'remove' }),
    snapshot: async ({ world, principal }) => {
      const userId = userIdOf(world, principal)
      return userId ? ((await prisma.user.findUnique({ where: { id: userId } }))?.huggingFaceToken ?? null) : null
    },
    changesFor: ['stranger', 'owner', 'admin'],
  },
  // Turning two kinds of run email off (all are on by default): a real change for each signed-in principal.
  'settings+/notifications.tsx:action': {
    form: () => ({ succeeded: 'on' }),
    snapshot: async ({ world, principal }) => {
      const userId = userIdOf(world, principal)
      if (!userId) return null
      const user = await prisma.user.findUnique({ where: { id: userId } })
      return user ? [user.notifyRunSucceeded, user.notifyRunFailed, user.notifyRunStopped].join() : null
    },
    changesFor: ['stranger', 'owner', 'admin'],
  },
  'settings+/sessions.tsx:action': {
    prepare: ensureOwnerOtherSession,
    form: ({ world }) => ({ intent: 'sign-out-session', sessionId: world.ownerOtherSessionId }),
    snapshot: async ({ world }) => Boolean(await prisma.session.findUnique({ where: { id: world.ownerOtherSessionId } })),
  },
  // Revoking the owner's API token by its id: anyone else finds nothing (it stays live).
  'settings+/api-tokens.tsx:action': {
    prepare: async (world) => {
      const data = { userId: world.owner.id, name: 'matrix', hash: 'matrix-owner-api-token', prefix: 'ty_matr', scopes: 'read' }
      await prisma.apiToken.upsert({
        where: { id: MATRIX_API_TOKEN_ID },
        create: { id: MATRIX_API_TOKEN_ID, ...data },
        update: { revokedAt: null },
      })
    },
    form: () => ({ intent: 'revoke', tokenId: MATRIX_API_TOKEN_ID }),
    snapshot: async () => (await prisma.apiToken.findUnique({ where: { id: MATRIX_API_TOKEN_ID } }))?.revokedAt ?? null,
  },
  'settings+/webhooks.tsx:action': {
    // An address literal: registering it asks no DNS.
    form: ({ principal }) => ({ url: `https://93.184.215.14/${principal}`, events: ['run.succeeded'] }),
    snapshot: () => prisma.webhookEndpoint.count(),
    changesFor: ['stranger', 'owner', 'admin'],
  },
  'settings+/webhooks_.$webhookId.tsx:action': {
    prepare: (world) =>
      prisma.webhookEndpoint.update({ where: { id: world.webhook.id }, data: { enabled: true } }).then(() => undefined),
    form: () => ({ intent: 'disable' }),
    snapshot: async ({ world }) => (await prisma.webhookEndpoint.findUnique({ where: { id: world.webhook.id } }))?.enabled,
  },
  'settings+/connections.tsx:action': {
    prepare: async (world) => {
      world.ownerConnectionId = await ensureOwnerConnection(world)
    },
    form: ({ world }) => ({ intent: 'disconnect', connectionId: world.ownerConnectionId }),
    snapshot: async ({ world }) => Boolean(await prisma.connection.findUnique({ where: { id: world.ownerConnectionId } })),
  },

  // Every caller's browser carries the owner's pending GitHub account (a cookie copied or planted).
  'settings+/connections_.confirm.tsx:loader': {
    request: async ({ cookie, world }, url) => makeRequest(url, { cookie: await withOwnerPendingGitHub(cookie, world) }),
  },
  'settings+/connections_.confirm.tsx:action': {
    prepare: () => prisma.connection.deleteMany({ where: { providerId: MATRIX_PENDING_GITHUB_ID } }).then(() => undefined),
    request: async ({ cookie, world }, url) =>
      makeRequest(url, { cookie: await withOwnerPendingGitHub(cookie, world), form: { intent: 'connect' } }),
    snapshot: () => prisma.connection.count({ where: { providerId: MATRIX_PENDING_GITHUB_ID } }),
    changesFor: ['owner'],
  },

  'trainings+/new.tsx:action': {
    form: ({ principal }) => ({
      name: `New by ${principal}`,
      triggerWord: 'ohwx_new',
      baseModel: 'flux-dev',
      preset: 'flux-balanced',
    }),
    snapshot: () => prisma.training.count(),
  },
  'trainings+/$trainingId+/_index.tsx:action': {
    form: ({ world, principal }) => ({
      intent: 'caption',
      imageId: world.image.id,
      text: `a photo of [trigger], captioned by ${principal}`,
    }),
    snapshot: async ({ world }) =>
      (await prisma.trainingImage.findUnique({ where: { id: world.image.id }, select: { text: true } }))?.text,
  },
  'trainings+/$trainingId+/_index.tsx:action#delete-image': {
    prepare: makeSpareImage,
    form: ({ world }) => ({ intent: 'delete', imageId: world.spareImageId }),
    snapshot: async ({ world }) => Boolean(await prisma.trainingImage.findUnique({ where: { id: world.spareImageId } })),
  },
  'trainings+/$trainingId+/settings.tsx:action': {
    form: ({ principal }) => ({
      intent: 'details',
      name: `Renamed by ${principal}`,
      triggerWord: 'ohwx_ada',
      baseModel: 'flux-dev',
    }),
    snapshot: async ({ world }) =>
      (await prisma.training.findUnique({ where: { id: world.training.id }, select: { name: true } }))?.name,
  },
  // Deleting needs delete rights on the training: a training made for each call, since it goes.
  'trainings+/$trainingId+/settings.tsx:action#delete': {
    prepare: makeSpareTraining,
    params: ({ world }) => ({ trainingId: world.spareTrainingId }),
    form: () => ({ intent: 'delete' }),
    snapshot: async ({ world }) => Boolean(await prisma.training.findUnique({ where: { id: world.spareTrainingId } })),
  },
  // Duplicating needs read rights on the training (and to create one's own): the copy is the caller's.
  'trainings+/$trainingId+/settings.tsx:action#duplicate': {
    form: () => ({ intent: 'duplicate' }),
    snapshot: () => prisma.training.count(),
  },
  'trainings+/$trainingId+/runs._index.tsx:action': {
    // No run in progress, so a permitted Start makes a new run.
    prepare: async (world) => {
      await captionUncaptioned(world)
      const active = await activeRunOf(world.training.id)
      if (active) await endRun(active.id, 'canceled', { error: 'Ended by the access matrix.' })
    },
    form: () => ({ intent: 'start' }),
    snapshot: ({ world }) => prisma.trainingRun.count({ where: { trainingId: world.training.id } }),
  },
  'trainings+/$trainingId+/runs.$runId.tsx:action': {
    // A run in progress to cancel (the default run has finished: cancelling it is a 409 for anyone).
    prepare: async (world) => {
      await captionUncaptioned(world)
      const active = await activeRunOf(world.training.id)
      world.activeRunId = active?.id ?? (await startRun({ trainingId: world.training.id, startedById: world.owner.id })).runId
    },
    params: ({ world }) => ({ runId: world.activeRunId ?? '' }),
    form: () => ({ intent: 'cancel' }),
    snapshot: async ({ world }) =>
      (await prisma.trainingRun.findUnique({ where: { id: world.activeRunId ?? '' }, select: { status: true } }))?.status,
  },

  // The API with the caller's session cookie and no token (see api-probe.ts).
  'api+/v1.$.ts:loader': {
    params: () => ({ '*': 'me' }),
    request: async ({ cookie }, url) => new Request(url, { headers: withCookie(cookie) }),
  },
  'api+/v1.$.ts:action': {
    params: () => ({ '*': (API_WRITE_PROBE?.path ?? '/me').slice(1) }),
    request: async ({ cookie }, url) =>
      new Request(url, { method: 'POST', body: '{}', headers: withCookie(cookie, { 'content-type': 'application/json' }) }),
  },

  'resources+/images.$imageId.$variant.tsx:loader#original': { params: () => ({ variant: 'original' }) },
  'resources+/runs.$runId.publish.tsx:action': {
    // Neither has a Hub token (another row may have saved the owner's): Publish refuses after the access check.
    prepare: async (world) => {
      await prisma.user.updateMany({ where: { id: { in: [world.owner.id, world.admin.id] } }, data: { huggingFaceToken: null } })
    },
    form: () => ({ repo: 'matrix-lora', visibility: 'private' }),
    snapshot: ({ world }) => prisma.hubPublication.count({ where: { runId: world.run.id } }),
  },
  'resources+/trainings.$trainingId.images.tsx:action': {
    request: async ({ cookie, principal }, url) => {
      const form = new FormData()
      const seed = 100 + ['anonymous', 'stranger', 'owner', 'admin'].indexOf(principal)
      const jpeg = await makeJpeg({ width: 512, height: 512, seed })
      form.append('files', new Blob([new Uint8Array(jpeg)], { type: 'image/jpeg' }), `matrix-${principal}.jpg`)
      return new Request(url, { method: 'POST', body: form, headers: withCookie(cookie) })
    },
    snapshot: ({ world }) => prisma.trainingImage.count({ where: { trainingId: world.training.id } }),
  },
  // Unsigned: a GET of the weights, and a POST that would overwrite them.
  'resources+/storage.$.tsx:action': {
    request: async ({ cookie }, url) =>
      new Request(url, {
        method: 'POST',
        body: new Uint8Array(Buffer.from('not the weights')),
        headers: withCookie(cookie, { 'content-type': 'application/octet-stream' }),
      }),
    snapshot: ({ world }) => storedDigest(world.runKeys.weightsKey),
  },
  'resources+/storage.$.tsx:loader#signed': {
    request: async ({ cookie, world }) => {
      const url = await (await getStorage()).signedGetUrl(world.runKeys.weightsKey, { expiresInS: 60 })
      return new Request(url, { headers: withCookie(cookie) })
    },
  },
  'resources+/storage.$.tsx:action#signed': {
    params: ({ principal }) => ({ '*': signedPutKey(principal) }),
    request: async ({ cookie, principal }) => {
      const contentType = 'application/octet-stream'
      const url = await (await getStorage()).signedPutUrl(signedPutKey(principal), { expiresInS: 60, contentType })
      return new Request(url, {
        method: 'PUT',
        body: new Uint8Array(Buffer.from(`uploaded by ${principal}`)),
        headers: withCookie(cookie, { 'content-type': contentType }),
      })
    },
    snapshot: async ({ principal }) => (await getStorage()).exists(signedPutKey(principal)),
  },

  'admin+/users.$userId.tsx:action': {
    prepare: async (world) => {
      await prisma.user.update({ where: { id: world.owner.id }, data: { roles: { set: [{ id: world.userRoleId }] } } })
    },
    form: ({ world }) => ({ intent: 'save-roles', roleId: [world.userRoleId, world.role.id] }),
    snapshot: async ({ world }) =>
      (
        await prisma.role.findMany({
          where: { users: { some: { id: world.owner.id } } },
          select: { name: true },
          orderBy: { name: 'asc' },
        })
      ).map((r) => r.name),
  },
  'admin+/roles._index.tsx:action': {
    form: ({ principal }) => ({ intent: 'create', name: `matrix-new-${principal}`, description: '' }),
    snapshot: () => prisma.role.count(),
  },
  'admin+/roles.$roleId.tsx:action': {
    form: ({ principal }) => ({ intent: 'rename', name: `matrix-role-${principal}`, description: '' }),
    snapshot: async ({ world }) => (await prisma.role.findUnique({ where: { id: world.role.id }, select: { name: true } }))?.name,
  },
  'admin+/gpus.tsx:action': {
    prepare: async (world) => {
      await prisma.gpu.update({ where: { id: world.gpu.id }, data: { status: 'running' } })
    },
    form: ({ world }) => ({ intent: 'terminate', gpuId: world.gpu.id }),
    snapshot: async ({ world }) => ({
      status: (await prisma.gpu.findUnique({ where: { id: world.gpu.id }, select: { status: true } }))?.status,
      asked: recordingProvider.terminated.length,
    }),
  },
}

/** Where each caller's signed PUT lands: its own key, so one caller's upload does not hide another's. */
function signedPutKey(principal: Principal) {
  return `matrix/signed-put-${principal}.bin`
}

const MATRIX_PENDING_GITHUB_ID = 'matrix-pending-github-id'

async function withOwnerPendingGitHub(cookie: string | undefined, world: World) {
  const pending = await serializePendingGitHubConnection({
    userId: world.owner.id,
    providerId: MATRIX_PENDING_GITHUB_ID,
    login: 'matrix-pending',
  })
  return [cookie, pending.split(';')[0]].filter(Boolean).join('; ')
}
