// The SSRF guard: every spelling of a refused address is refused, the operator's CIDRs let exactly their
// addresses through, every address a name resolves to is judged, and the URL's shape is checked.
import { describe, expect, test } from 'vitest'
import { addressRefusal, checkWebhookUrl, type LookupAll } from './url-guard.server'

const none = { allowed: '' }
const resolvesTo =
  (...addresses: string[]): LookupAll =>
  async () =>
    addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }) as const)

describe('checkWebhookUrl', () => {
  test.each([
    ['loopback', 'http://127.0.0.1/hook'],
    ['loopback elsewhere in 127/8', 'http://127.1.2.3/hook'],
    ['decimal spelling of 127.0.0.1', 'http://2130706433/hook'],
    ['hex spelling', 'http://0x7f000001/hook'],
    ['hex dotted spelling', 'http://0x7f.0.0.1/hook'],
    ['octal spelling', 'http://0177.0.0.1/hook'],
    ['short spelling', 'http://127.1/hook'],
    ['IPv6 loopback', 'http://[::1]/hook'],
    ['IPv4-mapped IPv6 loopback', 'http://[::ffff:127.0.0.1]/hook'],
    ['IPv4-mapped IPv6 private, hex form', 'http://[::ffff:a00:1]/hook'],
    ['private 10/8', 'http://10.0.0.1/hook'],
    ['private 172.16/12', 'https://172.16.5.4/hook'],
    ['private 192.168/16', 'https://192.168.1.1/hook'],
    ['link-local', 'http://169.254.10.10/hook'],
    ['cloud metadata', 'http://169.254.169.254/latest/meta-data/'],
    ['cloud metadata, decimal', 'http://2852039166/latest/meta-data/'],
    ['EC2 IPv6 metadata', 'http://[fd00:ec2::254]/latest/meta-data/'],
    ['carrier-grade NAT', 'http://100.64.0.1/hook'],
    ['unique-local IPv6', 'http://[fc00::1]/hook'],
    ['link-local IPv6', 'http://[fe80::1]/hook'],
    ['multicast', 'http://224.0.0.1/hook'],
    ['unspecified', 'http://0.0.0.0/hook'],
    ['unspecified IPv6', 'http://[::]/hook'],
  ])('refuses %s (%s)', async (_name, url) => {
    const check = await checkWebhookUrl(url, none)
    expect(check.ok).toBe(false)
    if (!check.ok) expect(check.reason).toMatch(/network the server may not send to/)
  })

  test('a public address passes, and the URL is kept as parsed', async () => {
    const check = await checkWebhookUrl('https://93.184.215.14/hooks?x=1', none)
    expect(check).toMatchObject({ ok: true, addresses: [{ address: '93.184.215.14', family: 4 }] })
  })

  test('a name is judged by every address it resolves to', async () => {
    expect((await checkWebhookUrl('https://hooks.example.test/', { ...none, lookup: resolvesTo('93.184.215.14') })).ok).toBe(true)
    // One public answer does not excuse a private one beside it (DNS rebinding picks either).
    const mixed = await checkWebhookUrl('https://hooks.example.test/', {
      ...none,
      lookup: resolvesTo('93.184.215.14', '10.1.2.3'),
    })
    expect(mixed).toMatchObject({ ok: false, reason: expect.stringContaining('10.1.2.3 is a private address') })
    const localhost = await checkWebhookUrl('http://localhost:9/hook', none)
    expect(localhost.ok).toBe(false)
    const unknown = await checkWebhookUrl('https://hooks.example.test/', {
      ...none,
      lookup: async () => {
        throw new Error('ENOTFOUND')
      },
    })
    expect(unknown).toEqual({ ok: false, reason: 'The host hooks.example.test could not be found.' })
  })

  test('the operator’s CIDRs let exactly their addresses through, in every spelling', async () => {
    const allowed = { allowed: '127.0.0.1/32, 10.9.0.0/16' }
    expect((await checkWebhookUrl('http://127.0.0.1:8080/hook', allowed)).ok).toBe(true)
    expect((await checkWebhookUrl('http://2130706433/hook', allowed)).ok).toBe(true)
    expect((await checkWebhookUrl('http://[::ffff:127.0.0.1]/hook', allowed)).ok).toBe(true)
    expect((await checkWebhookUrl('http://10.9.200.1/hook', allowed)).ok).toBe(true)
    expect((await checkWebhookUrl('http://127.0.0.2/hook', allowed)).ok).toBe(false)
    expect((await checkWebhookUrl('http://[::1]/hook', allowed)).ok).toBe(false)
    expect((await checkWebhookUrl('http://169.254.169.254/', allowed)).ok).toBe(false)
    // A malformed entry allows nothing.
    expect(addressRefusal('10.0.0.1', 'nonsense, 10.0.0.0/33')).toMatch(/private/)
  })

  test.each([
    ['ftp://93.184.215.14/x', 'must start with https:// or http://'],
    ['file:///etc/passwd', 'must start with https:// or http://'],
    ['gopher://93.184.215.14/', 'must start with https:// or http://'],
    ['https://user:pass@93.184.215.14/', 'user name or password'],
    ['not a url', 'This is not a URL'],
    [`https://93.184.215.14/${'a'.repeat(2100)}`, 'at most 2000 characters'],
  ])('refuses the shape of %s', async (url, reason) => {
    const check = await checkWebhookUrl(url, none)
    expect(check).toMatchObject({ ok: false, reason: expect.stringContaining(reason) })
  })
})
