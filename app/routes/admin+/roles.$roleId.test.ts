import { beforeAll, describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../../tests/db-utils'
import { action, loader } from './roles.$roleId'

type Failure = { formErrors: string[]; fieldErrors: Record<string, string[] | undefined> }

let cookie: string

beforeAll(async () => {
  const admin = await createUser({ roles: ['admin', 'user'] })
  cookie = (await createSessionCookie(admin.id)).cookie
})

function post(roleId: string, form: Record<string, string | string[]>, as = cookie) {
  return callRoute(() =>
    action({ ...ctx, params: { roleId }, request: makeRequest(`/admin/roles/${roleId}`, { form, cookie: as }) }),
  )
}

async function permissionsOf(roleId: string) {
  const role = await prisma.role.findUniqueOrThrow({
    where: { id: roleId },
    select: { permissions: { select: { action: true, entity: true, access: true } } },
  })
  return role.permissions.map((p) => `${p.action}:${p.entity}:${p.access}`).sort()
}

async function firstError(response: Response) {
  const body = (await response.json()) as Failure
  return body.fieldErrors.name?.[0] ?? body.formErrors[0]
}

describe('the role page', () => {
  test('shows the role, its users and its permissions', async () => {
    const role = await prisma.role.create({ data: { name: 'shown', permissions: { connect: [{ id: 'perm_read_gpu_any' }] } } })
    const holder = await createUser({ roles: ['shown'] })
    const response = await callRoute(() =>
      loader({ ...ctx, params: { roleId: role.id }, request: makeRequest(`/admin/roles/${role.id}`, { cookie }) }),
    )
    expect(response.status).toBe(200)
    const data = await response.json()
    expect(data.role).toMatchObject({ name: 'shown', builtIn: false, permissionKeys: ['read:gpu:any'], userCount: 1 })
    expect(data.role.users).toEqual([{ id: holder.id, email: holder.email }])
    expect(Object.keys(data.descriptions)).toHaveLength(40)
  })

  test('an unknown role id is a 404 for the page and every action', async () => {
    const page = await callRoute(() =>
      loader({ ...ctx, params: { roleId: 'nope' }, request: makeRequest('/admin/roles/nope', { cookie }) }),
    )
    expect(page.status).toBe(404)
    const forms: Array<Record<string, string>> = [
      { intent: 'rename', name: 'x-y' },
      { intent: 'delete' },
      { intent: 'permissions' },
    ]
    for (const form of forms) {
      expect((await post('nope', form)).status).toBe(404)
    }
  })
})

describe('renaming', () => {
  test('renames a role and saves its description', async () => {
    const role = await prisma.role.create({ data: { name: 'old-name' } })
    const response = await post(role.id, { intent: 'rename', name: 'new-name', description: 'Now described' })
    expect(response.status).toBe(302)
    expect(await prisma.role.findUnique({ where: { id: role.id } })).toMatchObject({
      name: 'new-name',
      description: 'Now described',
    })
  })

  test('to a name that is taken is refused', async () => {
    const role = await prisma.role.create({ data: { name: 'first-one' } })
    await prisma.role.create({ data: { name: 'second-one' } })
    const response = await post(role.id, { intent: 'rename', name: 'second-one', description: 'changed' })
    expect(response.status).toBe(400)
    expect(await firstError(response)).toBe('A role named "second-one" already exists. Choose another name.')
    expect(await prisma.role.findUnique({ where: { id: role.id } })).toMatchObject({ name: 'first-one', description: '' })
  })

  test('to an invalid name is refused', async () => {
    const role = await prisma.role.create({ data: { name: 'valid-now' } })
    for (const name of ['Bad Name', 'x', 'y'.repeat(33)]) {
      const response = await post(role.id, { intent: 'rename', name })
      expect(response.status).toBe(400)
      expect(await firstError(response)).toMatch(/lowercase|at least 2|at most 32/)
    }
    expect((await prisma.role.findUniqueOrThrow({ where: { id: role.id } })).name).toBe('valid-now')
  })

  test('keeping the same name only saves the description', async () => {
    const role = await prisma.role.create({ data: { name: 'same-name' } })
    expect((await post(role.id, { intent: 'rename', name: 'same-name', description: 'd' })).status).toBe(302)
    expect(await prisma.role.findUnique({ where: { id: role.id } })).toMatchObject({ name: 'same-name', description: 'd' })
  })

  test('built-in roles keep their names, but their descriptions may change', async () => {
    for (const id of ['role_admin', 'role_user']) {
      const response = await post(id, { intent: 'rename', name: 'renamed-builtin' })
      expect(response.status).toBe(400)
      expect(await firstError(response)).toMatch(/cannot be renamed/)
    }
    expect(await prisma.role.count({ where: { name: { in: ['admin', 'user'] } } })).toBe(2)
    expect((await post('role_user', { intent: 'rename', name: 'user', description: 'Everyone' })).status).toBe(302)
    expect((await prisma.role.findUniqueOrThrow({ where: { id: 'role_user' } })).description).toBe('Everyone')
  })
})

describe('deleting', () => {
  test('deletes a role in use: its users lose it and keep their other roles', async () => {
    const role = await prisma.role.create({ data: { name: 'doomed', permissions: { connect: [{ id: 'perm_read_gpu_any' }] } } })
    const holder = await createUser({ roles: ['doomed', 'user'] })
    const response = await post(role.id, { intent: 'delete' })
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe('/admin/roles')
    expect(await prisma.role.findUnique({ where: { id: role.id } })).toBeNull()
    const after = await prisma.user.findUniqueOrThrow({ where: { id: holder.id }, select: { roles: { select: { name: true } } } })
    expect(after.roles).toEqual([{ name: 'user' }])
    // The permission itself stays: it belongs to the app, not to the role.
    expect(await prisma.permission.count({ where: { id: 'perm_read_gpu_any' } })).toBe(1)
  })

  test('the admin and user roles cannot be deleted', async () => {
    for (const id of ['role_admin', 'role_user']) {
      const response = await post(id, { intent: 'delete' })
      expect(response.status).toBe(400)
      expect(await firstError(response)).toMatch(/cannot be deleted: the app relies on it/)
      expect(await prisma.role.count({ where: { id } })).toBe(1)
    }
  })

  test('needs delete:role:any', async () => {
    const editor = await prisma.role.create({
      data: { name: 'role-editor', permissions: { connect: [{ id: 'perm_read_role_any' }, { id: 'perm_update_role_any' }] } },
    })
    const user = await createUser({ roles: [editor.name] })
    const editorCookie = (await createSessionCookie(user.id)).cookie
    const target = await prisma.role.create({ data: { name: 'kept' } })
    expect((await post(target.id, { intent: 'delete' }, editorCookie)).status).toBe(403)
    expect(await prisma.role.count({ where: { id: target.id } })).toBe(1)
    // …while renaming, which needs update:role:any, works for them.
    expect((await post(target.id, { intent: 'rename', name: 'kept-2' }, editorCookie)).status).toBe(302)
  })
})

describe('the permission matrix', () => {
  test('saves exactly what was checked', async () => {
    const role = await prisma.role.create({ data: { name: 'matrix', permissions: { connect: [{ id: 'perm_delete_run_any' }] } } })
    const checked = ['read:gpu:any', 'read:training:own', 'update:training:own', 'create:run:any']
    const response = await post(role.id, { intent: 'permissions', permission: checked })
    expect(response.status).toBe(302)
    expect(await permissionsOf(role.id)).toEqual([...checked].sort())

    await post(role.id, { intent: 'permissions', permission: 'read:gpu:any' })
    expect(await permissionsOf(role.id)).toEqual(['read:gpu:any'])

    // Nothing checked: no permissions.
    await post(role.id, { intent: 'permissions' })
    expect(await permissionsOf(role.id)).toEqual([])
  })

  test('an unknown permission is refused and nothing changes', async () => {
    const role = await prisma.role.create({ data: { name: 'matrix-2', permissions: { connect: [{ id: 'perm_read_gpu_any' }] } } })
    const response = await post(role.id, { intent: 'permissions', permission: ['read:user:any', 'launch:rocket:any'] })
    expect(response.status).toBe(400)
    expect(((await response.json()) as Failure).fieldErrors.permission?.[0]).toBe('Unknown permission')
    expect(await permissionsOf(role.id)).toEqual(['read:gpu:any'])
  })

  test('the user role may be changed', async () => {
    const before = await permissionsOf('role_user')
    await post('role_user', { intent: 'permissions', permission: [...before, 'read:gpu:any'] })
    expect(await permissionsOf('role_user')).toEqual([...before, 'read:gpu:any'].sort())
    await post('role_user', { intent: 'permissions', permission: before })
    expect(await permissionsOf('role_user')).toEqual(before)
  })
})

describe('the admin role', () => {
  test('cannot lose a permission: clear message, nothing changed', async () => {
    const before = await permissionsOf('role_admin')
    expect(before).toHaveLength(20)
    for (const removed of ['read:user:any', 'update:role:any', 'read:gpu:any']) {
      const response = await post('role_admin', { intent: 'permissions', permission: before.filter((k) => k !== removed) })
      expect(response.status).toBe(400)
      expect(await firstError(response)).toMatch(
        new RegExp(`^The admin role keeps every permission it has \\(you unchecked ${removed}\\)`),
      )
      expect(await permissionsOf('role_admin')).toEqual(before)
    }
    expect((await post('role_admin', { intent: 'permissions' })).status).toBe(400)
    expect(await permissionsOf('role_admin')).toEqual(before)
  })

  test('may gain permissions', async () => {
    const before = await permissionsOf('role_admin')
    const response = await post('role_admin', { intent: 'permissions', permission: [...before, 'read:training:own'] })
    expect(response.status).toBe(302)
    expect(await permissionsOf('role_admin')).toEqual([...before, 'read:training:own'].sort())
  })
})

describe('a role editor (may edit roles, is not an admin)', () => {
  // Every account has the user role, unless a test needs an editor without its "own" permissions.
  async function roleEditor(otherRoles = ['user']) {
    const role = await prisma.role.create({
      data: {
        name: `role-editor-${Math.random().toString(36).slice(2, 8)}`,
        permissions: { connect: [{ id: 'perm_read_role_any' }, { id: 'perm_update_role_any' }] },
      },
    })
    const editor = await createUser({ roles: [role.name, ...otherRoles] })
    return { role, cookie: (await createSessionCookie(editor.id)).cookie }
  }

  async function refusal(response: Response) {
    expect(response.status).toBe(403)
    return ((await response.json()) as Failure).formErrors[0]
  }

  test('cannot add a permission it does not hold: refused with what is missing, nothing changed', async () => {
    const { cookie: editorCookie } = await roleEditor()
    const role = await prisma.role.create({
      data: { name: 'edited-1', permissions: { connect: [{ id: 'perm_read_role_any' }] } },
    })
    const response = await post(role.id, { intent: 'permissions', permission: ['read:role:any', 'delete:gpu:any'] }, editorCookie)
    expect(await refusal(response)).toBe('You cannot add permissions you do not hold yourself (delete:gpu:any).')
    expect(await permissionsOf(role.id)).toEqual(['read:role:any'])
    // Not even the write that takes SQLite's lock first: the refusal rolled it back.
    expect((await prisma.role.findUniqueOrThrow({ where: { id: role.id } })).updatedAt).toEqual(role.updatedAt)
  })

  test('cannot give its own role more than it holds', async () => {
    const { role, cookie: editorCookie } = await roleEditor()
    const response = await post(
      role.id,
      { intent: 'permissions', permission: ['read:role:any', 'update:role:any', 'update:user:any', 'read:user:any'] },
      editorCookie,
    )
    expect(await refusal(response)).toBe('You cannot add permissions you do not hold yourself (read:user:any, update:user:any).')
    expect(await permissionsOf(role.id)).toEqual(['read:role:any', 'update:role:any'])
  })

  test('cannot remove a permission it does not hold', async () => {
    const { cookie: editorCookie } = await roleEditor()
    const role = await prisma.role.create({ data: { name: 'edited-2', permissions: { connect: [{ id: 'perm_read_gpu_any' }] } } })
    expect(await refusal(await post(role.id, { intent: 'permissions' }, editorCookie))).toBe(
      'You cannot remove permissions you do not hold yourself (read:gpu:any).',
    )
    expect(await permissionsOf(role.id)).toEqual(['read:gpu:any'])
  })

  test('cannot add to the admin role what it does not hold', async () => {
    const { cookie: editorCookie } = await roleEditor([])
    const before = await permissionsOf('role_admin')
    const response = await post('role_admin', { intent: 'permissions', permission: [...before, 'read:gpu:own'] }, editorCookie)
    expect(await refusal(response)).toBe('You cannot add permissions you do not hold yourself (read:gpu:own).')
    expect(await permissionsOf('role_admin')).toEqual(before)
  })

  test('cannot delete a role with a permission it does not hold, may delete one without', async () => {
    const deleter = await prisma.role.create({
      data: {
        name: 'role-deleter',
        permissions: { connect: [{ id: 'perm_read_role_any' }, { id: 'perm_update_role_any' }, { id: 'perm_delete_role_any' }] },
      },
    })
    const user = await createUser({ roles: [deleter.name, 'user'] })
    const deleterCookie = (await createSessionCookie(user.id)).cookie
    const strong = await prisma.role.create({
      data: { name: 'strong', permissions: { connect: [{ id: 'perm_delete_gpu_any' }] } },
    })
    expect(await refusal(await post(strong.id, { intent: 'delete' }, deleterCookie))).toBe(
      'You cannot delete the role strong: it has permissions you do not hold (delete:gpu:any).',
    )
    expect((await prisma.role.findUniqueOrThrow({ where: { id: strong.id } })).updatedAt).toEqual(strong.updatedAt)
    expect(await prisma.role.count({ where: { id: strong.id } })).toBe(1)
    const weak = await prisma.role.create({ data: { name: 'weak', permissions: { connect: [{ id: 'perm_read_role_any' }] } } })
    expect((await post(weak.id, { intent: 'delete' }, deleterCookie)).status).toBe(302)
    expect(await prisma.role.count({ where: { id: weak.id } })).toBe(0)
  })

  test('may add and remove what it holds ("any" holds "own" too), leaving the rest as it is', async () => {
    const { cookie: editorCookie } = await roleEditor()
    const role = await prisma.role.create({ data: { name: 'edited-3', permissions: { connect: [{ id: 'perm_read_gpu_any' }] } } })
    const checked = ['read:gpu:any', 'read:role:any', 'read:role:own', 'update:training:own']
    expect((await post(role.id, { intent: 'permissions', permission: checked }, editorCookie)).status).toBe(302)
    expect(await permissionsOf(role.id)).toEqual([...checked].sort())
    expect((await post(role.id, { intent: 'permissions', permission: 'read:gpu:any' }, editorCookie)).status).toBe(302)
    expect(await permissionsOf(role.id)).toEqual(['read:gpu:any'])
  })
})
