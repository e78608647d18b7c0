// Delivery against a local receiver: the signature verifies with the library's own verifier, a 500 is
// tried again and then delivered, a hanging receiver times out and is retried, a delivery is given up
// after its schedule, a redirect is not followed, the URL is checked again at every attempt (a name that
// now resolves to a private address is refused) and the connection goes to the address checked, and two
// processes sending at once send each delivery once.
import { afterEach, describe, expect, test } from 'vitest'
import { Webhook } from 'standardwebhooks'
import { prisma } from '~/utils/db.server'
import { createUser } from '../../tests/db-utils'
import { startWebhookReceiver, type WebhookReceiver } from '../../tests/webhook-receiver'
import { deliverDueWebhooks, RESPONSE_KEEP_BYTES } from './deliver.server'
import { emitTestEvent } from './emit.server'
import { createEndpoint } from './endpoints.server'
import type { LookupAll } from './url-guard.server'

const allowLocal = { allowed: '127.0.0.1/32' }
let receiver: WebhookReceiver | null = null
afterEach(async () => {
  await receiver?.close()
  receiver = null
})

async function endpointFor(url: string, guard: { allowed: string; lookup?: LookupAll } = allowLocal) {
  const user = await createUser()
  const created = await createEndpoint({ userId: user.id, url }, { guard })
  if (!created.ok) throw new Error(created.message)
  return created.value
}

const deliver = (options: Partial<Parameters<typeof deliverDueWebhooks>[0]> = {}) =>
  deliverDueWebhooks({ workerId: 'test-worker', guard: allowLocal, ...options })

