// Permission strings shared by the server checks and the UI that hides what a user may not do.
export const ACTIONS = ['create', 'read', 'update', 'delete'] as const
export const ENTITIES = ['user', 'role', 'training', 'run', 'gpu'] as const
export const ACCESSES = ['own', 'any'] as const

export type Action = (typeof ACTIONS)[number]
export type Entity = (typeof ENTITIES)[number]
export type Access = (typeof ACCESSES)[number]
/** `action:entity` (own or any) or `action:entity:access`; "own" is also satisfied by "any". */
export type PermissionString = `${Action}:${Entity}` | `${Action}:${Entity}:${Access}` | `${Action}:${Entity}:${Access},${Access}`

export function parsePermissionString(permission: PermissionString) {
  const [action, entity, access] = permission.split(':') as [Action, Entity, string | undefined]
  const accesses = access ? (access.split(',') as Access[]) : (['own', 'any'] as Access[])
  // Whoever may act on any entity may also act on their own.
  if (accesses.includes('own') && !accesses.includes('any')) accesses.push('any')
  return { action, entity, access: accesses }
}

/**
 * The permissions some check in the code reads, as `action:entity:access`: the roles matrix offers
 * these and no others, since a box like "create gpu" or "update run" would change nothing (runs are
 * governed by their training's permissions). An "own" check is also passed by "any", so both show.
 * permissions.test.ts holds this list to the checks in the code, both ways.
 */
export const MATRIX_PERMISSIONS = [
  'read:user:any',
  'update:user:any',
  'create:role:any',
  'read:role:any',
  'update:role:any',
  'delete:role:any',
  'create:training:own',
  'create:training:any',
  'read:training:own',
  'read:training:any',
  'update:training:own',
  'update:training:any',
  'delete:training:own',
  'delete:training:any',
  'read:gpu:any',
  'delete:gpu:any',
] as const satisfies ReadonlyArray<`${Action}:${Entity}:${Access}`>

const matrixSet: ReadonlySet<string> = new Set(MATRIX_PERMISSIONS)
/** Whether the roles matrix offers this `action:entity:access`. */
export const isMatrixPermission = (key: string) => matrixSet.has(key)

export type UserWithRoles = {
  roles: Array<{ name: string; permissions: Array<{ action: string; entity: string; access: string }> }>
}

export function userHasPermission(user: UserWithRoles | null | undefined, permission: PermissionString) {
  if (!user) return false
  const { action, entity, access } = parsePermissionString(permission)
  return user.roles.some((role) =>
    role.permissions.some((p) => p.entity === entity && p.action === action && (access as string[]).includes(p.access)),
  )
}

export function userHasRole(user: UserWithRoles | null | undefined, role: string) {
  return Boolean(user?.roles.some((r) => r.name === role))
}
