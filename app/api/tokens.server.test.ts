// The rules of a token, through the API: it acts as its user narrowed to its scopes, until it is revoked
// or expires; an admin's token sees other people's trainings only with the admin scope.
import { describe, expect, test } from 'vitest'
import { z } from 'zod'
import { requireTraining } from '~/trainings/access.server'
import { prisma } from '~/utils/db.server'
import { api, createTestToken, jsonOf } from '../../tests/api-utils'
import { createUser } from '../../tests/db-utils'
import { createReadyTraining } from '../../tests/run-fixtures'
import { defineOperation } from './operation'
import { apiJson } from './respond.server'
import { createApiRouter } from './router.server'
import { authenticateApiToken, issueApiToken, MAX_LIVE_TOKENS_PER_USER } from './tokens.server'

type ErrorBody = { error: { code: string; message: string } }

/**
 * A table of its own with the page's access check behind a read and a write operation, so the rules are
 * tested whatever the trainings API looks like.
 */
const params = z.object({ trainingId: z.string() })
const readTraining = defineOperation({
  method: 'GET',
  path: '/t/{trainingId}',
  operationId: 'readTraining',
  summary: 'read',
  tag: 'Test',
  scope: 'read',
  params,
  responses: { 200: { description: 'the training' } },
  async handler({ request, params }) {
    const { training } = await requireTraining(request, params.trainingId, 'read')
    return apiJson({ id: training.id, name: training.name })
  },
})
const renameTraining = defineOperation({
  method: 'PATCH',
  path: '/t/{trainingId}',
  operationId: 'renameTraining',
  summary: 'write',
  tag: 'Test',
  scope: 'write',
  params,
  body: { contentType: 'application/json', schema: z.object({ name: z.string().min(1) }) },
  responses: { 200: { description: 'renamed' } },
  async handler({ request, params, body }) {
    const { training } = await requireTraining(request, params.trainingId, 'update')
    await prisma.training.update({ where: { id: training.id }, data: { name: body.name } })
    return apiJson({ id: training.id, name: body.name })
  },
})
const router = createApiRouter([readTraining, renameTraining])
function call(path: string, token: string, init: { method?: string; json?: unknown } = {}) {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` }
  if (init.json !== undefined) headers['content-type'] = 'application/json'
  return router(
    new Request(`http://localhost/api/v1${path}`, {
      method: init.method ?? 'GET',
      headers,
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
    }),
    { cspNonce: '', clientAddress: '10.0.0.2' },
  )
}