const rowOf = (id: string) => prisma.webhookDelivery.findUniqueOrThrow({ where: { id } })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('deliverDueWebhooks', () => {
  test('signed the Standard Webhooks way: the library’s verifier accepts it, with the delivery id as webhook-id', async () => {
    receiver = await startWebhookReceiver({ fallback: { status: 200, body: 'thanks' } })
    const { endpoint, secret } = await endpointFor(receiver.url)
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/)
    const id = await emitTestEvent(prisma, endpoint.id)
    expect(await deliver()).toMatchObject({ claimed: 1, delivered: 1 })

    expect(receiver.received).toHaveLength(1)
    const [got] = receiver.received
    expect(got!.headers['webhook-id']).toBe(id)
    expect(got!.headers['content-type']).toBe('application/json')
    const verified = new Webhook(secret).verify(got!.body, got!.headers) as { type: string; data: { webhookId: string } }
    expect(verified).toMatchObject({ type: 'webhook.test', data: { webhookId: endpoint.id } })
    // Another secret, or a changed body, does not verify.
    expect(() =>
      new Webhook(`whsec_${Buffer.from('another secret of 24 b.').toString('base64')}`).verify(got!.body, got!.headers),
    ).toThrow()
    expect(() => new Webhook(secret).verify(got!.body.replace('webhook.test', 'run.succeeded'), got!.headers)).toThrow()

    expect(await rowOf(id)).toMatchObject({
      status: 'delivered',
      attempts: 1,
      lastStatusCode: 200,
      lastResponse: 'thanks',
      lockedBy: null,
    })
    // The secret is stored sealed, never as given.
    const stored = await prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })
    expect(stored.secret).not.toContain(secret.slice(6))
  })

  test('a 500 is tried again after the schedule’s wait, then delivered (attempts 2, the same webhook-id)', async () => {
    receiver = await startWebhookReceiver({ answers: [{ status: 500, body: 'boom' }], fallback: { status: 204 } })
    const { endpoint } = await endpointFor(receiver.url)
    const id = await emitTestEvent(prisma, endpoint.id)
    const retryDelaysMs = [300]
    expect(await deliver({ retryDelaysMs })).toMatchObject({ retrying: 1 })
    const first = await rowOf(id)
    expect(first).toMatchObject({ status: 'pending', attempts: 1, lastStatusCode: 500, lastResponse: 'boom' })
    expect(first.nextAttemptAt.getTime()).toBeGreaterThan(Date.now())
    // Not due yet: nothing is sent.
    expect(await deliver({ retryDelaysMs })).toMatchObject({ claimed: 0 })
    await sleep(350)
    expect(await deliver({ retryDelaysMs })).toMatchObject({ delivered: 1 })
    expect(await rowOf(id)).toMatchObject({ status: 'delivered', attempts: 2, lastStatusCode: 204 })
    expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual([id, id])
  })

  test('a receiver that hangs: the timeout is recorded and the delivery tried again', async () => {
    receiver = await startWebhookReceiver({ answers: ['hang'], fallback: { status: 200 } })
    const { endpoint } = await endpointFor(receiver.url)
    const id = await emitTestEvent(prisma, endpoint.id)
    const started = Date.now()
    expect(await deliver({ timeoutMs: 400, retryDelaysMs: [0] })).toMatchObject({ retrying: 1 })
    expect(Date.now() - started).toBeLessThan(5000)
    expect(await rowOf(id)).toMatchObject({
      status: 'pending',
      attempts: 1,
      lastStatusCode: null,
      lastResponse: 'No answer within 0.4 s (timed out).',
    })
    expect(await deliver({ timeoutMs: 400, retryDelaysMs: [0] })).toMatchObject({ delivered: 1 })
    expect(await rowOf(id)).toMatchObject({ status: 'delivered', attempts: 2 })
  })

  test('given up after the schedule: failed, with the last answer kept (its first KB)', async () => {
    receiver = await startWebhookReceiver({ fallback: { status: 503, body: 'x'.repeat(5000) } })
    const { endpoint } = await endpointFor(receiver.url)
    const id = await emitTestEvent(prisma, endpoint.id)
    const retryDelaysMs = [0, 0]
    for (let i = 0; i < 5; i++) await deliver({ retryDelaysMs })
    const row = await rowOf(id)
    expect(row).toMatchObject({ status: 'failed', attempts: 3, lastStatusCode: 503 })
    expect(row.lastResponse).toHaveLength(RESPONSE_KEEP_BYTES)
    expect(receiver.received).toHaveLength(3)
  })

  test('a redirect is not followed: it counts as a failed attempt', async () => {
    const target = await startWebhookReceiver()
    receiver = await startWebhookReceiver({ fallback: { status: 302 } })
    try {
      const { endpoint } = await endpointFor(receiver.url)
      const id = await emitTestEvent(prisma, endpoint.id)
      await deliver()
      expect(await rowOf(id)).toMatchObject({ status: 'pending', lastStatusCode: 302 })
      expect(target.received).toHaveLength(0)
    } finally {
      await target.close()
    }
  })

  test('checked again at delivery: a name that resolves to a private address now is not sent to', async () => {
    receiver = await startWebhookReceiver()
    const url = `http://hooks.example.test:${receiver.port}/hooks`
    const { endpoint } = await endpointFor(url, { ...allowLocal, lookup: async () => [{ address: '127.0.0.1', family: 4 }] })
    const id = await emitTestEvent(prisma, endpoint.id)
    await deliver({ guard: { ...allowLocal, lookup: async () => [{ address: '10.0.0.5', family: 4 }] } })
    const row = await rowOf(id)
    expect(row).toMatchObject({ status: 'pending', attempts: 1, lastStatusCode: null })
    expect(row.lastResponse).toContain(
      'Not sent: The URL points at a network the server may not send to (10.0.0.5 is a private address)',
    )
    expect(receiver.received).toHaveLength(0)
  })

  test('the connection goes to the address checked (pinned), not to what the system resolver says', async () => {
    receiver = await startWebhookReceiver()
    // hooks.example.test has no DNS record: only the pinned address can reach the receiver.
    const url = `http://hooks.example.test:${receiver.port}/hooks`
    const lookup: LookupAll = async () => [{ address: '127.0.0.1', family: 4 }]
    const { endpoint } = await endpointFor(url, { ...allowLocal, lookup })
    const id = await emitTestEvent(prisma, endpoint.id)
    await deliver({ guard: { ...allowLocal, lookup } })
    expect(await rowOf(id)).toMatchObject({ status: 'delivered' })
    expect(receiver.received[0]!.headers.host).toBe(`hooks.example.test:${receiver.port}`)
  })

  test('a disabled endpoint is not sent to', async () => {
    receiver = await startWebhookReceiver()
    const { endpoint } = await endpointFor(receiver.url)
    const id = await emitTestEvent(prisma, endpoint.id)
    await prisma.webhookEndpoint.update({ where: { id: endpoint.id }, data: { enabled: false } })
    await deliver()
    expect(await rowOf(id)).toMatchObject({ status: 'pending', attempts: 0 })
    expect(receiver.received).toHaveLength(0)
  })

  test('two processes sending at once send each delivery once', async () => {
    receiver = await startWebhookReceiver()
    const { endpoint } = await endpointFor(receiver.url)
    const ids = []
    for (let i = 0; i < 12; i++) ids.push(await emitTestEvent(prisma, endpoint.id))
    const [a, b] = await Promise.all([deliver({ workerId: 'a', batchSize: 12 }), deliver({ workerId: 'b', batchSize: 12 })])
    expect(a.claimed + b.claimed).toBe(12)
    expect(receiver.received.map((r) => r.headers['webhook-id']).sort()).toEqual([...ids].sort())
    expect(await prisma.webhookDelivery.count({ where: { endpointId: endpoint.id, status: 'delivered', attempts: 1 } })).toBe(12)
  })
})
