// A page to come back to that holds non-ASCII characters (a training named "日本", an accented
// search) must not break logging in or signing up: a Location header carries bytes, not text, so
// such a path is sent percent-encoded. Sign-up used to fail with a 500 after the account was created.
import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import {
  callRoute,
  codeFromEmail,
  createUser,
  ctx,
  makeRequest,
  mergeCookies,
  readEmail,
  TEST_PASSWORD,
  uniqueEmail,
} from '../../../tests/db-utils'
import { action as loginAction } from './login'
import { action as onboardingAction } from './onboarding'
import { action as signupAction } from './signup'
import { action as verifyAction } from './verify'

const PASSWORD = 'a-long-and-unusual-passphrase'

describe('a non-ASCII redirectTo', () => {
  test.each([
    ['/trainings?q=日本語', '/trainings?q=%E6%97%A5%E6%9C%AC%E8%AA%9E'],
    ['/trainings/café', '/trainings/caf%C3%A9'],
    ['/trainings?q=🙂', '/trainings?q=%F0%9F%99%82'],
    ['/trainings?q=a%20b', '/trainings?q=a%20b'],
  ])('logging in with %j redirects to %j', async (redirectTo, location) => {
    const user = await createUser()
    const res = await callRoute(() =>
      loginAction({
        request: makeRequest('/login', { form: { email: user.email, password: TEST_PASSWORD, redirectTo } }),
        ...ctx,
      }),
    )
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe(location)
  })

  test('the whole sign-up with it ends logged in on that page, encoded', async () => {
    const email = uniqueEmail('unicode')
    const redirectTo = '/trainings?q=日本'
    const sent = await callRoute(() => signupAction({ request: makeRequest('/signup', { form: { email, redirectTo } }), ...ctx }))
    expect(sent.status).toBe(302)
    const code = codeFromEmail(await readEmail(email))
    const verified = await callRoute(() =>
      verifyAction({
        request: makeRequest('/verify', {
          form: { type: 'onboarding', target: email, code, intent: 'verify', redirectTo },
        }),
        ...ctx,
      }),
    )
    expect(verified.status).toBe(302)
    expect(verified.headers.get('location')).toBe('/onboarding')
    const created = await callRoute(() =>
      onboardingAction({
        request: makeRequest('/onboarding', {
          form: { name: 'Unicode', password: PASSWORD, confirmPassword: PASSWORD },
          cookie: mergeCookies(undefined, verified),
        }),
        ...ctx,
      }),
    )
    expect(created.status).toBe(302)
    expect(created.headers.get('location')).toBe('/trainings?q=%E6%97%A5%E6%9C%AC')
    expect(await prisma.session.count({ where: { user: { email } } })).toBe(1)
  })
})
