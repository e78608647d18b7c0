import { expect, test } from 'vitest'
import { formatRecoveryCode, normalizeRecoveryCode, RecoveryCodeSchema } from './recovery-codes'

test('a code typed back from paper is read the way it was made: case, spaces, dashes and look-alikes do not matter', () => {
  expect(normalizeRecoveryCode('4kx7m-q2w9p')).toBe('4kx7mq2w9p')
  expect(normalizeRecoveryCode(' 4KX7M Q2W9P ')).toBe('4kx7mq2w9p')
  // o, i and l are not in the alphabet: read as 0, 1 and 1.
  expect(normalizeRecoveryCode('oilab-cdefg')).toBe('011abcdefg')
  expect(formatRecoveryCode('4kx7mq2w9p')).toBe('4kx7m-q2w9p')
})

test.each([
  ['too short', '4kx7m-q2w9'],
  ['too long', '4kx7m-q2w9pp'],
  ['a letter outside the alphabet', '4kx7m-q2w9u'],
  ['six digits (an app code)', '123456'],
  ['punctuation', '4kx7m;q2w9p'],
])('%s is not a recovery code', (_, input) => {
  expect(normalizeRecoveryCode(input)).toBeNull()
  expect(RecoveryCodeSchema.safeParse(input).success).toBe(false)
})
