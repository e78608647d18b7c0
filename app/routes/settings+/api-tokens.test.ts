// /settings/api-tokens: a token is created with a session only, shown once, stored hashed, announced by
// email, listed, revoked; the admin scope and the 50-token limit are enforced on the server.
import { describe, expect, test } from 'vitest'
import { hashApiToken, MAX_LIVE_TOKENS_PER_USER } from '~/api/tokens.server'
import { prisma } from '~/utils/db.server'
import { api, createTestToken, jsonOf } from '../../../tests/api-utils'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest, readEmail } from '../../../tests/db-utils'
import { action, loader } from './api-tokens'

const PAGE = '/settings/api-tokens'

async function signedIn(roles?: string[]) {
  const user = await createUser({ roles })
  return { user, cookie: (await createSessionCookie(user.id)).cookie }
}

function post(form: Record<string, string>, cookie?: string, headers?: Record<string, string>) {
  return callRoute(() => action({ ...ctx, request: makeRequest(PAGE, { form, cookie, headers }) }))
}

type Listed = {
  id: string
  name: string
  prefix: string
  scopes: string[]
  state: 'active' | 'revoked' | 'expired'
  expiresAt: string | null
  lastUsedAt: string | null
  lastUsedAgo: string | null
}

async function page(cookie: string) {
  const res = await callRoute(() => loader({ ...ctx, request: makeRequest(PAGE, { cookie }) }))
  expect(res.status).toBe(200)
  return (await res.json()) as { tokens: Listed[]; mayAdmin: boolean; maxLive: number }
}

const create = (fields: Partial<Record<'name' | 'expiry' | 'scope' | 'admin', string>> = {}) => ({
  intent: 'create',
  name: 'render server',
  expiry: '90',
  scope: 'read',
  ...fields,
})

describe('/settings/api-tokens: creating', () => {
  test('the token is shown once, works, is stored only as its hash, and the owner is emailed', async () => {
    const { user, cookie } = await signedIn()
    const res = await post(create({ scope: 'write', expiry: '30' }), cookie)
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const { created } = (await res.json()) as { created: { id: string; token: string; appUrl: string } }
    expect(created.token).toMatch(/^ty_[A-Za-z0-9_-]{40}$/)

    const row = await prisma.apiToken.findUniqueOrThrow({ where: { id: created.id } })
    expect(row.hash).toBe(hashApiToken(created.token))
    expect(Object.values(row).some((value) => typeof value === 'string' && value.includes(created.token))).toBe(false)
    expect(row.prefix).toBe(created.token.slice(0, 7))
    expect(row.scopes).toBe('read,write')
    const days = (row.expiresAt!.getTime() - row.createdAt.getTime()) / 86_400_000
    expect(Math.round(days)).toBe(30)

    // It works through the API as its user.
    const me = await api('/me', { token: created.token })
    expect(me.status).toBe(200)
    expect(await jsonOf(me)).toMatchObject({ id: user.id, token: { id: created.id, scopes: ['read', 'write'] } })

    // The list shows it, without the token; the page never sends the token again.
    const listed = await page(cookie)
    expect(listed.tokens).toEqual([
      expect.objectContaining({ id: created.id, name: 'render server', scopes: ['read', 'write'], state: 'active' }),
    ])
    expect(JSON.stringify(listed)).not.toContain(created.token)
    expect(listed.tokens[0]!.lastUsedAt).not.toBeNull()

    const email = await readEmail(user.email)
    expect(email?.subject).toBe('A new API token was created for your Trainyard account')
    expect(email?.text).toContain('render server')
    expect(email?.text).toContain(row.prefix)
    expect(`${email?.text}${email?.html}`).not.toContain(created.token)
  })

  test('"never" stores no expiry; the name is escaped in the email', async () => {
    const { user, cookie } = await signedIn()
    const res = await post(create({ name: '<img src=x onerror=alert(1)>', expiry: 'never' }), cookie)
    const { created } = (await res.json()) as { created: { id: string } }
    expect((await prisma.apiToken.findUniqueOrThrow({ where: { id: created.id } })).expiresAt).toBeNull()
    const email = await readEmail(user.email)
    expect(email?.html).toContain('&lt;img src=x onerror=alert(1)&gt;')
    expect(email?.html).not.toContain('<img')
  })

  test.each([
    ['no name', { name: '  ' }, 'name'],
    ['a name too long', { name: 'x'.repeat(101) }, 'name'],
    ['an unknown expiry', { expiry: '7' }, 'expiry'],
    ['an unknown scope', { scope: 'admin' }, 'scope'],
  ])('%s is refused with a sentence beside the field, and nothing is created', async (_name, fields, field) => {
    const { user, cookie } = await signedIn()
    const res = await post(create(fields), cookie)
    expect(res.status).toBe(400)
    const reply = (await res.json()) as { fieldErrors: Record<string, string[]> }
    expect(reply.fieldErrors[field]?.[0]).toMatch(/\w+ \w+/)
    expect(await prisma.apiToken.count({ where: { userId: user.id } })).toBe(0)
  })

  test('the admin scope: offered to and taken from an admin, refused on the server to anyone else', async () => {
    const person = await signedIn()
    expect((await page(person.cookie)).mayAdmin).toBe(false)
    const refused = await post(create({ admin: 'on' }), person.cookie)
    expect(refused.status).toBe(403)
    expect(((await refused.json()) as { fieldErrors: Record<string, string[]> }).fieldErrors.admin?.[0]).toMatch(/admin scope/)
    expect(await prisma.apiToken.count({ where: { userId: person.user.id } })).toBe(0)

    const admin = await signedIn(['admin', 'user'])
    expect((await page(admin.cookie)).mayAdmin).toBe(true)
    const ok = await post(create({ admin: 'on', scope: 'write' }), admin.cookie)
    const { created } = (await ok.json()) as { created: { id: string } }
    expect((await prisma.apiToken.findUniqueOrThrow({ where: { id: created.id } })).scopes).toBe('read,write,admin')
  })

  test(`at most ${MAX_LIVE_TOKENS_PER_USER} live tokens; revoked and expired ones do not count`, async () => {
    const { user, cookie } = await signedIn()
    const rows = Array.from({ length: MAX_LIVE_TOKENS_PER_USER }, (_, i) => ({
      userId: user.id,
      name: `t${i}`,
      hash: `hash-${user.id}-${i}`,
      prefix: 'ty_abcd',
      scopes: 'read',
    }))
    await prisma.apiToken.createMany({ data: rows })
    const refused = await post(create(), cookie)
    expect(refused.status).toBe(400)
    expect(((await refused.json()) as { formErrors: string[] }).formErrors[0]).toMatch(/50 tokens .* Revoke one/)
    expect(await prisma.apiToken.count({ where: { userId: user.id } })).toBe(MAX_LIVE_TOKENS_PER_USER)

    await prisma.apiToken.update({ where: { hash: rows[0]!.hash }, data: { revokedAt: new Date() } })
    await prisma.apiToken.update({ where: { hash: rows[1]!.hash }, data: { expiresAt: new Date(Date.now() - 1000) } })
    expect((await post(create(), cookie)).status).toBe(200)
    expect((await post(create(), cookie)).status).toBe(200)
    expect((await post(create(), cookie)).status).toBe(400)
  })

  test('a token cannot create a token: the page takes a session only', async () => {
    const { user } = await signedIn()
    const { token } = await createTestToken(user.id, { scopes: ['read', 'write', 'admin'] })
    const res = await post(create(), undefined, { authorization: `Bearer ${token}` })
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toMatch(/^\/login/)
    expect(await prisma.apiToken.count({ where: { userId: user.id } })).toBe(1)
    // Nor is there an API route for it.
    expect((await api('/tokens', { token, json: { name: 'x' } })).status).toBe(404)
  })
})

