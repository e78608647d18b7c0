import crypto from 'node:crypto'
import { beforeAll, describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../../tests/db-utils'
import { loader } from './users._index'

type UsersData = {
  q: string
  page: number
  pages: number
  total: number
  from: number
  to: number
  users: Array<{ id: string; email: string; name: string | null; roles: string[]; signInMethods: string[]; createdAt: string }>
}

let cookie: string
// A tag only this file's users carry, so counts do not depend on anyone else's rows.
const tag = `pager${crypto.randomBytes(3).toString('hex')}`
const PAGED_USERS = 45

async function list(query: string) {
  const response = await callRoute(() => loader({ ...ctx, request: makeRequest(`/admin/users${query}`, { cookie }) }))
  expect(response.status).toBe(200)
  return (await response.json()) as UsersData
}

beforeAll(async () => {
  const admin = await createUser({ roles: ['admin', 'user'] })
  cookie = (await createSessionCookie(admin.id)).cookie
  // Created one second apart in the past so "newest first" has one right answer.
  const start = Date.now() - PAGED_USERS * 1000
  for (let i = 0; i < PAGED_USERS; i++) {
    await prisma.user.create({
      data: {
        email: `${tag}-${String(i).padStart(2, '0')}@example.test`,
        name: `Paged ${i}`,
        createdAt: new Date(start + i * 1000),
        roles: { connect: { name: 'user' } },
      },
    })
  }
})

describe('pagination', () => {
  test('20 per page, newest first, with the range shown', async () => {
    const first = await list(`?q=${tag}`)
    expect(first).toMatchObject({ page: 1, pages: 3, total: PAGED_USERS, from: 1, to: 20 })
    expect(first.users).toHaveLength(20)
    expect(first.users[0]!.email).toBe(`${tag}-44@example.test`)

    const second = await list(`?q=${tag}&page=2`)
    expect(second).toMatchObject({ page: 2, from: 21, to: 40 })
    expect(second.users[0]!.email).toBe(`${tag}-24@example.test`)

    const third = await list(`?q=${tag}&page=3`)
    expect(third).toMatchObject({ page: 3, from: 41, to: 45 })
    expect(third.users.map((u) => u.email)).toEqual([4, 3, 2, 1, 0].map((i) => `${tag}-0${i}@example.test`))

    // No user appears on two pages, and none is missing.
    const all = [...first.users, ...second.users, ...third.users].map((u) => u.id)
    expect(new Set(all).size).toBe(PAGED_USERS)
  })

  test('a page past the end shows the last page; a nonsense page shows the first', async () => {
    expect(await list(`?q=${tag}&page=99`)).toMatchObject({ page: 3, from: 41, to: 45 })
    expect(await list(`?q=${tag}&page=abc`)).toMatchObject({ page: 1, from: 1 })
    expect(await list(`?q=${tag}&page=-2`)).toMatchObject({ page: 1, from: 1 })
  })

  // Page numbers are parsed as the trainings list parses them (where "1e20" was a 500): plain digits up to
  // MAX_PAGE, anything else page 1.
  test.each(['1e20', '1e3', '99999999999999999999', '0x10', '20001', '2.5', '0', '-1', ' 2', ''])(
    'page=%j shows page 1',
    async (page) => {
      expect(await list(`?q=${tag}&page=${encodeURIComponent(page)}`)).toMatchObject({ page: 1, from: 1, to: 20 })
    },
  )
})

describe('search', () => {
  test('finds users by part of their email, ignoring case', async () => {
    const data = await list(`?q=${tag.toUpperCase()}-07`)
    expect(data.total).toBe(1)
    expect(data.users[0]).toMatchObject({ email: `${tag}-07@example.test`, name: 'Paged 7', roles: ['user'] })
  })

  // LIKE reads "_" as any one character and "%" as any run: a search for them must find them, not everyone.
  test('"_" and "%" are searched as themselves, not as wildcards', async () => {
    const underscore = await createUser({ name: `Under ${tag}_score` })
    const percent = await createUser({ name: `Per ${tag}%cent` })
    expect((await list(`?q=${encodeURIComponent(`${tag}_`)}`)).users.map((u) => u.id)).toEqual([underscore.id])
    expect((await list(`?q=${encodeURIComponent(`${tag}%`)}`)).users.map((u) => u.id)).toEqual([percent.id])
    expect((await list(`?q=${encodeURIComponent(`${tag}%07`)}`)).total).toBe(0)
    expect((await list(`?q=${encodeURIComponent(`${tag}_07`)}`)).total).toBe(0)
    const everyone = await prisma.user.findMany({ select: { email: true, name: true } })
    const withUnderscore = everyone.filter((u) => `${u.email} ${u.name ?? ''}`.includes('_')).length
    expect((await list('?q=_')).total).toBe(withUnderscore)
    expect((await list('?q=_')).total).toBeLessThan(everyone.length)
    expect((await list('?q=%25')).total).toBeLessThan(everyone.length)
    const backslash = await createUser({ name: `Back ${tag}\\slash` })
    expect((await list(`?q=${encodeURIComponent(`${tag}\\`)}`)).users.map((u) => u.id)).toEqual([backslash.id])
  })

  test('finds users by name', async () => {
    const ada = await createUser({ name: `Ada ${tag} Lovelace` })
    const data = await list(`?q=${encodeURIComponent(`ada ${tag}`)}`)
    expect(data.users.map((u) => u.id)).toEqual([ada.id])
  })

  test('shows sign-in methods and roles', async () => {
    const both = await createUser({ name: `Both ${tag}`, roles: ['admin', 'user'] })
    await prisma.connection.create({ data: { userId: both.id, providerName: 'github', providerId: `gh-${tag}` } })
    const githubOnly = await createUser({ name: `Hub ${tag}`, password: null })
    await prisma.connection.create({ data: { userId: githubOnly.id, providerName: 'github', providerId: `gh2-${tag}` } })
    const data = await list(`?q=${encodeURIComponent(`both ${tag}`)}`)
    expect(data.users[0]).toMatchObject({ roles: ['admin', 'user'], signInMethods: ['Password', 'GitHub'] })
    const hub = await list(`?q=${encodeURIComponent(`hub ${tag}`)}`)
    expect(hub.users[0]).toMatchObject({ signInMethods: ['GitHub'] })
    expect(hub.users[0]!.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T/)
  })

  test('no match gives an empty list, not an error', async () => {
    expect(await list('?q=nobody-has-this-name')).toMatchObject({ total: 0, from: 0, to: 0, users: [], page: 1, pages: 1 })
  })

  test('without a query every user is listed', async () => {
    const data = await list('')
    expect(data.total).toBe(await prisma.user.count())
    expect(data.total).toBeGreaterThan(PAGED_USERS)
  })
})
