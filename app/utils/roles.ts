// Role names and the fields of the role forms, shared by the admin pages' server code and their
// forms (the browser needs the limits and the admin role's name too, so this is not *.server).
import { z } from 'zod'

/** The role whose members run the admin pages; it always keeps at least one member. */
export const ADMIN_ROLE = 'admin'

/**
 * Roles the app looks up by name: sign-up gives every new account 'user', and 'admin' is what the
 * last-admin rule counts. Renaming or deleting either would break that, so both are refused.
 */
const BUILT_IN_ROLES = new Set([ADMIN_ROLE, 'user'])

export function isBuiltInRole(name: string) {
  return BUILT_IN_ROLES.has(name)
}

export const ROLE_NAME_MIN_CHARS = 2
export const ROLE_NAME_MAX_CHARS = 32
export const ROLE_DESCRIPTION_MAX_CHARS = 200

export const RoleNameSchema = z
  .string({ required_error: 'Name is required' })
  .trim()
  .min(ROLE_NAME_MIN_CHARS, `Name must be at least ${ROLE_NAME_MIN_CHARS} characters`)
  .max(ROLE_NAME_MAX_CHARS, `Name must be at most ${ROLE_NAME_MAX_CHARS} characters`)
  .regex(/^[a-z0-9-]+$/, 'Use only lowercase letters (a–z), digits and "-"')

export const RoleDescriptionSchema = z
  .string()
  .trim()
  .max(ROLE_DESCRIPTION_MAX_CHARS, `Description must be at most ${ROLE_DESCRIPTION_MAX_CHARS} characters`)
  .default('')
