// The shape of a two-factor recovery code, shared with the browser so the forms check it with the
// same schema as the server before anything is sent.
import { z } from 'zod'

/** How many codes a person gets at a time: enough for years of lost phones, few enough to print. */
export const RECOVERY_CODE_COUNT = 10

/**
 * Crockford's base32: no i, l, o or u, so a code read off paper is typed back right; 10 characters
 * are 50 random bits, which no rate-limited guesser comes near.
 */
export const RECOVERY_CODE_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'
export const RECOVERY_CODE_LENGTH = 10

/**
 * The code as it is hashed and compared, or null when it cannot be one: case, spaces and dashes do
 * not matter, and the letters people confuse with digits (o, i, l) are read as those digits.
 */
export function normalizeRecoveryCode(input: string): string | null {
  const code = input.toLowerCase().replace(/[\s-]/g, '').replace(/o/g, '0').replace(/[il]/g, '1')
  return code.length === RECOVERY_CODE_LENGTH && [...code].every((c) => RECOVERY_CODE_ALPHABET.includes(c)) ? code : null
}

/** "abcde-12345": two halves are easier to read aloud and to copy by hand. */
export function formatRecoveryCode(code: string) {
  return `${code.slice(0, 5)}-${code.slice(5)}`
}

export const RecoveryCodeSchema = z
  .string({ required_error: 'Enter one of your recovery codes' })
  .trim()
  .max(64, 'A recovery code is 10 letters and digits, like 4kx7m-q2w9p')
  .refine((value) => normalizeRecoveryCode(value) !== null, 'A recovery code is 10 letters and digits, like 4kx7m-q2w9p')
