// Access to the admin section: every loader and action, called directly (as Remix does for a
// fetcher or a client navigation, without the layout's loader), refuses non-admins with a 403 and
// sends anonymous visitors to /login — and changes nothing either way.
import { beforeAll, describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../../tests/db-utils'
import { loader as layoutLoader } from './_layout'
import { action as gpusAction, loader as gpusLoader } from './gpus'
import { loader as indexLoader } from './_index'
import { action as roleAction, loader as roleLoader } from './roles.$roleId'
import { action as rolesAction, loader as rolesLoader } from './roles._index'
import { action as userAction, loader as userLoader } from './users.$userId'
import { loader as usersLoader } from './users._index'

type Call = { name: string; run: (cookie?: string) => Promise<Response> }

let target: { id: string }
let calls: Call[]

/** Everything an admin action could change, to compare before and after. */
async function snapshot() {
  const [roles, users] = await Promise.all([
    prisma.role.findMany({
      orderBy: { name: 'asc' },
      select: { id: true, name: true, description: true, permissions: { select: { id: true }, orderBy: { id: 'asc' } } },
    }),
    prisma.user.findMany({
      orderBy: { id: 'asc' },
      select: { id: true, roles: { select: { id: true }, orderBy: { id: 'asc' } } },
    }),
  ])
  return { roles, users }
}

beforeAll(async () => {
  target = await createUser({ name: 'Target' })
  const custom = await prisma.role.create({ data: { name: 'reviewer' } })
  const params = { userId: target.id, roleId: custom.id }
  const get = (url: string, loader: (args: typeof ctx & { request: Request }) => unknown) => (cookie?: string) =>
    callRoute(() => loader({ ...ctx, params, request: makeRequest(url, { cookie }) }))
  const post =
    (url: string, action: (args: typeof ctx & { request: Request }) => unknown, form: Record<string, string | string[]>) =>
    (cookie?: string) =>
      callRoute(() => action({ ...ctx, params, request: makeRequest(url, { form, cookie }) }))
  calls = [
    { name: 'admin layout loader', run: get('/admin', layoutLoader) },
    { name: 'admin index loader', run: get('/admin', indexLoader) },
    { name: 'users loader', run: get('/admin/users?q=a&page=2', usersLoader) },
    { name: 'user loader', run: get(`/admin/users/${target.id}`, userLoader) },
    {
      name: 'user action (save roles)',
      run: post(`/admin/users/${target.id}`, userAction, { intent: 'save-roles', roleId: ['role_admin', 'role_user'] }),
    },
    { name: 'roles loader', run: get('/admin/roles', rolesLoader) },
    { name: 'roles action (create)', run: post('/admin/roles', rolesAction, { intent: 'create', name: 'sneaky' }) },
    { name: 'role loader', run: get(`/admin/roles/${custom.id}`, roleLoader) },
    {
      name: 'role action (rename)',
      run: post(`/admin/roles/${custom.id}`, roleAction, { intent: 'rename', name: 'renamed', description: 'x' }),
    },
    {
      name: 'role action (permissions)',
      run: post(`/admin/roles/${custom.id}`, roleAction, {
        intent: 'permissions',
        permission: ['read:user:any', 'update:role:any'],
      }),
    },
    { name: 'role action (delete)', run: post(`/admin/roles/${custom.id}`, roleAction, { intent: 'delete' }) },
    { name: 'role action (unknown intent)', run: post(`/admin/roles/${custom.id}`, roleAction, { intent: 'launch' }) },
    {
      name: 'role action (intent named like an Object method)',
      run: post(`/admin/roles/${custom.id}`, roleAction, { intent: 'toString' }),
    },
    { name: 'GPU fleet loader', run: get('/admin/gpus?state=live', gpusLoader) },
    { name: 'GPU fleet action (terminate)', run: post('/admin/gpus', gpusAction, { intent: 'terminate', gpuId: 'no-such-gpu' }) },
  ]
})

describe('a logged-in user without admin permissions', () => {
  test('gets 403 from every admin loader and action, and nothing changes', async () => {
    const user = await createUser({ roles: ['user'] })
    const { cookie } = await createSessionCookie(user.id)
    const before = await snapshot()
    for (const call of calls) {
      const response = await call.run(cookie)
      expect(response.status, call.name).toBe(403)
    }
    expect(await snapshot()).toEqual(before)
  })

  test('gets 403 even when they hold every permission except the one a page needs', async () => {
    // A role with all "any" permissions but read:user:any opens nothing that reads users.
    const almostAdmin = await prisma.role.create({
      data: {
        name: 'almost-admin',
        permissions: {
          connect: (await prisma.permission.findMany({ where: { access: 'any', NOT: { action: 'read', entity: 'user' } } })).map(
            (p) => ({ id: p.id }),
          ),
        },
      },
    })
    const user = await createUser({ roles: [almostAdmin.name] })
    const { cookie } = await createSessionCookie(user.id)
    for (const name of ['admin layout loader', 'admin index loader', 'users loader', 'user loader']) {
      expect((await calls.find((c) => c.name === name)!.run(cookie)).status, name).toBe(403)
    }
    await prisma.role.delete({ where: { id: almostAdmin.id } })
  })
})

describe('an anonymous visitor', () => {
  test('is sent to /login by every admin loader and action, and nothing changes', async () => {
    const before = await snapshot()
    for (const call of calls) {
      const response = await call.run()
      expect(response.status, call.name).toBe(302)
      expect(response.headers.get('location'), call.name).toMatch(/^\/login(\?|$)/)
    }
    expect(await snapshot()).toEqual(before)
  })

  test('comes back to the admin page they asked for after logging in', async () => {
    const response = await calls.find((c) => c.name === 'users loader')!.run()
    const location = new URL(response.headers.get('location')!, 'http://localhost')
    expect(location.pathname).toBe('/login')
    expect(location.searchParams.get('redirectTo')).toBe('/admin/users?q=a&page=2')
  })
})

describe('an admin', () => {
  test('passes the layout guard, and /admin opens the user list', async () => {
    const admin = await createUser({ roles: ['admin', 'user'] })
    const { cookie } = await createSessionCookie(admin.id)
    expect((await calls.find((c) => c.name === 'admin layout loader')!.run(cookie)).status).toBe(200)
    const response = await calls.find((c) => c.name === 'admin index loader')!.run(cookie)
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe('/admin/users')
  })
})
