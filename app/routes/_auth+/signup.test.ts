import bcrypt from 'bcryptjs'
import { describe, expect, test } from 'vitest'
import { loader as rootLoader } from '~/root'
import { prisma } from '~/utils/db.server'
import { getToast } from '~/utils/toast.server'
import { MAX_CODES_SENT_PER_WINDOW } from '~/utils/verification.server'
import {
  callRoute,
  codeFromEmail,
  createSessionCookie,
  createUser,
  ctx,
  makeRequest,
  mergeCookies,
  readEmail,
  uniqueEmail,
} from '../../../tests/db-utils'
import { action as onboardingAction, loader as onboardingLoader } from './onboarding'
import { action as signupAction, loader as signupLoader } from './signup'
import { action as verifyAction, loader as verifyLoader } from './verify'

const PASSWORD = 'a-long-and-unusual-passphrase'

function signup(form: Record<string, string>, cookie?: string) {
  return callRoute(() => signupAction({ request: makeRequest('/signup', { form, cookie }), ...ctx }))
}

describe('/signup', () => {
  test('the whole sign-up: email → code from the outbox → onboarding → logged in with the user role', async () => {
    const email = uniqueEmail('signup')
    const sent = await signup({ email: email.toUpperCase() })
    expect(sent.status).toBe(302)
    expect(sent.headers.get('location')).toBe(`/verify?type=onboarding&target=${encodeURIComponent(email)}`)
    expect(await prisma.user.count({ where: { email } })).toBe(0)

    const message = await readEmail(email)
    expect(message?.subject).toBe('Your Trainyard sign-up code')
    const code = codeFromEmail(message)
    const link = new URL(message!.text.match(/https?:\/\/\S+/)![0])
    expect(link.pathname).toBe('/verify')
    expect(Object.fromEntries(link.searchParams)).toEqual({ type: 'onboarding', target: email, code })

    // The emailed link opens the page with the code filled in; it does not use the code by itself.
    const page = await callRoute(() => verifyLoader({ request: makeRequest(`${link.pathname}${link.search}`), ...ctx }))
    expect(await page.json()).toEqual({ type: 'onboarding', target: email, code, redirectTo: '' })
    expect(await prisma.verification.count({ where: { target: email } })).toBe(1)

    const verified = await callRoute(() =>
      verifyAction({
        request: makeRequest('/verify', { form: { type: 'onboarding', target: email, code, intent: 'verify' } }),
        ...ctx,
      }),
    )
    expect(verified.status).toBe(302)
    expect(verified.headers.get('location')).toBe('/onboarding')
    expect(await prisma.verification.count({ where: { target: email } })).toBe(0)
    let cookie = mergeCookies(undefined, verified)

    const onboardingPage = await callRoute(() => onboardingLoader({ request: makeRequest('/onboarding', { cookie }), ...ctx }))
    expect(await onboardingPage.json()).toEqual({ email })

    const created = await callRoute(() =>
      onboardingAction({
        request: makeRequest('/onboarding', {
          form: { name: 'Ada Lovelace', password: PASSWORD, confirmPassword: PASSWORD },
          cookie,
        }),
        ...ctx,
      }),
    )
    expect(created.status).toBe(302)
    expect(created.headers.get('location')).toBe('/')
    cookie = mergeCookies(cookie, created)
    expect(cookie).not.toContain('__trainyard_verify')

    const user = await prisma.user.findUniqueOrThrow({
      where: { email },
      include: { password: true, roles: { select: { name: true } }, sessions: true },
    })
    expect(user.name).toBe('Ada Lovelace')
    expect(user.roles).toEqual([{ name: 'user' }])
    expect(bcrypt.compareSync(PASSWORD, user.password!.hash)).toBe(true)
    expect(user.sessions).toHaveLength(1)

    const root = await callRoute(() => rootLoader({ request: makeRequest('/', { cookie }), ...ctx }))
    const data = await root.json()
    expect(data.user).toMatchObject({ email, name: 'Ada Lovelace' })
    expect(data.toast).toMatchObject({ type: 'success', title: 'Welcome to Trainyard' })
  })

  test('an email that already has an account is a field error: nothing created, no email sent', async () => {
    const existing = await createUser({ email: uniqueEmail('taken') })
    const res = await signup({ email: existing.email.replace('taken', 'TAKEN') })
    expect(res.status).toBe(400)
    const body = await res.json()
    expect(body.fieldErrors.email).toEqual(['An account with this email already exists'])
    expect(body.values.email).toBe(existing.email.replace('taken', 'TAKEN'))
    expect(await readEmail(existing.email)).toBeNull()
    expect(await prisma.verification.count({ where: { target: existing.email } })).toBe(0)
    expect(await prisma.user.count({ where: { email: existing.email } })).toBe(1)
  })

  test('an invalid email is a field error and sends nothing', async () => {
    const res = await signup({ email: 'not-an-email' })
    expect(res.status).toBe(400)
    expect((await res.json()).fieldErrors.email).toEqual(['Enter a valid email address'])
    expect(await prisma.verification.count({ where: { target: 'not-an-email' } })).toBe(0)
  })

  test('a page to come back to travels with the code, but only a path on this site', async () => {
    const email = uniqueEmail('redirect')
    const res = await signup({ email, redirectTo: '/settings' })
    expect(new URL(res.headers.get('location')!, 'http://x').searchParams.get('redirectTo')).toBe('/settings')
    expect(codeFromEmail(await readEmail(email))).toMatch(/^\d{6}$/)
    expect((await readEmail(email))!.text).toContain('redirectTo=%2Fsettings')

    const evil = uniqueEmail('evil')
    const evilRes = await signup({ email: evil, redirectTo: '//evil.example' })
    expect(evilRes.headers.get('location')).toBe(`/verify?type=onboarding&target=${encodeURIComponent(evil)}`)
  })

  test('a logged-in person is sent home', async () => {
    const user = await createUser()
    const { cookie } = await createSessionCookie(user.id)
    const page = await callRoute(() => signupLoader({ request: makeRequest('/signup', { cookie }), ...ctx }))
    expect(page.headers.get('location')).toBe('/')
    const email = uniqueEmail('loggedin')
    const res = await signup({ email }, cookie)
    expect(res.headers.get('location')).toBe('/')
    expect(await readEmail(email)).toBeNull()
  })

  test(`an address gets at most ${MAX_CODES_SENT_PER_WINDOW} codes an hour: then a 429 that says when, on the form`, async () => {
    const email = uniqueEmail('many-codes')
    for (let i = 0; i < MAX_CODES_SENT_PER_WINDOW; i++) expect((await signup({ email })).status).toBe(302)
    const refused = await signup({ email })
    expect(refused.status).toBe(429)
    expect((await refused.json()).formErrors).toEqual([
      expect.stringMatching(/^Too many codes for this email\. Use the newest code we sent, or ask again in \d+ min\.$/),
    ])
    const resend = await callRoute(() =>
      verifyAction({
        request: makeRequest('/verify', { form: { type: 'onboarding', target: email, intent: 'resend' } }),
        ...ctx,
      }),
    )
    expect(resend.status).toBe(429)
    expect((await resend.json()).formErrors[0]).toMatch(/^Too many codes for this email/)
  })

  test('asking again sends a new code and the old one stops working', async () => {
    const email = uniqueEmail('again')
    await signup({ email })
    const first = codeFromEmail(await readEmail(email))
    // Outbox files are named by the millisecond; wait one so the newest is unambiguous.
    await new Promise((r) => setTimeout(r, 5))
    const res = await callRoute(() =>
      verifyAction({
        request: makeRequest('/verify', { form: { type: 'onboarding', target: email, intent: 'resend' } }),
        ...ctx,
      }),
    )
    expect(res.status).toBe(302)
    const toast = (await getToast(makeRequest('/', { cookie: mergeCookies(undefined, res) }))).toast
    expect(toast?.description).toBe(`We sent a new code to ${email}.`)
    const second = codeFromEmail(await readEmail(email))
    const row = await prisma.verification.findFirstOrThrow({ where: { target: email, type: 'onboarding' } })
    expect(row.attempts).toBe(0)
    if (first !== second) {
      const old = await callRoute(() =>
        verifyAction({ request: makeRequest('/verify', { form: { type: 'onboarding', target: email, code: first } }), ...ctx }),
      )
      expect(old.status).toBe(400)
    }
    const ok = await callRoute(() =>
      verifyAction({ request: makeRequest('/verify', { form: { type: 'onboarding', target: email, code: second } }), ...ctx }),
    )
    expect(ok.headers.get('location')).toBe('/onboarding')
  })
})
