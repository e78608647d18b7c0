// The auth rate limits of the real production server. Remix matches routes case-insensitively after
// percent-decoding, so `/login`, `/LOGIN` and `/%6Cogin` all run the login action: they must spend one
// budget, and the limited answer is a 429 with the app's sentence on the form (the page, or the JSON a
// browser with JS fetches), never the error page. Wrong passwords are also counted per account, across
// every address. Needs the production build (npm test builds first).
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ACCOUNT_FAILURES_PER_WINDOW } from '~/utils/rate-limit.server'
import { startProductionServer, type AppProcess } from '../app-process'
import { createUser, TEST_PASSWORD, uniqueEmail } from '../db-utils'

const PER_MINUTE = 3
const SLOW_DOWN = /Too many attempts\. Slow down — try again in \d+ (s|min)\./

let server: AppProcess | undefined

beforeAll(async () => {
  server = await startProductionServer({
    AUTH_RATE_LIMIT_PER_MINUTE: String(PER_MINUTE),
    // As behind one proxy: the client address is the last one in X-Forwarded-For, so one test can
    // speak from many addresses.
    TRUST_PROXY: '1',
  })
}, 60_000)
afterAll(() => server?.stop())

/** A login POST as a browser sends it from the app's own page, from the client address `from`. */
function postLogin(pathname: string, from: string, form: Record<string, string>) {
  return fetch(`${server!.url}${pathname}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { origin: server!.url, 'sec-fetch-site': 'same-origin', 'x-forwarded-for': from },
    body: new URLSearchParams(form),
  })
}

describe('one budget per client address at the login action, however its path is spelled', () => {
  test('/login, /LOGIN and /%6Cogin share it; the next is a 429 with Retry-After and the sentence on the page', async () => {
    const from = '203.0.113.10'
    const wrong = () => ({ email: uniqueEmail('spelling'), password: 'not-the-password' })
    const statuses: number[] = []
    for (const pathname of ['/login', '/LOGIN', '/%6Cogin']) statuses.push((await postLogin(pathname, from, wrong())).status)
    expect(statuses).toEqual([400, 400, 400])

    const page = await postLogin('/Login', from, wrong())
    expect(page.status).toBe(429)
    expect(Number(page.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(Number(page.headers.get('retry-after'))).toBeLessThanOrEqual(60)
    expect(page.headers.get('content-type')).toMatch(/text\/html/)
    const html = await page.text()
    expect(html).toMatch(SLOW_DOWN)
    // The login page with its form, not the error page.
    expect(html).toContain('name="password"')

    // What a browser with JS fetches: the same refusal as the form's data.
    const data = await postLogin('/%4C%4f%47%49%4e?_data=routes%2F_auth%2B%2Flogin', from, wrong())
    expect(data.status).toBe(429)
    expect(data.headers.get('retry-after')).toBeTruthy()
    expect(((await data.json()) as { formErrors: string[] }).formErrors).toEqual([expect.stringMatching(SLOW_DOWN)])

    // Another address is not limited.
    expect((await postLogin('/LOGIN', '203.0.113.11', wrong())).status).toBe(400)
  })
})

describe('wrong passwords of one account, from many addresses', () => {
  test('lock that account, even against its right password, while another account logs in from the same address', async () => {
    const victim = await createUser({ email: uniqueEmail('victim') })
    const neighbour = await createUser({ email: uniqueEmail('neighbour') })
    // One guess per address: no address budget comes near its end.
    for (let i = 0; i < ACCOUNT_FAILURES_PER_WINDOW; i++) {
      const res = await postLogin('/login', `198.51.100.${i + 1}`, { email: victim.email, password: `guess-${i}` })
      expect(res.status, `guess ${i}`).toBe(400)
    }
    const right = await postLogin('/login', '198.51.100.100', { email: victim.email, password: TEST_PASSWORD })
    expect(right.status).toBe(429)
    expect(right.headers.getSetCookie().some((c) => /trainyard_session=/.test(c))).toBe(false)
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(60)
    expect(await right.text()).toMatch(SLOW_DOWN)

    const other = await postLogin('/login', '198.51.100.1', { email: neighbour.email, password: TEST_PASSWORD })
    expect(other.status).toBe(302)
    expect(other.headers.getSetCookie().some((c) => /trainyard_session=/.test(c))).toBe(true)
  })
})
