// The auth rate limits through the real route actions: a budget per client address and action, spent
// before the body is read, and a budget of wrong passwords per account that many addresses share. A
// limited request is a 429 with Retry-After and the sentence as a form error, never a thrown error.
import { afterEach, describe, expect, test, vi } from 'vitest'
import { action as githubAction } from '~/routes/_auth+/auth.github'
import { action as loginAction } from '~/routes/_auth+/login'
import { action as signupAction } from '~/routes/_auth+/signup'
import { getEnv } from '~/utils/env.server'
import { callRoute, createUser, makeRequest, TEST_PASSWORD, uniqueEmail } from '../../tests/db-utils'
import { clientKey } from '../../server/client-key'
import { ACCOUNT_FAILURES_PER_WINDOW, ACCOUNT_WINDOW_S, forgetAccountFailures, spendAddressTry } from './rate-limit.server'
import { getToast } from './toast.server'

const SLOW_DOWN = /^Too many attempts\. Slow down — try again in \d+ (s|min)\.$/

/** The load context server/index.ts gives an action: the client's key from its address. */
function from(address: string) {
  return { context: { cspNonce: '', clientAddress: clientKey(address) }, params: {} }
}

function logIn(address: string, form: Record<string, string>) {
  return callRoute(() => loginAction({ request: makeRequest('/login', { form }), ...from(address) }))
}

async function formErrorsOf(res: Response) {
  return ((await res.json()) as { formErrors: string[] }).formErrors
}

function sessionCookieOf(res: Response) {
  return res.headers.getSetCookie().find((c) => c.startsWith('__trainyard_session='))
}

afterEach(() => void vi.useRealTimers())

describe('the budget of one client address at one action', () => {
  const budget = () => getEnv().AUTH_RATE_LIMIT_PER_MINUTE

  test('AUTH_RATE_LIMIT_PER_MINUTE tries, then 429 with Retry-After and the sentence on the form', async () => {
    const statuses: number[] = []
    for (let i = 0; i < budget(); i++) {
      statuses.push((await logIn('203.0.113.1', { email: uniqueEmail('typo'), password: 'not-the-password' })).status)
    }
    expect(statuses.every((s) => s === 400)).toBe(true)

    const limited = await logIn('203.0.113.1', { email: uniqueEmail('typo'), password: 'not-the-password' })
    expect(limited.status).toBe(429)
    const retryAfter = Number(limited.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(60)
    const [message, ...others] = await formErrorsOf(limited)
    expect(message).toMatch(SLOW_DOWN)
    expect(message).toContain(`${retryAfter} s`)
    expect(others).toEqual([])

    // Another address, and the same address at another action, have budgets of their own.
    expect((await logIn('203.0.113.2', { email: uniqueEmail('other'), password: 'not-the-password' })).status).toBe(400)
    const signup = await callRoute(() =>
      signupAction({ request: makeRequest('/signup', { form: { email: 'not an email' } }), ...from('203.0.113.1') }),
    )
    expect(signup.status).toBe(400)
  })

  test('a limited request is refused before its body is read: an unreadable body still gets the 429', async () => {
    for (let i = 0; i < budget(); i++) await spendAddressTry('login', from('203.0.113.3').context)
    const broken = new Request('http://localhost/login', {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
      body: 'not a multipart body',
    })
    const res = await callRoute(() => loginAction({ request: broken, ...from('203.0.113.3') }))
    expect(res.status).toBe(429)
    expect(await formErrorsOf(res)).toEqual([expect.stringMatching(SLOW_DOWN)])
  })

  test('the GitHub button has no form: a limited start goes back to log in with the sentence as a toast', async () => {
    for (let i = 0; i < budget(); i++) await spendAddressTry('auth-github', from('203.0.113.5').context)
    const res = await callRoute(() =>
      githubAction({ request: makeRequest('/auth/github', { form: {} }), ...from('203.0.113.5') }),
    )
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/login')
    const cookie = res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ')
    const { toast } = await getToast(makeRequest('/login', { cookie }))
    expect(toast).toMatchObject({ type: 'error', description: expect.stringMatching(SLOW_DOWN) })
  })

  test('the budget comes back when the minute is over', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    for (let i = 0; i < budget(); i++) expect(await spendAddressTry('verify', from('203.0.113.4').context)).toBeNull()
    expect(await spendAddressTry('verify', from('203.0.113.4').context)).toBeGreaterThan(0)
    vi.setSystemTime(Date.now() + 61_000)
    expect(await spendAddressTry('verify', from('203.0.113.4').context)).toBeNull()
  })

  test('a new IPv6 address from the same /64 does not get a new budget; another /64 does', async () => {
    const waits: (number | null)[] = []
    for (let i = 1; i <= budget() + 2; i++) {
      waits.push(await spendAddressTry('login', from(`2001:db8:1:2::${i.toString(16)}`).context))
    }
    expect(waits.slice(0, budget()).every((w) => w === null)).toBe(true)
    expect(waits.slice(budget()).every((w) => w !== null && w > 0)).toBe(true)
    expect(await spendAddressTry('login', from('2001:db8:1:3::1').context)).toBeNull()
  })
})

