// Field schemas shared by every form that takes these values (sign-up, login, reset, settings, admin).
import { z } from 'zod'
import { isCommonPassword } from './common-passwords'

export const EmailSchema = z
  .string({ required_error: 'Email is required' })
  .trim()
  .min(3, 'Email is too short')
  .max(254, 'Email is too long')
  .email('Enter a valid email address')
  .transform((v) => v.toLowerCase())

export const NameSchema = z
  .string({ required_error: 'Name is required' })
  .trim()
  .min(1, 'Name is required')
  .max(80, 'Name must be at most 80 characters')

// bcrypt reads at most 72 bytes: a longer password would be silently truncated.
export const PasswordSchema = z
  .string({ required_error: 'Password is required' })
  .min(8, 'Password must be at least 8 characters')
  .refine((v) => new TextEncoder().encode(v).length <= 72, 'Password must be at most 72 bytes')
  .refine((v) => !isCommonPassword(v), 'This password is too common; choose another')

/** A new password typed twice. */
export const PasswordAndConfirmSchema = z
  .object({ password: PasswordSchema, confirmPassword: z.string({ required_error: 'Confirm your password' }) })
  .superRefine(({ password, confirmPassword }, ctx) => {
    if (password !== confirmPassword) {
      ctx.addIssue({ path: ['confirmPassword'], code: 'custom', message: 'The passwords do not match' })
    }
  })

export const CodeSchema = z
  .string({ required_error: 'Code is required' })
  .trim()
  .regex(/^[0-9]{6}$/, 'The code is 6 digits')
