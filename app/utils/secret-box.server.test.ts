// The encrypted column: a box opens only with the same SESSION_SECRET, for the row it was sealed for,
// unaltered.
import { describe, expect, test } from 'vitest'
import { openSecret, sealSecret } from './secret-box.server'

const SECRET = 'box-test-session-secret-0123456789'
const TOKEN = 'hf_SecretBoxToken0123456789abcdef'

describe('sealSecret / openSecret', () => {
  test('round trip; the box shows nothing of the plaintext, and sealing twice gives two different boxes', () => {
    const box = sealSecret(TOKEN, 'user:a:huggingFaceToken', SECRET)
    expect(box).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/)
    expect(box).not.toContain(TOKEN)
    expect(box).not.toContain('hf_')
    expect(openSecret(box, 'user:a:huggingFaceToken', SECRET)).toBe(TOKEN)
    expect(sealSecret(TOKEN, 'user:a:huggingFaceToken', SECRET)).not.toBe(box)
  })

  test('another SESSION_SECRET, another row, an altered box or no box at all: null, never a throw', () => {
    const box = sealSecret(TOKEN, 'user:a:huggingFaceToken', SECRET)
    expect(openSecret(box, 'user:a:huggingFaceToken', 'another-session-secret-0123456789')).toBeNull()
    expect(openSecret(box, 'user:b:huggingFaceToken', SECRET)).toBeNull()
    const [v, iv, tag, ciphertext] = box.split('.') as [string, string, string, string]
    const flipped = Buffer.from(ciphertext, 'base64url')
    flipped[0] = flipped[0]! ^ 1
    expect(openSecret([v, iv, tag, flipped.toString('base64url')].join('.'), 'user:a:huggingFaceToken', SECRET)).toBeNull()
    for (const garbage of ['', TOKEN, 'v1.a.b.c', 'v2.' + box.slice(3), 'v1...', box + '.x'])
      expect(openSecret(garbage, 'user:a:huggingFaceToken', SECRET)).toBeNull()
  })
})