describe('the budget of wrong passwords of one account', () => {
  test('many addresses share it: once spent, even the right password is refused; other accounts log in', async () => {
    const victim = await createUser({ email: uniqueEmail('victim') })
    const neighbour = await createUser({ email: uniqueEmail('neighbour') })
    // One guess from each of many addresses, so no address budget is ever near its end.
    for (let i = 0; i < ACCOUNT_FAILURES_PER_WINDOW; i++) {
      const res = await logIn(`198.51.100.${i + 1}`, { email: victim.email, password: `guess-${i}` })
      expect(res.status).toBe(400)
      expect(await formErrorsOf(res)).toEqual(['Invalid email or password'])
    }

    const right = await logIn('198.51.100.200', { email: victim.email.toUpperCase(), password: TEST_PASSWORD })
    expect(right.status).toBe(429)
    expect(sessionCookieOf(right)).toBeUndefined()
    const retryAfter = Number(right.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThan(60)
    expect(retryAfter).toBeLessThanOrEqual(ACCOUNT_WINDOW_S)
    expect(await formErrorsOf(right)).toEqual([expect.stringMatching(SLOW_DOWN)])

    // Someone else behind the same address (an office NAT) is not locked out.
    const other = await logIn('198.51.100.1', { email: neighbour.email, password: TEST_PASSWORD })
    expect(other.status).toBe(302)
    expect(sessionCookieOf(other)).toBeDefined()
  })

  test('parallel guesses cannot pass the check together: at most the budget is checked', async () => {
    const victim = await createUser({ email: uniqueEmail('race') })
    const guesses = 2 * ACCOUNT_FAILURES_PER_WINDOW
    const answers = await Promise.all(
      Array.from({ length: guesses }, (_, i) =>
        logIn(`192.0.2.${i + 1}`, { email: victim.email, password: `guess-${i}` }).then((r) => r.status),
      ),
    )
    expect(answers.filter((s) => s === 400)).toHaveLength(ACCOUNT_FAILURES_PER_WINDOW)
    expect(answers.filter((s) => s === 429)).toHaveLength(guesses - ACCOUNT_FAILURES_PER_WINDOW)
  })

  test('the lock ends with its window; a right password is not a failure', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const user = await createUser({ email: uniqueEmail('typos') })
    // Right passwords spend nothing: more logins than the budget all succeed.
    for (let i = 0; i <= ACCOUNT_FAILURES_PER_WINDOW; i++) {
      expect((await logIn('203.0.113.50', { email: user.email, password: TEST_PASSWORD })).status, `login ${i}`).toBe(302)
      vi.setSystemTime(Date.now() + 61_000) // a new minute: the address budget is not what this is about
    }
    for (let i = 0; i < ACCOUNT_FAILURES_PER_WINDOW; i++) {
      await logIn(`203.0.113.${60 + i}`, { email: user.email, password: 'typo' })
    }
    expect((await logIn('203.0.113.80', { email: user.email, password: TEST_PASSWORD })).status).toBe(429)
    vi.setSystemTime(Date.now() + ACCOUNT_WINDOW_S * 1000 + 1000)
    expect((await logIn('203.0.113.80', { email: user.email, password: TEST_PASSWORD })).status).toBe(302)
  })

  test('a password reset ends the lock: whoever did it owns the email', async () => {
    const user = await createUser({ email: uniqueEmail('reset-unlocks') })
    for (let i = 0; i < ACCOUNT_FAILURES_PER_WINDOW; i++)
      await logIn(`203.0.113.${100 + i}`, { email: user.email, password: 'typo' })
    expect((await logIn('203.0.113.120', { email: user.email, password: TEST_PASSWORD })).status).toBe(429)
    await forgetAccountFailures(user.email)
    expect((await logIn('203.0.113.120', { email: user.email, password: TEST_PASSWORD })).status).toBe(302)
  })
})
