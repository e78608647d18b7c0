import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { getToast } from '~/utils/toast.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest, mergeCookies } from '../../../tests/db-utils'
import { action, loader } from './_index'

async function toastOf(response: Response) {
  return (await getToast(makeRequest('/', { cookie: mergeCookies(undefined, response) }))).toast
}

describe('/settings (profile)', () => {
  test('shows the email and the name of the logged-in user', async () => {
    const user = await createUser({ name: 'Ada Lovelace' })
    const { cookie } = await createSessionCookie(user.id)
    const res = await callRoute(() => loader({ request: makeRequest('/settings', { cookie }), ...ctx }))
    expect(await res.json()).toEqual({ email: user.email, name: 'Ada Lovelace' })
  })

  test('saves the name, trimmed, and says so', async () => {
    const user = await createUser({ name: 'Old Name' })
    const { cookie } = await createSessionCookie(user.id)
    const res = await callRoute(() =>
      action({ request: makeRequest('/settings', { form: { name: '  Grace Hopper  ' }, cookie }), ...ctx }),
    )
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/settings')
    expect(await toastOf(res)).toMatchObject({ type: 'success', description: 'Your profile has been saved.' })
    expect(await prisma.user.findUniqueOrThrow({ where: { id: user.id } })).toMatchObject({
      name: 'Grace Hopper',
      email: user.email,
    })
  })

  test.each([
    ['an empty name', '   ', 'Name is required'],
    ['a name over 80 characters', 'x'.repeat(81), 'Name must be at most 80 characters'],
  ])('refuses %s and changes nothing', async (_, name, message) => {
    const user = await createUser({ name: 'Kept Name' })
    const { cookie } = await createSessionCookie(user.id)
    const res = await callRoute(() => action({ request: makeRequest('/settings', { form: { name }, cookie }), ...ctx }))
    expect(res.status).toBe(400)
    const body = await res.json()
    expect(body.fieldErrors.name).toEqual([message])
    expect(body.values.name).toBe(name)
    expect((await prisma.user.findUniqueOrThrow({ where: { id: user.id } })).name).toBe('Kept Name')
  })

  test('the email cannot be changed through this form', async () => {
    const user = await createUser()
    const { cookie } = await createSessionCookie(user.id)
    await callRoute(() =>
      action({ request: makeRequest('/settings', { form: { name: 'New', email: 'evil@example.test' }, cookie }), ...ctx }),
    )
    expect((await prisma.user.findUniqueOrThrow({ where: { id: user.id } })).email).toBe(user.email)
  })

  test('anonymous requests are sent to /login', async () => {
    for (const run of [
      () => loader({ request: makeRequest('/settings'), ...ctx }),
      () => action({ request: makeRequest('/settings', { form: { name: 'X' } }), ...ctx }),
    ]) {
      const res = await callRoute(run)
      expect(res.status).toBe(302)
      expect(res.headers.get('location')).toBe('/login?redirectTo=%2Fsettings')
    }
  })
})