describe('/settings/api-tokens: the list and revoking', () => {
  test('empty at first; revoked and expired tokens are listed as such', async () => {
    const { user, cookie } = await signedIn()
    expect((await page(cookie)).tokens).toEqual([])
    const revoked = await createTestToken(user.id, { name: 'old' })
    await prisma.apiToken.update({ where: { id: revoked.id }, data: { revokedAt: new Date() } })
    const expired = await createTestToken(user.id, { name: 'lapsed', expiresAt: new Date(Date.now() - 1000) })
    const states = Object.fromEntries((await page(cookie)).tokens.map((t) => [t.id, t.state]))
    expect(states).toEqual({ [revoked.id]: 'revoked', [expired.id]: 'expired' })
  })

  test('revoking: the token stops working at once; again says it was already revoked', async () => {
    const { user, cookie } = await signedIn()
    const { token, id } = await createTestToken(user.id)
    expect((await api('/me', { token })).status).toBe(200)
    const res = await post({ intent: 'revoke', tokenId: id }, cookie)
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe(PAGE)
    const refused = await api('/me', { token })
    expect(refused.status).toBe(401)
    expect((await jsonOf<{ error: { message: string } }>(refused)).error.message).toMatch(/revoked/)
    expect((await page(cookie)).tokens[0]).toMatchObject({ id, state: 'revoked' })
    expect((await post({ intent: 'revoke', tokenId: id }, cookie)).status).toBe(302)
  })

  test('someone else’s token cannot be revoked by its id: 404, and it keeps working', async () => {
    const owner = await signedIn()
    const stranger = await signedIn(['admin', 'user'])
    const { token, id } = await createTestToken(owner.user.id)
    const res = await post({ intent: 'revoke', tokenId: id }, stranger.cookie)
    expect(res.status).toBe(404)
    expect((await prisma.apiToken.findUniqueOrThrow({ where: { id } })).revokedAt).toBeNull()
    expect((await api('/me', { token })).status).toBe(200)
    expect((await page(stranger.cookie)).tokens).toEqual([])
  })

  test('a visitor is sent to log in', async () => {
    const res = await callRoute(() => loader({ ...ctx, request: makeRequest(PAGE) }))
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toMatch(/^\/login/)
  })
})
