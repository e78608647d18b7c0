// Secrets the app must read back later (a person's Hugging Face token), stored encrypted: AES-256-GCM
// under a key derived with HKDF from SESSION_SECRET and a label of its own, so the key is never stored
// and is kept apart from every other use of that secret (cookies, signed URLs, agent tokens). A copy
// of the database alone reveals none of them.
//
// Why derived and not a SECRETS_KEY of its own: every deployment already keeps SESSION_SECRET secret
// (production refuses the development default), so nothing new must be generated, stored and rotated
// in step, and an upgrade needs no new required variable. The price: changing SESSION_SECRET makes the
// stored secrets unreadable — openSecret then answers null and the owner is asked to save theirs again.
//
// Each box is bound to what it belongs to (the associated data, e.g. "user:<id>:huggingFaceToken"):
// a box copied into another row does not open there.
import crypto from 'node:crypto'
import { getEnv } from './env.server'

const KEY_LABEL = 'trainyard/secret-box/v1'
const VERSION = 'v1'
/** GCM's recommended nonce length; random per box, so one key may seal about 2^32 of them safely. */
const IV_BYTES = 12

function keyFor(secret: string) {
  return Buffer.from(crypto.hkdfSync('sha256', secret, '', KEY_LABEL, 32))
}

/** "v1.<iv>.<tag>.<ciphertext>", base64url: what a column stores. */
export function sealSecret(plaintext: string, boundTo: string, secret = getEnv().SESSION_SECRET): string {
  const iv = crypto.randomBytes(IV_BYTES)
  const cipher = crypto.createCipheriv('aes-256-gcm', keyFor(secret), iv)
  cipher.setAAD(Buffer.from(boundTo))
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return [VERSION, iv, cipher.getAuthTag(), ciphertext]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.')
}

/**
 * The plaintext of a box, or null when it does not open: sealed under another SESSION_SECRET, bound
 * to something else, altered, or not a box at all.
 */
export function openSecret(box: string, boundTo: string, secret = getEnv().SESSION_SECRET): string | null {
  const parts = box.split('.')
  if (parts.length !== 4 || parts[0] !== VERSION) return null
  const [iv, tag, ciphertext] = parts.slice(1).map((p) => Buffer.from(p, 'base64url'))
  if (iv!.length !== IV_BYTES || tag!.length !== 16) return null
  try {
    const decipher = crypto.createDecipheriv('aes-256-gcm', keyFor(secret), iv!)
    decipher.setAAD(Buffer.from(boundTo))
    decipher.setAuthTag(tag!)
    return Buffer.concat([decipher.update(ciphertext!), decipher.final()]).toString('utf8')
  } catch {
    return null
  }
}
