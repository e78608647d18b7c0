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
