// The check against server-side request forgery for webhook URLs: a person (or a token) chooses the URL
// and the server sends to it, so a URL must not reach the server's own network — loopback, private,
// link-local, carrier-grade NAT, unique-local, multicast, unspecified, the clouds' metadata addresses, or
// IPv4 inside IPv6 of any of those — unless the operator allows those addresses (WEBHOOK_ALLOWED_ADDRESSES,
// CIDRs). The URL is checked when it is registered and again before every delivery (a name can point
// elsewhere since), and the delivery connects to the very address checked (./deliver.server.ts pins it),
// so DNS cannot answer one address to the check and another to the connection.
//
// The WHATWG URL parser already turns every IPv4 spelling (2130706433, 0x7f.1, 0177.0.0.1) into dotted
// decimal, so the check sees the address the connection would use.
import dns from 'node:dns/promises'
import ipaddr from 'ipaddr.js'
import { getEnv } from '../utils/env.server'

export const MAX_WEBHOOK_URL_CHARS = 2000

/** Always refused unless explicitly allowed, whatever ipaddr.js calls their range. */
const METADATA_ADDRESSES = ['169.254.169.254', 'fd00:ec2::254']

export type ResolvedAddress = { address: string; family: 4 | 6 }
export type LookupAll = (hostname: string) => Promise<ResolvedAddress[]>

export type UrlCheck = { ok: true; url: URL; addresses: ResolvedAddress[] } | { ok: false; reason: string }

export type GuardOptions = {
  /** CIDRs that may be reached although private (default WEBHOOK_ALLOWED_ADDRESSES). */
  allowed?: string
  /** How a name is resolved (default the system resolver, every address). */
  lookup?: LookupAll
}

const systemLookup: LookupAll = async (hostname) =>
  (await dns.lookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }))

/** The allowed ranges; a malformed entry is skipped (the env check reports it at start). */
export function parseAllowedRanges(value: string) {
  const ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][] = []
  for (const entry of value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    try {
      ranges.push(
        entry.includes('/') ? ipaddr.parseCIDR(entry) : [ipaddr.parse(entry), ipaddr.parse(entry).kind() === 'ipv4' ? 32 : 128],
      )
    } catch {
      // Not a CIDR: allows nothing.
    }
  }
  return ranges
}

/** Why this address may not be reached, or null when it may. */
export function addressRefusal(address: string, allowed: string): string | null {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6
  try {
    parsed = ipaddr.parse(address)
  } catch {
    return `${address} is not an IP address`
  }
  // IPv4 inside IPv6 (::ffff:127.0.0.1) reaches the IPv4 address: judge that one.
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address()
  for (const [range, bits] of parseAllowedRanges(allowed)) {
    if (range.kind() === parsed.kind() && parsed.match([range, bits] as [typeof parsed, number])) return null
  }
  const normalized = parsed.toNormalizedString()
  if (METADATA_ADDRESSES.some((m) => ipaddr.parse(m).toNormalizedString() === normalized))
    return `${address} is a cloud metadata address`
  const range = parsed.range()
  return range === 'unicast' ? null : `${address} is a ${describeRange(range)} address`
}

function describeRange(range: string) {
  const words: Record<string, string> = {
    loopback: 'loopback',
    private: 'private',
    linkLocal: 'link-local',
    carrierGradeNat: 'carrier-grade NAT',
    uniqueLocal: 'unique-local',
    multicast: 'multicast',
    unspecified: 'unspecified',
    broadcast: 'broadcast',
  }
  return words[range] ?? `reserved (${range})`
}

/**
 * Checks a webhook URL: http(s), no user:password, and every address its host resolves to reachable.
 * Answers the addresses to connect to, or a sentence for the person who typed it.
 */
export async function checkWebhookUrl(raw: string, options: GuardOptions = {}): Promise<UrlCheck> {
  const allowed = options.allowed ?? getEnv().WEBHOOK_ALLOWED_ADDRESSES
  if (raw.length > MAX_WEBHOOK_URL_CHARS)
    return { ok: false, reason: `A URL can be at most ${MAX_WEBHOOK_URL_CHARS} characters.` }
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return { ok: false, reason: 'This is not a URL: it should look like https://example.com/hooks/trainyard.' }
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return { ok: false, reason: 'The URL must start with https:// or http://.' }
  if (url.username || url.password)
    return { ok: false, reason: 'The URL may not carry a user name or password: use the signing secret to trust deliveries.' }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  if (!host) return { ok: false, reason: 'The URL has no host.' }
  let addresses: ResolvedAddress[]
  if (ipaddr.isValid(host)) {
    addresses = [{ address: host, family: ipaddr.parse(host).kind() === 'ipv6' ? 6 : 4 }]
  } else {
    try {
      addresses = await (options.lookup ?? systemLookup)(host)
    } catch {
      return { ok: false, reason: `The host ${host} could not be found.` }
    }
    if (addresses.length === 0) return { ok: false, reason: `The host ${host} could not be found.` }
  }
  for (const { address } of addresses) {
    const refusal = addressRefusal(address, allowed)
    if (refusal)
      return {
        ok: false,
        reason: `The URL points at a network the server may not send to (${refusal}). Webhooks go to public addresses only.`,
      }
  }
  return { ok: true, url, addresses }
}
