// Which address the real server listens on (HOST). Unset, a development server listens on loopback only:
// its development session secret and test accounts are not offered to the rest of the network (it used
// to listen on every interface). A production one, in a container or behind a load balancer, listens on
// every interface, where that traffic arrives. The bound address is read from the kernel's socket table
// (/proc/net/tcp, tcp6), so no address but 127.0.0.1 is contacted. Needs the production build.
import fs from 'node:fs'
import { afterEach, beforeAll, describe, expect, test } from 'vitest'
import { requireProductionBuild, startAppProcess, type AppProcess } from '../app-process'

const hasSocketTable = fs.existsSync('/proc/net/tcp')
let server: AppProcess | undefined

beforeAll(() => {
  requireProductionBuild()
})
afterEach(async () => {
  await server?.stop()
  server = undefined
})

/** The addresses a listening TCP socket on `port` is bound to, as the kernel lists them. */
function listeningAddresses(port: number) {
  const addresses: string[] = []
  for (const [file, ipv6] of [
    ['/proc/net/tcp', false],
    ['/proc/net/tcp6', true],
  ] as const) {
    if (!fs.existsSync(file)) continue
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/)
      if (!local || state !== '0A') continue // 0A: LISTEN
      const [hexAddress, hexPort] = local.split(':')
      if (parseInt(hexPort ?? '', 16) !== port) continue
      addresses.push(ipv6 ? ipv6Address(hexAddress!) : ipv4Address(hexAddress!))
    }
  }
  return addresses.sort()
}

/** /proc/net/tcp writes an IPv4 address as one little-endian 32-bit word in hex. */
function ipv4Address(hex: string) {
  return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.')
}

/** tcp6: four little-endian 32-bit words; all zeros is `::`, the rest only needs telling apart. */
function ipv6Address(hex: string) {
  return /^0+$/.test(hex) ? '::' : `ipv6:${hex}`
}

function start(env: NodeJS.ProcessEnv) {
  const { HOST: _inherited, ...rest } = process.env
  return startAppProcess({
    ...rest,
    SESSION_SECRET: process.env.SESSION_SECRET ?? 'integration-secret-0123456789',
    ...env,
  })
}

describe.skipIf(!hasSocketTable)('the address the server listens on', () => {
  test('development, HOST unset: loopback only', async () => {
    server = await start({ NODE_ENV: 'development' })
    expect(listeningAddresses(server.port)).toEqual(['127.0.0.1'])
    expect(server.output()).toContain(`Trainyard is listening on http://127.0.0.1:${server.port}`)
    expect((await fetch(`${server.url}/resources/healthcheck`)).status).toBe(200)
  }, 60_000)

  test('production, HOST unset: every interface (a container, a load balancer)', async () => {
    server = await start({ NODE_ENV: 'production' })
    expect(listeningAddresses(server.port)).toEqual(['0.0.0.0'])
    expect(server.output()).toContain(`Trainyard is listening on every interface, port ${server.port}`)
    expect((await fetch(`${server.url}/resources/healthcheck`)).status).toBe(200)
  }, 60_000)

  test('production with HOST=127.0.0.1: loopback only (a proxy on the same machine)', async () => {
    server = await start({ NODE_ENV: 'production', HOST: '127.0.0.1' })
    expect(listeningAddresses(server.port)).toEqual(['127.0.0.1'])
  }, 60_000)
})
