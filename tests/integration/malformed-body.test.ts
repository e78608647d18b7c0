// A body that is not a form (a broken multipart body, or a type no form has) posted to an action of the
// real production server: a 400 with a message that says so, never the 500 that request.formData()
// throwing used to give. Needs the production build (npm test builds first).
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { startProductionServer, type AppProcess } from '../app-process'
import { createSessionCookie, createUser } from '../db-utils'

let server: AppProcess | undefined
let cookie: string
let trainingId: string

beforeAll(async () => {
  // Written before the server starts, into the database it is given: this file's own.
  const user = await createUser()
  cookie = (await createSessionCookie(user.id)).cookie
  trainingId = (
    await prisma.training.create({
      select: { id: true },
      data: { ownerId: user.id, name: 'Malformed', triggerWord: 'ohwx', baseModel: '{}', config: '{}' },
    })
  ).id
  server = await startProductionServer()
}, 60_000)
afterAll(() => server?.stop())

/** A POST as the browser sends it from the app's own page, with the body and type given. */
function post(
  pathname: string,
  { body, contentType, withSession = false }: { body: string; contentType: string; withSession?: boolean },
) {
  return fetch(`${server!.url}${pathname}`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': contentType,
      origin: server!.url,
      'sec-fetch-site': 'same-origin',
      ...(withSession ? { cookie } : {}),
    },
    body,
  })
}

const BROKEN_MULTIPART = { contentType: 'multipart/form-data; boundary=x', body: 'this is not a multipart body' }
const NOT_A_FORM = { contentType: 'text/plain', body: 'email=a@example.test' }

describe('a body that is not a form', () => {
  test.each([
    ['a broken multipart body', BROKEN_MULTIPART],
    [
      'a multipart body cut off before its end',
      { contentType: 'multipart/form-data; boundary=x', body: '--x\r\nContent-Disposition: form-data; name="email"\r\n\r\na' },
    ],
    ['a type no form has', NOT_A_FORM],
  ])('%s to the login action: 400 and a page that says why', async (_, { contentType, body }) => {
    const res = await post('/login', { contentType, body })
    expect(res.status).toBe(400)
    expect(await res.text()).toContain('The form could not be read')
  })

  test('the same as a data request (?_data=): 400 with the message', async () => {
    const res = await post('/login?_data=routes%2F_auth%2B%2Flogin', BROKEN_MULTIPART)
    expect(res.status).toBe(400)
    expect(await res.text()).toContain('The form could not be read')
  })

  test.each([
    ['/settings?index', 'the profile form'],
    ['/trainings/new', 'a new training'],
    ['/trainings/:id/settings', 'a training’s settings'],
  ])('%s (%s), logged in: 400', async (pathname) => {
    const res = await post(pathname.replace(':id', trainingId), { ...BROKEN_MULTIPART, withSession: true })
    expect(res.status).toBe(400)
    expect(await res.text()).toContain('The form could not be read')
  })

  test('a well-formed multipart form still reaches the action', async () => {
    const form = new FormData()
    form.set('email', 'nobody@example.test')
    form.set('password', 'not-the-password')
    const res = await fetch(`${server!.url}/login?_data=routes%2F_auth%2B%2Flogin`, {
      method: 'POST',
      headers: { origin: server!.url, 'sec-fetch-site': 'same-origin' },
      body: form,
    })
    expect(res.status).toBe(400)
    expect((await res.json()).formErrors).toEqual(['Invalid email or password'])
  })
})
