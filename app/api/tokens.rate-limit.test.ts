// The per-token rate limit with a small budget: this file sets API_RATE_LIMIT_PER_MINUTE before any app
// module reads the environment (the router makes its limiters at first use, from getEnv's cached value).
import { describe, expect, test, vi } from 'vitest'
import { api, createTestToken, jsonOf } from '../../tests/api-utils'
import { createUser } from '../../tests/db-utils'

const LIMIT = vi.hoisted(() => {
  const limit = 3
  process.env.API_RATE_LIMIT_PER_MINUTE = String(limit)
  return limit
})

describe('the per-token rate limit', () => {
  test('past the limit a token gets 429 with Retry-After; another token, even of the same user, is unaffected', async () => {
    const user = await createUser()
    const busy = await createTestToken(user.id)
    const other = await createTestToken(user.id)
    for (let i = 0; i < LIMIT; i++) {
      const ok = await api('/me', { token: busy.token })
      expect(ok.status).toBe(200)
      expect(ok.headers.get('x-ratelimit-remaining')).toBe(String(LIMIT - 1 - i))
    }
    const limited = await api('/me', { token: busy.token })
    expect(limited.status).toBe(429)
    const retryAfter = Number(limited.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(60)
    const body = await jsonOf<{ error: { code: string; message: string } }>(limited)
    expect(body.error.code).toBe('rate_limited')
    expect(body.error.message).toMatch(/at most 3 a minute/)

    const fine = await api('/me', { token: other.token })
    expect(fine.status).toBe(200)
    expect(fine.headers.get('x-ratelimit-remaining')).toBe(String(LIMIT - 1))
  })

  test('guessing tokens is limited per address, not per guess: a valid token from elsewhere still works', async () => {
    const user = await createUser()
    const { token } = await createTestToken(user.id)
    for (let i = 0; i < LIMIT; i++) {
      expect((await api('/me', { token: `ty_${String(i).padStart(40, 'x')}`, clientAddress: '10.9.9.9' })).status).toBe(401)
    }
    const limited = await api('/me', { token: `ty_${'y'.repeat(40)}`, clientAddress: '10.9.9.9' })
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).not.toBeNull()
    expect((await api('/me', { token, clientAddress: '10.8.8.8' })).status).toBe(200)
  })
})
