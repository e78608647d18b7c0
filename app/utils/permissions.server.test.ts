import { describe, expect, test } from 'vitest'
import { callRoute, createSessionCookie, createUser, makeRequest } from '../../tests/db-utils'
import { prisma } from './db.server'
import { userHasPermission, userHasRole } from './permissions'
import { requireUserWithPermission, requireUserWithRole } from './permissions.server'

describe('the roles and permissions every database has', () => {
  test('admin holds every "any" permission and user every "own" one', async () => {
    const roles = await prisma.role.findMany({ include: { permissions: true }, orderBy: { name: 'asc' } })
    expect(roles.map((r) => r.name)).toEqual(['admin', 'user'])
    const [admin, user] = roles
    expect(admin!.permissions).toHaveLength(20)
    expect(admin!.permissions.every((p) => p.access === 'any')).toBe(true)
    expect(user!.permissions).toHaveLength(20)
    expect(user!.permissions.every((p) => p.access === 'own')).toBe(true)
  })
})

describe('requireUserWithPermission', () => {
  async function check(roles: string[], permission: Parameters<typeof requireUserWithPermission>[1]) {
    const user = await createUser({ roles })
    const { cookie } = await createSessionCookie(user.id)
    return callRoute(async () => {
      const id = await requireUserWithPermission(makeRequest('/x', { cookie }), permission)
      return new Response(id)
    })
  }

  test('a user may act on their own, not on any', async () => {
    expect((await check(['user'], 'update:training:own')).status).toBe(200)
    expect((await check(['user'], 'update:training:any')).status).toBe(403)
    expect((await check(['user'], 'read:user:any')).status).toBe(403)
  })

  test('"any" also satisfies "own"', async () => {
    expect((await check(['admin'], 'update:training:own')).status).toBe(200)
    expect((await check(['admin'], 'read:gpu:any')).status).toBe(200)
  })

  test('no role, no permission', async () => {
    expect((await check([], 'read:training:own')).status).toBe(403)
  })

  test('anonymous requests are sent to log in, with the way back', async () => {
    const res = await callRoute(async () => {
      await requireUserWithPermission(makeRequest('/admin/users?page=2'), 'read:user:any')
      return new Response('unreachable')
    })
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/login?redirectTo=%2Fadmin%2Fusers%3Fpage%3D2')
  })

  test('requireUserWithRole', async () => {
    const user = await createUser({ roles: ['user'] })
    const { cookie } = await createSessionCookie(user.id)
    const res = await callRoute(async () => {
      await requireUserWithRole(makeRequest('/x', { cookie }), 'admin')
      return new Response('ok')
    })
    expect(res.status).toBe(403)
  })
})

describe('userHasPermission (shared with the browser)', () => {
  const user = {
    roles: [{ name: 'editor', permissions: [{ action: 'update', entity: 'training', access: 'any' }] }],
  }
  test('checks action, entity and access', () => {
    expect(userHasPermission(user, 'update:training:any')).toBe(true)
    expect(userHasPermission(user, 'update:training:own')).toBe(true)
    expect(userHasPermission(user, 'update:training')).toBe(true)
    expect(userHasPermission(user, 'delete:training:own')).toBe(false)
    expect(userHasPermission(user, 'update:run:any')).toBe(false)
    expect(userHasPermission(null, 'read:user:own')).toBe(false)
    expect(userHasRole(user, 'editor')).toBe(true)
    expect(userHasRole(user, 'admin')).toBe(false)
  })
})