describe('a token’s life', () => {
  test('a revoked token and an expired one are 401, and the row is not touched', async () => {
    const user = await createUser()
    const revoked = await createTestToken(user.id)
    await prisma.apiToken.update({ where: { id: revoked.id }, data: { revokedAt: new Date() } })
    const expired = await createTestToken(user.id, { expiresAt: new Date(Date.now() - 1) })
    for (const { token, id } of [revoked, expired]) {
      const response = await api('/me', { token })
      expect(response.status).toBe(401)
      expect((await jsonOf<ErrorBody>(response)).error.code).toBe('unauthorized')
      expect((await prisma.apiToken.findUniqueOrThrow({ where: { id } })).lastUsedAt).toBeNull()
    }
  })

  test('a token works until the very moment it expires', async () => {
    const user = await createUser()
    const expiresAt = new Date(Date.now() + 60_000)
    const { token } = await createTestToken(user.id, { expiresAt })
    expect((await authenticateApiToken(`Bearer ${token}`, new Date(expiresAt.getTime() - 1))).ok).toBe(true)
    expect(await authenticateApiToken(`Bearer ${token}`, expiresAt)).toEqual({ ok: false, reason: 'expired' })
  })

  test('a token is matched whole: the same token with one character changed is unknown', async () => {
    const user = await createUser()
    const { token } = await createTestToken(user.id)
    const changed = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`
    expect(await authenticateApiToken(`Bearer ${changed}`)).toEqual({ ok: false, reason: 'unknown' })
  })
})

describe('the limit of live tokens', () => {
  test('five creations at once with room for one: exactly one passes (on PostgreSQL each on its own connection)', async () => {
    for (let round = 0; round < 3; round++) {
      const user = await createUser()
      await prisma.apiToken.createMany({
        data: Array.from({ length: MAX_LIVE_TOKENS_PER_USER - 1 }, (_, i) => ({
          userId: user.id,
          name: `t${i}`,
          hash: `hash-${user.id}-${i}`,
          prefix: 'ty_abcd',
          scopes: 'read',
        })),
      })
      const outcomes = await Promise.all(
        Array.from({ length: 5 }, () =>
          issueApiToken({ userId: user.id, name: 'at once', scopes: ['read'], expiresAt: null }).then((r) =>
            r.ok ? 'created' : r.reason,
          ),
        ),
      )
      expect(outcomes.sort()).toEqual(['created', 'limit', 'limit', 'limit', 'limit'])
      expect(await prisma.apiToken.count({ where: { userId: user.id } })).toBe(MAX_LIVE_TOKENS_PER_USER)
    }
  })
})

describe('scopes narrow the user’s permissions', () => {
  test('a read token reads its user’s training but cannot change it (403 insufficient_scope, nothing written)', async () => {
    const user = await createUser()
    const training = await createReadyTraining(user.id, { name: 'Mine' })
    const { token } = await createTestToken(user.id, { scopes: ['read'] })
    expect(await jsonOf(await call(`/t/${training.id}`, token))).toEqual({ id: training.id, name: 'Mine' })
    const refused = await call(`/t/${training.id}`, token, { method: 'PATCH', json: { name: 'Renamed' } })
    expect(refused.status).toBe(403)
    expect((await jsonOf<ErrorBody>(refused)).error.code).toBe('insufficient_scope')
    expect((await prisma.training.findUniqueOrThrow({ where: { id: training.id } })).name).toBe('Mine')

    const { token: writer } = await createTestToken(user.id, { scopes: ['read', 'write'] })
    expect((await call(`/t/${training.id}`, writer, { method: 'PATCH', json: { name: 'Renamed' } })).status).toBe(200)
    expect((await prisma.training.findUniqueOrThrow({ where: { id: training.id } })).name).toBe('Renamed')
  })

  test('another person’s training is a 404 to a user’s token, whatever its scopes', async () => {
    const owner = await createUser()
    const stranger = await createUser()
    const training = await createReadyTraining(owner.id)
    const { token } = await createTestToken(stranger.id, { scopes: ['read', 'write', 'admin'] })
    expect((await call(`/t/${training.id}`, token)).status).toBe(404)
    expect((await call(`/t/${training.id}`, token, { method: 'PATCH', json: { name: 'x' } })).status).toBe(404)
  })

  test('an admin’s token without the admin scope sees another user’s training as a 404; with it, sees and changes it', async () => {
    const owner = await createUser()
    const admin = await createUser({ roles: ['admin', 'user'] })
    const training = await createReadyTraining(owner.id, { name: 'Theirs' })

    const plain = await createTestToken(admin.id, { scopes: ['read', 'write'] })
    const hidden = await call(`/t/${training.id}`, plain.token)
    expect(hidden.status).toBe(404)
    expect((await jsonOf<ErrorBody>(hidden)).error).toEqual({ code: 'not_found', message: 'Not found.' })
    expect((await call(`/t/${training.id}`, plain.token, { method: 'PATCH', json: { name: 'x' } })).status).toBe(404)

    const readAdmin = await createTestToken(admin.id, { scopes: ['read', 'admin'] })
    expect(await jsonOf(await call(`/t/${training.id}`, readAdmin.token))).toEqual({ id: training.id, name: 'Theirs' })
    // The admin scope widens reading; changing still needs write.
    expect((await call(`/t/${training.id}`, readAdmin.token, { method: 'PATCH', json: { name: 'x' } })).status).toBe(403)

    const fullAdmin = await createTestToken(admin.id, { scopes: ['read', 'write', 'admin'] })
    expect((await call(`/t/${training.id}`, fullAdmin.token, { method: 'PATCH', json: { name: 'By admin' } })).status).toBe(200)
    expect((await prisma.training.findUniqueOrThrow({ where: { id: training.id } })).name).toBe('By admin')
  })
})
