import { beforeEach, describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../../tests/db-utils'
import { action, loader } from './users.$userId'

type Failure = { formErrors: string[]; fieldErrors: Record<string, string[] | undefined> }

async function rolesOf(userId: string) {
  const user = await prisma.user.findUniqueOrThrow({
    where: { id: userId },
    select: { roles: { select: { name: true }, orderBy: { name: 'asc' } } },
  })
  return user.roles.map((r) => r.name)
}

async function saveRoles(userId: string, cookie: string, roleId: string[]) {
  const form: Record<string, string | string[]> = { intent: 'save-roles' }
  if (roleId.length) form.roleId = roleId
  return callRoute(() => action({ ...ctx, params: { userId }, request: makeRequest(`/admin/users/${userId}`, { form, cookie }) }))
}

/** Only `keep` holds the admin role afterwards (other users of this file's database lose it). */
async function makeOnlyAdmin(keep: string) {
  const others = await prisma.user.findMany({
    where: { id: { not: keep }, roles: { some: { name: 'admin' } } },
    select: { id: true },
  })
  for (const { id } of others) {
    await prisma.user.update({ where: { id }, data: { roles: { disconnect: { name: 'admin' } } } })
  }
}

let admin: { id: string; email: string }
let cookie: string

beforeEach(async () => {
  admin = await createUser({ roles: ['admin', 'user'] })
  cookie = (await createSessionCookie(admin.id)).cookie
})

describe('the user page', () => {
  test('shows the user, their sign-in methods and every role with theirs marked', async () => {
    const target = await createUser({ name: 'Grace', roles: ['user'] })
    await prisma.connection.create({
      data: { userId: target.id, providerName: 'github', providerId: 'gh-grace', providerDisplayName: 'grace-h' },
    })
    const response = await callRoute(() =>
      loader({ ...ctx, params: { userId: target.id }, request: makeRequest(`/admin/users/${target.id}`, { cookie }) }),
    )
    expect(response.status).toBe(200)
    const data = await response.json()
    expect(data.user).toMatchObject({ email: target.email, name: 'Grace', hasPassword: true, roleIds: ['role_user'] })
    expect(data.user.connections).toEqual([{ providerName: 'github', providerDisplayName: 'grace-h' }])
    expect(data.roles.map((r: { name: string }) => r.name)).toEqual(expect.arrayContaining(['admin', 'user']))
    // Nothing secret travels to the page.
    expect(JSON.stringify(data)).not.toMatch(/hash|\$2[aby]\$/)
  })

  test('an unknown user id is a 404, for the page and for saving', async () => {
    const page = await callRoute(() =>
      loader({ ...ctx, params: { userId: 'nope' }, request: makeRequest('/admin/users/nope', { cookie }) }),
    )
    expect(page.status).toBe(404)
    expect((await saveRoles('nope', cookie, ['role_user'])).status).toBe(404)
  })
})

describe('saving roles', () => {
  test('sets exactly the roles that were checked', async () => {
    const target = await createUser({ roles: ['user'] })
    const reviewer = await prisma.role.create({ data: { name: 'reviewer-a' } })

    const response = await saveRoles(target.id, cookie, ['role_user', reviewer.id])
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe(`/admin/users/${target.id}`)
    expect(await rolesOf(target.id)).toEqual(['reviewer-a', 'user'])

    await saveRoles(target.id, cookie, [reviewer.id])
    expect(await rolesOf(target.id)).toEqual(['reviewer-a'])

    // No box checked: no roles at all.
    await saveRoles(target.id, cookie, [])
    expect(await rolesOf(target.id)).toEqual([])
  })

  test('can make another user an admin', async () => {
    const target = await createUser({ roles: ['user'] })
    await saveRoles(target.id, cookie, ['role_admin', 'role_user'])
    expect(await rolesOf(target.id)).toEqual(['admin', 'user'])
  })

  test('an unknown role id is refused and nothing changes', async () => {
    const target = await createUser({ roles: ['user'] })
    const response = await saveRoles(target.id, cookie, ['role_admin', 'no-such-role'])
    expect(response.status).toBe(400)
    expect(((await response.json()) as Failure).formErrors[0]).toMatch(/no longer exists/)
    expect(await rolesOf(target.id)).toEqual(['user'])
  })

  test('a missing or unknown intent is refused', async () => {
    const target = await createUser({ roles: ['user'] })
    const response = await callRoute(() =>
      action({
        ...ctx,
        params: { userId: target.id },
        request: makeRequest(`/admin/users/${target.id}`, { form: { intent: 'delete', roleId: 'role_admin' }, cookie }),
      }),
    )
    expect(response.status).toBe(400)
    expect(await rolesOf(target.id)).toEqual(['user'])
  })

  test('an admin who removes their own admin role while another admin exists is sent home', async () => {
    await createUser({ roles: ['admin'] })
    const response = await saveRoles(admin.id, cookie, ['role_user'])
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe('/')
    expect(await rolesOf(admin.id)).toEqual(['user'])
  })
})

describe('the last admin', () => {
  test('cannot lose the admin role: clear error, nothing changed', async () => {
    const last = await createUser({ roles: ['admin', 'user'] })
    await makeOnlyAdmin(last.id)
    // The acting admin holds admin rights through another role, so that "last" is really last. It
    // holds every permission of the admin role, or it could not take that role away at all.
    const adminPermissions = await prisma.permission.findMany({
      where: { roles: { some: { name: 'admin' } } },
      select: { id: true },
    })
    const superRole = await prisma.role.create({ data: { name: 'super-a', permissions: { connect: adminPermissions } } })
    const actor = await createUser({ roles: [superRole.name] })
    const actorCookie = (await createSessionCookie(actor.id)).cookie

    const response = await saveRoles(last.id, actorCookie, ['role_user'])
    expect(response.status).toBe(400)
    expect(((await response.json()) as Failure).formErrors[0]).toBe(
      `${last.email} is the last admin. Give the admin role to another user first, so that someone can still manage users and roles.`,
    )
    expect(await rolesOf(last.id)).toEqual(['admin', 'user'])

    // Removing every role is refused the same way.
    expect((await saveRoles(last.id, actorCookie, [])).status).toBe(400)
    expect(await rolesOf(last.id)).toEqual(['admin', 'user'])
  })

  test('cannot remove it from themselves either', async () => {
    await makeOnlyAdmin(admin.id)
    const response = await saveRoles(admin.id, cookie, ['role_user'])
    expect(response.status).toBe(400)
    expect(((await response.json()) as Failure).formErrors[0]).toMatch(
      new RegExp(`^${admin.email.replace(/[.]/g, '\\.')} is the last admin`),
    )
    expect(await rolesOf(admin.id)).toEqual(['admin', 'user'])
    expect(await prisma.user.count({ where: { roles: { some: { name: 'admin' } } } })).toBe(1)
  })

  test('may change their other roles', async () => {
    await makeOnlyAdmin(admin.id)
    const response = await saveRoles(admin.id, cookie, ['role_admin'])
    expect(response.status).toBe(302)
    expect(await rolesOf(admin.id)).toEqual(['admin'])
  })

  test('two admins removing each other at the same time leave one admin', async () => {
    await makeOnlyAdmin(admin.id)
    const other = await createUser({ roles: ['admin', 'user'] })
    const otherCookie = (await createSessionCookie(other.id)).cookie
    const results = await Promise.all([
      saveRoles(other.id, cookie, ['role_user']),
      saveRoles(admin.id, otherCookie, ['role_user']),
    ])
    expect(results.map((r) => r.status).sort()).toEqual([302, 400])
    expect(await prisma.user.count({ where: { roles: { some: { name: 'admin' } } } })).toBe(1)
  })
})

describe('a user manager (may edit users, is not an admin)', () => {
  // Every account has the user role; the manager's own role adds only what editing users needs.
  async function userManager() {
    const role = await prisma.role.create({
      data: {
        name: `user-manager-${Math.random().toString(36).slice(2, 8)}`,
        permissions: { connect: [{ id: 'perm_read_user_any' }, { id: 'perm_update_user_any' }] },
      },
    })
    const manager = await createUser({ roles: [role.name, 'user'] })
    return { role, manager, cookie: (await createSessionCookie(manager.id)).cookie }
  }

  async function refusal(response: Response) {
    expect(response.status).toBe(403)
    return ((await response.json()) as Failure).formErrors[0]
  }

  test('cannot make itself an admin: refused with what is missing, nothing changed', async () => {
    const { role, manager, cookie: managerCookie } = await userManager()
    const message = await refusal(await saveRoles(manager.id, managerCookie, ['role_admin', 'role_user', role.id]))
    expect(message).toMatch(/^You cannot grant the role admin: it has permissions you do not hold \(create:user:any, /)
    expect(await rolesOf(manager.id)).toEqual([role.name, 'user'].sort())
  })

  test('cannot make another user an admin', async () => {
    const { cookie: managerCookie } = await userManager()
    const target = await createUser({ roles: ['user'] })
    const message = await refusal(await saveRoles(target.id, managerCookie, ['role_admin', 'role_user']))
    expect(message).toMatch(/^You cannot grant the role admin: it has permissions you do not hold \(/)
    expect(await rolesOf(target.id)).toEqual(['user'])
  })

  test('cannot take the admin role away from an admin', async () => {
    const { cookie: managerCookie } = await userManager()
    const target = await createUser({ roles: ['admin', 'user'] })
    const message = await refusal(await saveRoles(target.id, managerCookie, ['role_user']))
    expect(message).toMatch(/^You cannot take away the role admin: it has permissions you do not hold \(/)
    expect(await rolesOf(target.id)).toEqual(['admin', 'user'])
    // Nor every role at once.
    expect((await saveRoles(target.id, managerCookie, [])).status).toBe(403)
    expect(await rolesOf(target.id)).toEqual(['admin', 'user'])
  })

  test('cannot grant a role with even one permission it lacks', async () => {
    const { cookie: managerCookie } = await userManager()
    const watcher = await prisma.role.create({
      data: { name: 'gpu-watcher-m', permissions: { connect: [{ id: 'perm_read_user_any' }, { id: 'perm_read_gpu_any' }] } },
    })
    const target = await createUser({ roles: ['user'] })
    expect(await refusal(await saveRoles(target.id, managerCookie, ['role_user', watcher.id]))).toBe(
      'You cannot grant the role gpu-watcher-m: it has permissions you do not hold (read:gpu:any).',
    )
    expect(await rolesOf(target.id)).toEqual(['user'])
  })

  test('may still give and take the user role, and its own role', async () => {
    const { role, cookie: managerCookie } = await userManager()
    const target = await createUser({ roles: [] })
    expect((await saveRoles(target.id, managerCookie, ['role_user'])).status).toBe(302)
    expect(await rolesOf(target.id)).toEqual(['user'])
    expect((await saveRoles(target.id, managerCookie, ['role_user', role.id])).status).toBe(302)
    expect(await rolesOf(target.id)).toEqual([role.name, 'user'].sort())
    expect((await saveRoles(target.id, managerCookie, [])).status).toBe(302)
    expect(await rolesOf(target.id)).toEqual([])
  })

  test("may change an admin's other roles: a role it leaves as it is needs no permission", async () => {
    const { cookie: managerCookie } = await userManager()
    const target = await createUser({ roles: ['admin', 'user'] })
    expect((await saveRoles(target.id, managerCookie, ['role_admin'])).status).toBe(302)
    expect(await rolesOf(target.id)).toEqual(['admin'])
  })
})
