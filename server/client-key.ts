// Whom a rate limit counts: one client address. An IPv6 client is given a whole /64 (a home or a cloud
// machine gets at least that many addresses and may pick a new one per request), so the key is its /64;
// an IPv4 address (also one written as ::ffff:a.b.c.d) is itself.
import net from 'node:net'

/** The rate-limit key of a client address (req.ip). */
export function clientKey(ip: string | undefined): string {
  if (!ip) return 'unknown'
  const address = ip.split('%')[0]! // a zone ("fe80::1%eth0") says nothing about the client
  if (!net.isIPv6(address)) return address
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) return mapped[1]!
  const prefix = ipv6Groups(address)
    .slice(0, 4)
    .map((group) => parseInt(group, 16).toString(16))
  return `${prefix.join(':')}::/64`
}

/** The eight 16-bit groups of a valid IPv6 address, "::" expanded and an IPv4 tail made two groups. */
function ipv6Groups(address: string): string[] {
  let text = address
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number]
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const headGroups = head ? head.split(':') : []
  if (tail === undefined) return headGroups
  const tailGroups = tail ? tail.split(':') : []
  return [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups]
}
