// A page on another origin of the same site (another port of the host, a sibling subdomain) sends
// the victim's SameSite=Lax cookies along. Such requests to the real production server are refused
// with a 403 and change nothing; the app's own origin, spelled as the Host it was opened under
// (localhost or 127.0.0.1), still works. Needs the production build (npm test builds first).
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { CROSS_ORIGIN_MESSAGE } from '../../server/same-origin'
import { freePort, startProductionServer, type AppProcess } from '../app-process'
import { createSessionCookie, createUser } from '../db-utils'

let server: AppProcess | undefined
let user: { id: string; name: string | null }
let cookie: string
let sessionId: string
let otherPort: number

beforeAll(async () => {
  user = await createUser({ name: 'Before' })
  ;({ cookie, sessionId } = await createSessionCookie(user.id))
  otherPort = await freePort()
  server = await startProductionServer()
}, 60_000)
afterAll(() => server?.stop())

const newTraining = async (name: string) =>
  (
    await prisma.training.create({
      select: { id: true },
      data: { ownerId: user.id, name, triggerWord: 'ohwx', baseModel: '{}', config: '{}' },
    })
  ).id

/** The page that attacks: another port of the same host, the same site as far as cookies go. */
const attacker = () => ({ origin: `http://127.0.0.1:${otherPort}`, 'sec-fetch-site': 'same-site' })

function post(pathname: string, body: BodyInit, headers: Record<string, string>, { host }: { host?: string } = {}) {
  const url = new URL(pathname, server!.url)
  if (host) url.hostname = host
  return fetch(url, { method: 'POST', redirect: 'manual', headers: { cookie, ...headers }, body })
}

const profileForm = (name: string) => new URLSearchParams({ name })

describe('a request from another origin of the same site', () => {
  test('a profile update (?_data=, as the app’s fetch sends it): 403, the name stays', async () => {
    const res = await post(
      `/settings?index&_data=${encodeURIComponent('routes/settings+/_index')}`,
      profileForm('Hacked'),
      attacker(),
    )
    expect(res.status).toBe(403)
    expect(res.headers.get('x-remix-catch')).toBe('yes')
    expect(await res.text()).toBe(CROSS_ORIGIN_MESSAGE)
    expect((await prisma.user.findUniqueOrThrow({ where: { id: user.id } })).name).toBe('Before')
  })

  test('a training delete (a document POST): 403, the training stays', async () => {
    const id = await newTraining('Keep me')
    const res = await post(`/trainings/${id}/settings`, new URLSearchParams({ intent: 'delete' }), attacker())
    expect(res.status).toBe(403)
    expect(await prisma.training.findUnique({ where: { id } })).not.toBeNull()
  })

  test('an upload into a training (a resource route): 403, no image', async () => {
    const id = await newTraining('No uploads')
    const form = new FormData()
    form.append('files', new Blob([new Uint8Array(1024)], { type: 'image/jpeg' }), 'x.jpg')
    const res = await post(`/resources/trainings/${id}/images`, form, attacker())
    expect(res.status).toBe(403)
    expect(await prisma.trainingImage.count({ where: { trainingId: id } })).toBe(0)
  })

  test('a logout: 403, the session stays', async () => {
    const res = await post('/logout', new URLSearchParams(), attacker())
    expect(res.status).toBe(403)
    expect(res.headers.getSetCookie()).toEqual([])
    expect(await prisma.session.findUnique({ where: { id: sessionId } })).not.toBeNull()
  })

  test.each([
    ['a cross-site page with no Origin', { 'sec-fetch-site': 'cross-site' }],
    ['an Origin of "null" (a sandboxed frame)', { origin: 'null' }],
    ['a sibling subdomain', { origin: 'http://evil.localhost:3000', 'sec-fetch-site': 'same-site' }],
    ['a path-spelled route (/SETTINGS)', attacker()],
  ])('%s: 403', async (_, headers) => {
    const res = await post('/SETTINGS?index', profileForm('Hacked'), headers)
    expect(res.status).toBe(403)
    expect((await prisma.user.findUniqueOrThrow({ where: { id: user.id } })).name).toBe('Before')
  })
})

describe('the app’s own pages', () => {
  test.each(['127.0.0.1', 'localhost'])('opened as %s: a profile update with that Origin works', async (host) => {
    const origin = `http://${host}:${server!.port}`
    const res = await post('/settings?index', profileForm(`Via ${host}`), { origin, 'sec-fetch-site': 'same-origin' }, { host })
    expect(res.status).toBe(302)
    expect((await prisma.user.findUniqueOrThrow({ where: { id: user.id } })).name).toBe(`Via ${host}`)
    await prisma.user.update({ where: { id: user.id }, data: { name: 'Before' } })
  })

  test('an Origin that matches the Host, even without Sec-Fetch-Site (an older browser): works', async () => {
    const res = await post('/settings?index', profileForm('Older browser'), { origin: server!.url })
    expect(res.status).toBe(302)
    await prisma.user.update({ where: { id: user.id }, data: { name: 'Before' } })
  })

  test('an Origin of APP_URL (here http://localhost:<port>) while the Host says 127.0.0.1: passes this check', async () => {
    // A data request: on a document POST Remix itself compares Origin and Host (and answers 500).
    const url = `/settings?index&_data=${encodeURIComponent('routes/settings+/_index')}`
    const res = await post(url, profileForm('Via APP_URL'), { origin: `http://localhost:${server!.port}` })
    expect(res.status).toBe(204)
    expect((await prisma.user.findUniqueOrThrow({ where: { id: user.id } })).name).toBe('Via APP_URL')
    await prisma.user.update({ where: { id: user.id }, data: { name: 'Before' } })
  })

  test('no Origin and no Sec-Fetch-Site (a script, not a browser page): allowed through', async () => {
    const res = await post('/settings?index', profileForm('Script'), {})
    expect(res.status).toBe(302)
    await prisma.user.update({ where: { id: user.id }, data: { name: 'Before' } })
  })

  test('a same-origin logout logs out; a second one, with no session left, sets no cookie', async () => {
    const other = await createSessionCookie(user.id)
    const headers = { origin: server!.url, 'sec-fetch-site': 'same-origin' }
    const res = await fetch(`${server!.url}/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: { ...headers, cookie: other.cookie },
    })
    expect(res.status).toBe(302)
    expect(await prisma.session.findUnique({ where: { id: other.sessionId } })).toBeNull()
    const anonymous = await fetch(`${server!.url}/logout`, { method: 'POST', redirect: 'manual', headers })
    expect(anonymous.status).toBe(302)
    expect(anonymous.headers.getSetCookie()).toEqual([])
  })
})
