// What an API token may do: its user's permissions, narrowed by its scopes. Shared by the server (every
// permission check of a token request goes through scopeAllows) and the Settings page (which scopes a
// person may pick).
import type { Action, Access } from '~/utils/permissions'

/**
 * - read:  read what the user may read (own trainings, runs, images, spend)
 * - write: also create, change, start, cancel and delete what the user may
 * - admin: also the user's "any" permissions (other people's trainings, the fleet); only for people
 *          who hold an "any" permission
 */
export const API_SCOPES = ['read', 'write', 'admin'] as const
export type ApiScope = (typeof API_SCOPES)[number]

export const SCOPE_LABELS: Record<ApiScope, string> = {
  read: 'Read',
  write: 'Read and write',
  admin: 'Administration (everyone’s trainings and runs, as your roles allow)',
}

export function parseScopes(value: string): ApiScope[] {
  const wanted = new Set(value.split(',').map((s) => s.trim()))
  return API_SCOPES.filter((scope) => wanted.has(scope))
}

export function hasScope(scopes: readonly ApiScope[], needed: 'read' | 'write') {
  return needed === 'read' ? scopes.includes('read') || scopes.includes('write') : scopes.includes('write')
}

/** Whether a token with these scopes may use a permission of its user (action on own/any). */
export function scopeAllows(scopes: readonly ApiScope[], action: Action | string, access: Access | string) {
  if (!hasScope(scopes, action === 'read' ? 'read' : 'write')) return false
  return access !== 'any' || scopes.includes('admin')
}
