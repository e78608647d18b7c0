import crypto from 'node:crypto'
import { describe, expect, test } from 'vitest'
import { createUrlSigner, expiryFromNow, MAX_SIGNED_URL_EXPIRY_S } from './signing.server'

const SECRET = 'test-session-secret-0123456789'
const signer = createUrlSigner(SECRET)
const NOW_MS = Date.UTC(2026, 0, 1)
const expires = Math.floor(NOW_MS / 1000) + 60

function query(text: string) {
  return new URLSearchParams(text)
}

describe('signed storage URLs', () => {
  test('a signature verifies for its key and method until the second it expires', () => {
    const q = query(signer.sign({ method: 'GET', key: 'a/b.jpg', expires }))
    expect(q.get('sig')).toMatch(/^[0-9a-f]{64}$/)
    const check = (nowMs: number, method = 'GET', key = 'a/b.jpg') => signer.verify({ key, query: q, method, nowMs })
    expect(check(NOW_MS)).toEqual({ valid: true, request: { method: 'GET', key: 'a/b.jpg', expires } })
    expect(check(expires * 1000).valid).toBe(true)
    expect(check(NOW_MS, 'HEAD').valid).toBe(true)
    expect(check(expires * 1000 + 1)).toEqual({ valid: false, reason: 'expired' })
    expect(check(NOW_MS, 'PUT')).toEqual({ valid: false, reason: 'wrong-method' })
    expect(check(NOW_MS, 'GET', 'a/c.jpg')).toEqual({ valid: false, reason: 'bad-signature' })
  })

  test('a PUT signature covers the content type', () => {
    const q = query(
      signer.sign({ method: 'PUT', key: 'runs/r/lora.safetensors', expires, contentType: 'application/octet-stream' }),
    )
    const verify = (contentType: string | null) =>
      signer.verify({ key: 'runs/r/lora.safetensors', query: q, method: 'PUT', contentType, nowMs: NOW_MS }).valid
    expect(verify('application/octet-stream')).toBe(true)
    expect(verify('text/html')).toBe(false)
    expect(verify(null)).toBe(false)
  })

  test('changing the expiry or the method in the URL breaks the signature', () => {
    const q = query(signer.sign({ method: 'GET', key: 'k.jpg', expires }))
    const later = new URLSearchParams(q)
    later.set('expires', String(expires + 3600))
    expect(signer.verify({ key: 'k.jpg', query: later, method: 'GET', nowMs: NOW_MS })).toEqual({
      valid: false,
      reason: 'bad-signature',
    })
    const put = new URLSearchParams(q)
    put.set('method', 'PUT')
    expect(signer.verify({ key: 'k.jpg', query: put, method: 'PUT', nowMs: NOW_MS })).toEqual({
      valid: false,
      reason: 'bad-signature',
    })
  })

  test('neither another secret nor a cookie-style HMAC of the raw secret passes', () => {
    const text = ['v1', 'GET', 'k.jpg', String(expires), ''].join('\n')
    const cookieStyle = crypto.createHmac('sha256', SECRET).update(text).digest('hex')
    const forged = new URLSearchParams({ expires: String(expires), method: 'GET', sig: cookieStyle })
    expect(signer.verify({ key: 'k.jpg', query: forged, method: 'GET', nowMs: NOW_MS }).valid).toBe(false)
    const otherSigner = createUrlSigner('another-secret-0123456789')
    const other = query(otherSigner.sign({ method: 'GET', key: 'k.jpg', expires }))
    expect(signer.verify({ key: 'k.jpg', query: other, method: 'GET', nowMs: NOW_MS }).valid).toBe(false)
  })

  test('malformed queries are refused without comparing anything', () => {
    const good = query(signer.sign({ method: 'GET', key: 'k.jpg', expires }))
    const variants: Record<string, string>[] = [
      {},
      { method: 'DELETE' },
      { expires: '-5' },
      { expires: '1e10' },
      { sig: good.get('sig')!.toUpperCase() },
      { sig: good.get('sig')!.slice(2) },
      { sig: '' },
    ]
    for (const change of variants) {
      const q =
        Object.keys(change).length === 0 ? new URLSearchParams() : new URLSearchParams({ ...Object.fromEntries(good), ...change })
      expect(signer.verify({ key: 'k.jpg', query: q, method: 'GET', nowMs: NOW_MS }), JSON.stringify(change)).toEqual({
        valid: false,
        reason: 'malformed',
      })
    }
  })

  test('expiry is 1 second to 7 days from now, in whole seconds', () => {
    expect(expiryFromNow(60, NOW_MS)).toBe(expires)
    expect(expiryFromNow(MAX_SIGNED_URL_EXPIRY_S, NOW_MS)).toBe(Math.floor(NOW_MS / 1000) + MAX_SIGNED_URL_EXPIRY_S)
    for (const bad of [0, -1, 0.5, MAX_SIGNED_URL_EXPIRY_S + 1, Number.NaN]) expect(() => expiryFromNow(bad)).toThrow(RangeError)
  })
})
