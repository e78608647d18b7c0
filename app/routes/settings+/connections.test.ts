import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { getToast } from '~/utils/toast.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest, mergeCookies, uniqueEmail } from '../../../tests/db-utils'
import { action, loader } from './connections'

let providerCounter = 0

async function connect(userId: string, login = `octo-${++providerCounter}`) {
  return prisma.connection.create({
    data: { userId, providerName: 'github', providerId: `${process.pid}${++providerCounter}`, providerDisplayName: login },
  })
}

async function userWithSession({ password = true } = {}) {
  const user = await createUser({ email: uniqueEmail('conn'), password: password ? undefined : null })
  const { cookie } = await createSessionCookie(user.id)
  return { user, cookie }
}

function disconnect(cookie: string, connectionId: string, intent = 'disconnect') {
  return callRoute(() =>
    action({ request: makeRequest('/settings/connections', { form: { intent, connectionId }, cookie }), ...ctx }),
  )
}

describe('the connections page', () => {
  test('needs a login', async () => {
    const res = await callRoute(() => loader({ request: makeRequest('/settings/connections'), ...ctx }))
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/login?redirectTo=%2Fsettings%2Fconnections')
  })

  test("lists the user's own connections only, and whether they have a password", async () => {
    const { user, cookie } = await userWithSession({ password: false })
    const mine = await connect(user.id, 'mine')
    const someoneElse = await createUser({ email: uniqueEmail('conn-else') })
    await connect(someoneElse.id, 'theirs')
    const res = await callRoute(() => loader({ request: makeRequest('/settings/connections', { cookie }), ...ctx }))
    const data = (await res.json()) as { connections: Array<{ id: string; providerDisplayName: string }>; hasPassword: boolean }
    expect(data.hasPassword).toBe(false)
    expect(data.connections).toMatchObject([{ id: mine.id, providerDisplayName: 'mine' }])
  })
})

describe('disconnecting', () => {
  test('a user with a password disconnects GitHub: the row is gone and a toast says so', async () => {
    const { user, cookie } = await userWithSession()
    const connection = await connect(user.id, 'monalisa')
    const res = await disconnect(cookie, connection.id)
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/settings/connections')
    expect(await prisma.connection.count({ where: { id: connection.id } })).toBe(0)
    const { toast } = await getToast(makeRequest('/', { cookie: mergeCookies(undefined, res) }))
    expect(toast).toMatchObject({ type: 'success', description: 'Disconnected GitHub account @monalisa.' })
  })

  test('the last way to log in cannot be removed: a clear refusal and nothing deleted', async () => {
    const { user, cookie } = await userWithSession({ password: false })
    const connection = await connect(user.id)
    const res = await disconnect(cookie, connection.id)
    expect(res.status).toBe(400)
    const data = (await res.json()) as { formErrors: string[]; lastLoginMethod: boolean }
    expect(data.formErrors[0]).toMatch(/^Create a password first/)
    expect(data.lastLoginMethod).toBe(true)
    expect(await prisma.connection.count({ where: { id: connection.id } })).toBe(1)
  })

  test('without a password, one of two connections may go, the last may not', async () => {
    const { user, cookie } = await userWithSession({ password: false })
    const first = await connect(user.id)
    const second = await connect(user.id)
    expect((await disconnect(cookie, first.id)).status).toBe(302)
    expect((await disconnect(cookie, second.id)).status).toBe(400)
    expect(await prisma.connection.findMany({ select: { id: true }, where: { userId: user.id } })).toEqual([{ id: second.id }])
  })

  test("another user's connection is a 404 and stays", async () => {
    const { cookie } = await userWithSession()
    const owner = await createUser({ email: uniqueEmail('conn-owner') })
    const theirs = await connect(owner.id)
    const res = await disconnect(cookie, theirs.id)
    expect(res.status).toBe(404)
    expect(await prisma.connection.count({ where: { id: theirs.id } })).toBe(1)
  })

  test('an unknown intent changes nothing', async () => {
    const { user, cookie } = await userWithSession()
    const connection = await connect(user.id)
    const res = await disconnect(cookie, connection.id, 'delete-everything')
    expect(res.status).toBe(400)
    expect(await prisma.connection.count({ where: { id: connection.id } })).toBe(1)
  })
})
