// Settings › Webhooks: adding an endpoint shows its secret once (stored sealed), refusals come back beside
// their field with what was typed kept, the list, and each endpoint's page: disable and enable, a test
// event queued, delete; someone else's endpoint is a 404.
import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { openWebhookSecret } from '~/webhooks/endpoints.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../../tests/db-utils'
import { action, loader } from './webhooks'
import { action as endpointAction, loader as endpointLoader } from './webhooks_.$webhookId'

async function signedIn() {
  const user = await createUser()
  return { user, cookie: (await createSessionCookie(user.id)).cookie }
}

const add = (form: Record<string, string | string[]>, cookie: string) =>
  callRoute(() => action({ ...ctx, request: makeRequest('/settings/webhooks', { form, cookie }) }))

const onEndpoint = (webhookId: string, form: Record<string, string> | null, cookie: string) =>
  callRoute(() =>
    form
      ? endpointAction({
          ...ctx,
          params: { webhookId },
          request: makeRequest(`/settings/webhooks/${webhookId}`, { form, cookie }),
        })
      : endpointLoader({ ...ctx, params: { webhookId }, request: makeRequest(`/settings/webhooks/${webhookId}`, { cookie }) }),
  )

describe('/settings/webhooks', () => {
  test('add: the secret is shown once and stored sealed; the list shows the endpoint, never the secret', async () => {
    const { user, cookie } = await signedIn()
    const empty = await (await callRoute(() => loader({ ...ctx, request: makeRequest('/settings/webhooks', { cookie }) }))).json()
    expect(empty.endpoints).toEqual([])

    const res = await add(
      { url: ' https://93.184.215.14/hook ', events: ['run.succeeded', 'run.failed'], description: 'Studio' },
      cookie,
    )
    expect(res.status).toBe(200)
    const { created } = await res.json()
    expect(created.secret).toMatch(/^whsec_/)
    const row = await prisma.webhookEndpoint.findFirstOrThrow({ where: { userId: user.id } })
    expect(row).toMatchObject({
      url: 'https://93.184.215.14/hook',
      events: 'run.succeeded,run.failed',
      description: 'Studio',
      enabled: true,
    })
    expect(row.secret).not.toContain(created.secret)
    expect(openWebhookSecret(row.id, row.secret)).toBe(created.secret)

    const listed = await (
      await callRoute(() => loader({ ...ctx, request: makeRequest('/settings/webhooks', { cookie }) }))
    ).json()
    expect(listed.endpoints).toEqual([expect.objectContaining({ id: row.id, events: ['run.succeeded', 'run.failed'] })])
    expect(JSON.stringify(listed)).not.toContain(created.secret)

    // Every event ticked is stored as "*" (and so gets events added later too).
    await add(
      {
        url: 'https://93.184.215.14/all',
        events: [
          'run.started',
          'run.phase_changed',
          'run.sample_added',
          'run.checkpoint_added',
          'run.succeeded',
          'run.failed',
          'run.canceled',
        ],
      },
      cookie,
    )
    expect(
      (await prisma.webhookEndpoint.findFirstOrThrow({ where: { userId: user.id, url: 'https://93.184.215.14/all' } })).events,
    ).toBe('*')
  })

  test('refusals: beside their field, with what was typed kept, and nothing saved', async () => {
    const { user, cookie } = await signedIn()
    const refused = await add({ url: 'http://169.254.169.254/latest/meta-data/', events: ['run.succeeded'] }, cookie)
    expect(refused.status).toBe(400)
    const body = await refused.json()
    expect(body.reply.fieldErrors.url[0]).toContain('169.254.169.254 is a cloud metadata address')
    expect(body.reply.values.url).toBe('http://169.254.169.254/latest/meta-data/')
    expect(body.created).toBeNull()

    const noEvents = await (await add({ url: 'https://93.184.215.14/hook' }, cookie)).json()
    expect(noEvents.reply.fieldErrors.events).toEqual(['Choose at least one event'])
    const badEvent = await add({ url: 'https://93.184.215.14/hook', events: ['run.exploded'] }, cookie)
    expect(badEvent.status).toBe(400)
    const noUrl = await (await add({ events: ['run.failed'] }, cookie)).json()
    expect(noUrl.reply.fieldErrors.url).toEqual(['Enter the URL that receives the events'])
    expect(await prisma.webhookEndpoint.count({ where: { userId: user.id } })).toBe(0)
  })

  test('an endpoint’s page: disable, enable, send a test event, delete; someone else’s is a 404', async () => {
    const { user, cookie } = await signedIn()
    await add({ url: 'https://93.184.215.14/hook', events: ['run.failed'] }, cookie)
    const { id } = await prisma.webhookEndpoint.findFirstOrThrow({ where: { userId: user.id } })

    const page = await (await onEndpoint(id, null, cookie)).json()
    expect(page).toMatchObject({ endpoint: { id, enabled: true }, deliveries: [] })

    expect((await onEndpoint(id, { intent: 'disable' }, cookie)).status).toBe(302)
    expect((await prisma.webhookEndpoint.findUniqueOrThrow({ where: { id } })).enabled).toBe(false)
    // A disabled endpoint gets no test event (it would wait, unsent, until enabled).
    await onEndpoint(id, { intent: 'test' }, cookie)
    expect(await prisma.webhookDelivery.count({ where: { endpointId: id } })).toBe(0)
    await onEndpoint(id, { intent: 'enable' }, cookie)
    expect((await prisma.webhookEndpoint.findUniqueOrThrow({ where: { id } })).enabled).toBe(true)

    const tested = await onEndpoint(id, { intent: 'test' }, cookie)
    expect(tested.headers.get('location')).toBe(`/settings/webhooks/${id}`)
    const log = await (await onEndpoint(id, null, cookie)).json()
    expect(log.deliveries).toEqual([expect.objectContaining({ eventType: 'webhook.test', status: 'pending', attempts: 0 })])

    expect((await onEndpoint(id, { intent: 'explode' }, cookie)).status).toBe(400)

    const stranger = await signedIn()
    expect((await onEndpoint(id, null, stranger.cookie)).status).toBe(404)
    expect((await onEndpoint(id, { intent: 'delete' }, stranger.cookie)).status).toBe(404)
    expect(await prisma.webhookEndpoint.count({ where: { id } })).toBe(1)

    const deleted = await onEndpoint(id, { intent: 'delete' }, cookie)
    expect(deleted.headers.get('location')).toBe('/settings/webhooks')
    expect(await prisma.webhookEndpoint.count({ where: { id } })).toBe(0)
  })
})
