// /settings/notifications: the three choices are read, saved with a toast, each on its own; a value no
// checkbox sends is a sentence and a 400 that changes nothing; a person changes only their own.
import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { getToast } from '~/utils/toast.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest, mergeCookies } from '../../../tests/db-utils'
import { action, loader } from './notifications'

async function signedIn() {
  const user = await createUser()
  return { user, cookie: (await createSessionCookie(user.id)).cookie }
}

function post(form: Record<string, string>, cookie: string) {
  return callRoute(() => action({ ...ctx, request: makeRequest('/settings/notifications', { form, cookie }) }))
}

async function page(cookie: string) {
  const res = await callRoute(() => loader({ ...ctx, request: makeRequest('/settings/notifications', { cookie }) }))
  expect(res.status).toBe(200)
  return res.json()
}

const choicesOf = (userId: string) =>
  prisma.user.findUniqueOrThrow({
    where: { id: userId },
    select: { notifyRunSucceeded: true, notifyRunFailed: true, notifyRunStopped: true },
  })

describe('/settings/notifications', () => {
  test('all on by default; saving turns off what is unticked, with a toast, and back on', async () => {
    const { user, cookie } = await signedIn()
    expect(await page(cookie)).toEqual({ succeeded: true, failed: true, stopped: true })

    const res = await post({ failed: 'on' }, cookie)
    expect(res.status).toBe(302)
    expect(res.headers.get('Location')).toBe('/settings/notifications')
    const toast = (await getToast(makeRequest('/', { cookie: mergeCookies(undefined, res) }))).toast
    expect(toast?.description).toBe('Your notification choices have been saved.')
    expect(await choicesOf(user.id)).toEqual({ notifyRunSucceeded: false, notifyRunFailed: true, notifyRunStopped: false })
    expect(await page(cookie)).toEqual({ succeeded: false, failed: true, stopped: false })

    await post({ succeeded: 'on', failed: 'on', stopped: 'on' }, cookie)
    expect(await choicesOf(user.id)).toEqual({ notifyRunSucceeded: true, notifyRunFailed: true, notifyRunStopped: true })
  })

  test('a value no checkbox sends is refused with a sentence, and nothing changes', async () => {
    const { user, cookie } = await signedIn()
    const res = await post({ succeeded: 'yes please', failed: 'on' }, cookie)
    expect(res.status).toBe(400)
    const body = await res.json()
    expect(body.fieldErrors.succeeded).toEqual(['Tick the box or leave it empty'])
    expect(await choicesOf(user.id)).toEqual({ notifyRunSucceeded: true, notifyRunFailed: true, notifyRunStopped: true })
  })

  test("a form naming another user changes only the sender's own choices", async () => {
    const { user, cookie } = await signedIn()
    const other = await createUser()
    await post({ userId: other.id, id: other.id }, cookie)
    expect(await choicesOf(user.id)).toEqual({ notifyRunSucceeded: false, notifyRunFailed: false, notifyRunStopped: false })
    expect(await choicesOf(other.id)).toEqual({ notifyRunSucceeded: true, notifyRunFailed: true, notifyRunStopped: true })
  })

  test('a visitor is sent to log in, and nothing is saved', async () => {
    const res = await post({}, '')
    expect(res.status).toBe(302)
    expect(res.headers.get('Location')).toMatch(/^\/login/)
  })
})
