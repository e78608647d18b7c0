import { describe, expect, test } from 'vitest'
import { z } from 'zod'
import { prisma } from '~/utils/db.server'
import { api, createTestToken, jsonOf } from '../../tests/api-utils'
import { createUser } from '../../tests/db-utils'
import { defineOperation } from './operation'
import { apiJson } from './respond.server'
import { createApiRouter } from './router.server'

describe('the API router', () => {
  test('a token acts as its user; the answer is JSON, not cached, with the rate limit', async () => {
    const user = await createUser()
    const { token, id } = await createTestToken(user.id, { scopes: ['read'] })
    const response = await api('/me', { token })
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(response.headers.get('x-ratelimit-limit')).toBe('120')
    expect(await jsonOf(response)).toEqual({ id: user.id, email: user.email, name: user.name, token: { id, scopes: ['read'] } })
    const row = await prisma.apiToken.findUniqueOrThrow({ where: { id } })
    expect(row.lastUsedAt).not.toBeNull()
  })

  test.each([
    ['no header', null, 'This needs an API token'],
    ['a session cookie instead', 'cookie', 'This needs an API token'],
    ['not a token', 'Bearer hello', 'not a Trainyard API token'],
    ['an unknown token', `Bearer ty_${'a'.repeat(40)}`, 'not valid'],
  ])('%s: 401 in the one error shape', async (_name, authorization, message) => {
    const headers: Record<string, string> = {}
    if (authorization === 'cookie') headers.cookie = '__trainyard_session=whatever'
    else if (authorization) headers.authorization = authorization
    const response = await api('/me', { headers })
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe('Bearer')
    const body = await jsonOf<{ error: { code: string; message: string } }>(response)
    expect(body.error.code).toBe('unauthorized')
    expect(body.error.message).toContain(message)
  })

  test('a revoked or expired token is refused, saying which', async () => {
    const user = await createUser()
    const revoked = await createTestToken(user.id)
    await prisma.apiToken.update({ where: { id: revoked.id }, data: { revokedAt: new Date() } })
    const expired = await createTestToken(user.id, { expiresAt: new Date(Date.now() - 1000) })
    expect((await jsonOf<{ error: { message: string } }>(await api('/me', { token: revoked.token }))).error.message).toMatch(
      /revoked/,
    )
    expect((await jsonOf<{ error: { message: string } }>(await api('/me', { token: expired.token }))).error.message).toMatch(
      /expired/,
    )
  })

  test('unknown paths are 404 and wrong methods 405 with Allow, in the error shape', async () => {
    const nowhere = await api('/nowhere')
    expect(nowhere.status).toBe(404)
    expect((await jsonOf<{ error: { code: string } }>(nowhere)).error.code).toBe('not_found')
    const wrong = await api('/me', { method: 'DELETE' })
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get('allow')).toBe('GET')
  })

  test('the OpenAPI document is public and lists /me', async () => {
    const response = await api('/openapi.json')
    expect(response.status).toBe(200)
    const doc = await jsonOf<{ openapi: string; paths: Record<string, unknown> }>(response)
    expect(doc.openapi).toBe('3.1.0')
    expect(Object.keys(doc.paths)).toContain('/me')
  })

  describe('on a table of its own', () => {
    const echo = defineOperation({
      method: 'POST',
      path: '/echo/{name}',
      operationId: 'echo',
      summary: 'echo',
      tag: 'Test',
      scope: 'write',
      params: z.object({ name: z.string().regex(/^[a-z]+$/) }),
      query: z.object({ times: z.coerce.number().int().min(1).max(3).default(1) }),
      body: { contentType: 'application/json', schema: z.object({ text: z.string().min(1) }) },
      responses: { 200: { description: 'echoed' } },
      async handler({ params, query, body }) {
        return apiJson({ name: params.name, text: body.text.repeat(query.times) })
      },
    })
    const router = createApiRouter([echo])
    const call = (path: string, init: RequestInit) =>
      router(new Request(`http://localhost/api/v1${path}`, init), { cspNonce: '', clientAddress: '10.0.0.1' })

    test('params, query and body are checked against the schemas; the handler gets them parsed', async () => {
      const user = await createUser()
      const { token } = await createTestToken(user.id)
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
      const ok = await call('/echo/ada?times=2', { method: 'POST', headers, body: JSON.stringify({ text: 'hi' }) })
      expect(await jsonOf(ok)).toEqual({ name: 'ada', text: 'hihi' })
      const badQuery = await call('/echo/ada?times=9', { method: 'POST', headers, body: JSON.stringify({ text: 'hi' }) })
      expect(badQuery.status).toBe(422)
      expect((await jsonOf<{ error: { fields: Record<string, string[]> } }>(badQuery)).error.fields.times).toHaveLength(1)
      const badBody = await call('/echo/ada', { method: 'POST', headers, body: JSON.stringify({ text: '' }) })
      expect(badBody.status).toBe(422)
      expect(Object.keys((await jsonOf<{ error: { fields: Record<string, string[]> } }>(badBody)).error.fields)).toEqual(['text'])
      expect((await call('/echo/ada', { method: 'POST', headers, body: '{not json' })).status).toBe(400)
      expect(
        (await call('/echo/ada', { method: 'POST', headers: { ...headers, 'content-type': 'text/plain' }, body: '{}' })).status,
      ).toBe(415)
      expect((await call('/echo/ADA', { method: 'POST', headers, body: JSON.stringify({ text: 'x' }) })).status).toBe(404)
      const huge = JSON.stringify({ text: 'x'.repeat(1024 * 1024 + 10) })
      expect((await call('/echo/ada', { method: 'POST', headers, body: huge })).status).toBe(413)
    })

    test('a read-only token may not call a write operation', async () => {
      const user = await createUser()
      const { token } = await createTestToken(user.id, { scopes: ['read'] })
      const response = await call('/echo/ada', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'hi' }),
      })
      expect(response.status).toBe(403)
      expect((await jsonOf<{ error: { code: string } }>(response)).error.code).toBe('insufficient_scope')
    })
  })
})
