import { describe, expect, test } from 'vitest'
import { clientKey } from './client-key'

// The limiter itself, IPv6 clients included, is tested in app/utils/rate-limit.server.test.ts.

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
