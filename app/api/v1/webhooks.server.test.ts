// The webhook operations of the API: register (the secret once, a refused address in words), list, read,
// change, test, the delivery log, delete; someone else's endpoint is a 404; a read-only token is refused.
import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { api, createTestToken, jsonOf } from '../../../tests/api-utils'
import { createUser } from '../../../tests/db-utils'

type Endpoint = { id: string; url: string; events: string[]; enabled: boolean; description: string; secret?: string }
type ErrorBody = { error: { code: string; message: string; fields?: Record<string, string[]> } }

async function withToken(scopes: ('read' | 'write')[] = ['read', 'write']) {
  const user = await createUser()
  return { user, token: (await createTestToken(user.id, { scopes })).token }
}

describe('/api/v1/webhooks', () => {
  test('register, list, read, change, test, log, delete', async () => {
    const { user, token } = await withToken()
    const created = await api('/webhooks', {
      token,
      json: { url: 'https://93.184.215.14/hooks', events: ['run.succeeded', 'run.failed'], description: 'CI' },
    })
    expect(created.status).toBe(201)
    const body = await jsonOf<Endpoint>(created)
    expect(body).toMatchObject({
      url: 'https://93.184.215.14/hooks',
      events: ['run.succeeded', 'run.failed'],
      enabled: true,
      description: 'CI',
    })
    expect(body.secret).toMatch(/^whsec_/)
    expect(created.headers.get('location')).toBe(`/api/v1/webhooks/${body.id}`)
    const row = await prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: body.id } })
    expect(row).toMatchObject({ userId: user.id, events: 'run.succeeded,run.failed' })
    expect(row.tokenId).not.toBeNull()

    const list = await jsonOf<{ data: Endpoint[]; nextCursor: string | null }>(await api('/webhooks', { token }))
    expect(list.data.map((e) => e.id)).toEqual([body.id])
    expect(JSON.stringify(list)).not.toContain(body.secret!)
    const one = await jsonOf<Endpoint>(await api(`/webhooks/${body.id}`, { token }))
    expect(one.secret).toBeUndefined()

    const patched = await api(`/webhooks/${body.id}`, { token, method: 'PATCH', json: { enabled: false, events: ['*'] } })
    expect(patched.status).toBe(200)
    expect(await jsonOf(patched)).toMatchObject({ enabled: false, events: ['*'] })

    const tested = await api(`/webhooks/${body.id}/test`, { token, method: 'POST' })
    expect(tested.status).toBe(202)
    const { deliveryId } = await jsonOf<{ deliveryId: string }>(tested)
    const log = await jsonOf<{
      data: { id: string; eventType: string; status: string; attempts: number; nextAttemptAt: string | null }[]
    }>(await api(`/webhooks/${body.id}/deliveries`, { token }))
    expect(log.data).toEqual([
      expect.objectContaining({
        id: deliveryId,
        eventType: 'webhook.test',
        status: 'pending',
        attempts: 0,
        nextAttemptAt: expect.any(String),
      }),
    ])

    expect((await api(`/webhooks/${body.id}`, { token, method: 'DELETE' })).status).toBe(204)
    expect(await prisma.webhookEndpoint.count({ where: { id: body.id } })).toBe(0)
    expect(await prisma.webhookDelivery.count({ where: { id: deliveryId } })).toBe(0)
  })

  test.each([
    ['loopback', 'http://127.0.0.1:8080/hook', 'loopback'],
    ['metadata', 'http://169.254.169.254/latest/meta-data/', 'metadata'],
    ['a decimal spelling of loopback', 'http://2130706433/', 'loopback'],
    ['localhost', 'http://localhost/hook', 'loopback'],
  ])('an address the server may not send to (%s) is a 422 on the url field, and nothing is saved', async (_n, url, word) => {
    const { user, token } = await withToken()
    const res = await api('/webhooks', { token, json: { url } })
    expect(res.status).toBe(422)
    const body = await jsonOf<ErrorBody>(res)
    expect(body.error.code).toBe('validation_failed')
    expect(body.error.fields?.url?.[0]).toContain(word)
    expect(await prisma.webhookEndpoint.count({ where: { userId: user.id } })).toBe(0)
  })

  test('a changed URL is checked too', async () => {
    const { token } = await withToken()
    const { id } = await jsonOf<Endpoint>(await api('/webhooks', { token, json: { url: 'https://93.184.215.14/a' } }))
    const res = await api(`/webhooks/${id}`, { token, method: 'PATCH', json: { url: 'http://10.0.0.1/' } })
    expect(res.status).toBe(422)
    expect((await prisma.webhookEndpoint.findUniqueOrThrow({ where: { id } })).url).toBe('https://93.184.215.14/a')
  })

  test('bad input: unknown events, a non-http URL, a long description — each a sentence', async () => {
    const { token } = await withToken()
    const res = await api('/webhooks', {
      token,
      json: { url: 'ftp://93.184.215.14/', events: ['run.exploded'], description: 'x'.repeat(300) },
    })
    expect(res.status).toBe(422)
    const { error } = await jsonOf<ErrorBody>(res)
    expect(Object.keys(error.fields ?? {}).sort()).toEqual(['description', 'events', 'url'])
  })

  test('someone else’s endpoint is a 404 for every operation; a read-only token is refused', async () => {
    const owner = await withToken()
    const { id } = await jsonOf<Endpoint>(
      await api('/webhooks', { token: owner.token, json: { url: 'https://93.184.215.14/a' } }),
    )
    const stranger = await withToken()
    for (const [method, path] of [
      ['GET', `/webhooks/${id}`],
      ['PATCH', `/webhooks/${id}`],
      ['DELETE', `/webhooks/${id}`],
      ['POST', `/webhooks/${id}/test`],
      ['GET', `/webhooks/${id}/deliveries`],
    ] as const) {
      const res = await api(path, { token: stranger.token, method, ...(method === 'PATCH' ? { json: { enabled: false } } : {}) })
      expect(res.status, `${method} ${path}`).toBe(404)
    }
    expect(await jsonOf(await api('/webhooks', { token: stranger.token }))).toEqual({ data: [], nextCursor: null })
    expect(await prisma.webhookEndpoint.findUniqueOrThrow({ where: { id } })).toMatchObject({ enabled: true })
    expect(await prisma.webhookDelivery.count({ where: { endpointId: id } })).toBe(0)

    const readOnly = await withToken(['read'])
    const res = await api('/webhooks', { token: readOnly.token, json: { url: 'https://93.184.215.14/a' } })
    expect(res.status).toBe(403)
    expect((await jsonOf<ErrorBody>(res)).error.code).toBe('insufficient_scope')
  })
})

describe('the OpenAPI document', () => {
  test('describes every webhook operation with its named schemas', async () => {
    const res = await api('/openapi.json')
    expect(res.status).toBe(200)
    const doc = await jsonOf<{
      paths: Record<string, Record<string, unknown>>
      components: { schemas: Record<string, unknown> }
    }>(res)
    expect(Object.keys(doc.paths['/webhooks']!).sort()).toEqual(['get', 'post'])
    expect(Object.keys(doc.paths['/webhooks/{webhookId}']!).sort()).toEqual(['delete', 'get', 'patch'])
    expect(doc.paths['/webhooks/{webhookId}/test']).toHaveProperty('post')
    expect(doc.paths['/webhooks/{webhookId}/deliveries']).toHaveProperty('get')
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(['WebhookEndpoint', 'WebhookEndpointWithSecret', 'WebhookDelivery']),
    )
  })
})
