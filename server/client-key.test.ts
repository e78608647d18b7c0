import type { AddressInfo } from 'node:net'
import express from 'express'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { Env } from '../app/utils/env.server'
import { clientKey } from './client-key'
import { authRateLimit } from './rate-limit'

describe('clientKey', () => {
  test('IPv4 addresses are themselves, written either way', () => {
    expect(clientKey('203.0.113.7')).toBe('203.0.113.7')
    expect(clientKey('::ffff:203.0.113.7')).toBe('203.0.113.7')
    expect(clientKey(undefined)).toBe('unknown')
  })

  test('IPv6 addresses are keyed by their /64, however they are written', () => {
    const key = clientKey('2001:db8:a:b:1:2:3:4')
    expect(key).toBe('2001:db8:a:b::/64')
    for (const other of [
      '2001:db8:a:b::1',
      '2001:0DB8:000A:000B:ffff:ffff:ffff:ffff',
      '2001:db8:a:b:0:0:1.2.3.4',
      '2001:db8:a:b::5%eth0',
    ]) {
      expect(clientKey(other), other).toBe(key)
    }
    expect(clientKey('2001:db8:a:c::1')).not.toBe(key)
    expect(clientKey('::1')).toBe('0:0:0:0::/64')
    expect(clientKey('2001:db8::')).toBe('2001:db8:0:0::/64')
  })
})

describe('the auth rate limit with IPv6 clients', () => {
  let url = ''
  let close = () => {}
  beforeAll(async () => {
    const app = express()
    // The client address comes from X-Forwarded-For, as behind one trusted proxy.
    app.set('trust proxy', 1)
    app.use(authRateLimit({ AUTH_RATE_LIMIT_PER_MINUTE: 3 } as Env))
    app.post('/login', (_req, res) => void res.status(200).send('ok'))
    const server = app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    close = () => server.close()
  })
  afterAll(() => close())

  const post = (from: string) =>
    fetch(`${url}/login`, { method: 'POST', headers: { 'x-forwarded-for': from } }).then((r) => r.status)

  test('a new address from the same /64 does not get a new budget; another /64 does', async () => {
    const statuses = []
    for (let i = 1; i <= 5; i++) statuses.push(await post(`2001:db8:1:2::${i.toString(16)}`))
    expect(statuses).toEqual([200, 200, 200, 429, 429])
    expect(await post('2001:db8:1:3::1')).toBe(200)
  })
})
