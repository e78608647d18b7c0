import { beforeAll, describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../../tests/db-utils'
import { action, loader } from './roles._index'

type Failure = { formErrors: string[]; fieldErrors: Record<string, string[] | undefined>; values: Record<string, string> }

let cookie: string

beforeAll(async () => {
  const admin = await createUser({ roles: ['admin', 'user'] })
  cookie = (await createSessionCookie(admin.id)).cookie
})

function create(form: Record<string, string>) {
  return callRoute(() =>
    action({ ...ctx, request: makeRequest('/admin/roles', { form: { intent: 'create', ...form }, cookie }) }),
  )
}

describe('the role list', () => {
  test('lists every role with how many users hold it', async () => {
    const role = await prisma.role.create({ data: { name: 'counted', description: 'For counting' } })
    await createUser({ roles: ['counted'] })
    await createUser({ roles: ['counted', 'user'] })
    const response = await callRoute(() => loader({ ...ctx, request: makeRequest('/admin/roles', { cookie }) }))
    const { roles } = (await response.json()) as { roles: Array<Record<string, unknown>> }
    expect(roles.find((r) => r.id === role.id)).toEqual({
      id: role.id,
      name: 'counted',
      description: 'For counting',
      userCount: 2,
      permissionCount: 0,
      builtIn: false,
    })
    // The seeded roles hold 20 permissions each, counted here as the role's page offers them: only
    // those some check reads (admin: every "any" one of them; user: the "own" ones of trainings).
    expect(roles.find((r) => r.name === 'admin')).toMatchObject({ builtIn: true, permissionCount: 12 })
    expect(roles.find((r) => r.name === 'user')).toMatchObject({ builtIn: true, permissionCount: 4 })
  })
})

describe('creating a role', () => {
  test('creates it with its description and opens its page to choose permissions', async () => {
    const response = await create({ name: 'gpu-watcher-2', description: '  Watches the fleet  ' })
    expect(response.status).toBe(302)
    const role = await prisma.role.findUniqueOrThrow({ where: { name: 'gpu-watcher-2' }, include: { permissions: true } })
    expect(response.headers.get('location')).toBe(`/admin/roles/${role.id}`)
    expect(role.description).toBe('Watches the fleet')
    expect(role.permissions).toEqual([])
  })

  test('a name that is taken is refused with a clear error', async () => {
    await create({ name: 'taken' })
    const response = await create({ name: 'taken', description: 'second' })
    expect(response.status).toBe(400)
    const body = (await response.json()) as Failure
    expect(body.fieldErrors.name).toEqual(['A role named "taken" already exists. Choose another name.'])
    expect(body.values.name).toBe('taken')
    expect(await prisma.role.count({ where: { name: 'taken' } })).toBe(1)
    expect((await prisma.role.findUniqueOrThrow({ where: { name: 'taken' } })).description).toBe('')
  })

  test('the built-in names are taken too', async () => {
    const response = await create({ name: 'admin' })
    expect(response.status).toBe(400)
    expect(((await response.json()) as Failure).fieldErrors.name?.[0]).toMatch(/already exists/)
  })

  test.each([
    ['', /at least 2/],
    ['a', /at least 2/],
    ['x'.repeat(33), /at most 32/],
    ['Reviewers', /lowercase letters/],
    ['gpu watcher', /lowercase letters/],
    ['gpu_watcher', /lowercase letters/],
    ['rôle', /lowercase letters/],
  ])('the name %j is refused', async (name, message) => {
    const before = await prisma.role.count()
    const response = await create({ name })
    expect(response.status).toBe(400)
    expect(((await response.json()) as Failure).fieldErrors.name?.[0]).toMatch(message)
    expect(await prisma.role.count()).toBe(before)
  })

  test('2 and 32 characters of letters, digits and dashes are fine', async () => {
    expect((await create({ name: 'ab' })).status).toBe(302)
    expect((await create({ name: `a-1${'z'.repeat(29)}` })).status).toBe(302)
  })

  test('a description over 200 characters is refused', async () => {
    const response = await create({ name: 'wordy', description: 'x'.repeat(201) })
    expect(response.status).toBe(400)
    expect(((await response.json()) as Failure).fieldErrors.description?.[0]).toMatch(/at most 200/)
    expect(await prisma.role.count({ where: { name: 'wordy' } })).toBe(0)
  })

  test('an admin may not create roles without create:role:any', async () => {
    const reader = await prisma.role.create({
      data: { name: 'role-reader', permissions: { connect: [{ id: 'perm_read_user_any' }, { id: 'perm_read_role_any' }] } },
    })
    const user = await createUser({ roles: [reader.name] })
    const readerCookie = (await createSessionCookie(user.id)).cookie
    const list = await callRoute(() => loader({ ...ctx, request: makeRequest('/admin/roles', { cookie: readerCookie }) }))
    expect(list.status).toBe(200)
    const response = await callRoute(() =>
      action({
        ...ctx,
        request: makeRequest('/admin/roles', { form: { intent: 'create', name: 'nope' }, cookie: readerCookie }),
      }),
    )
    expect(response.status).toBe(403)
    expect(await prisma.role.count({ where: { name: 'nope' } })).toBe(0)
  })
})
