import { describe, expect, test, vi } from 'vitest'
import { prisma } from '~/utils/db.server'
import { callRoute, codeFromEmail, createUser, ctx, makeRequest, readEmail, uniqueEmail } from '../../../tests/db-utils'
import { action } from './forgot-password'
import { loader as verifyLoader } from './verify'

function ask(email: string) {
  return callRoute(() => action({ request: makeRequest('/forgot-password', { form: { email } }), ...ctx }))
}

/** The code is sent in the background (see verify.server.ts): wait for it to land in the outbox. */
async function waitForEmail(to: string) {
  return vi.waitFor(
    async () => {
      const email = await readEmail(to)
      if (!email) throw new Error(`no email to ${to} yet`)
      return email
    },
    { timeout: 5000, interval: 20 },
  )
}

describe('/forgot-password', () => {
  test('the same answer whether or not an account exists; only the account gets a code', async () => {
    const unknown = uniqueEmail('nobody')
    const user = await createUser({ email: uniqueEmail('known') })
    // Same local part length, so the only difference in the answers is the address itself.
    const [a, b] = [await ask(unknown), await ask(user.email)]
    expect(a.status).toBe(302)
    expect(b.status).toBe(302)
    expect(a.headers.get('location')).toBe(`/verify?type=reset-password&target=${encodeURIComponent(unknown)}`)
    expect(b.headers.get('location')).toBe(`/verify?type=reset-password&target=${encodeURIComponent(user.email)}`)
    expect(a.headers.get('set-cookie')).toBe(b.headers.get('set-cookie'))
    expect(await a.text()).toBe(await b.text())

    // And the page they land on says the same thing.
    const pageA = await (await callRoute(() => verifyLoader({ request: makeRequest(a.headers.get('location')!), ...ctx }))).json()
    const pageB = await (await callRoute(() => verifyLoader({ request: makeRequest(b.headers.get('location')!), ...ctx }))).json()
    expect({ ...pageA, target: '' }).toEqual({ ...pageB, target: '' })

    const message = await waitForEmail(user.email)
    expect(message.subject).toBe('Reset your Trainyard password')
    expect(codeFromEmail(message)).toMatch(/^\d{6}$/)
    expect(await prisma.verification.count({ where: { target: user.email, type: 'reset-password' } })).toBe(1)
    // By the time the known account's email is written, the unknown one would have been too.
    expect(await readEmail(unknown)).toBeNull()
    expect(await prisma.verification.count({ where: { target: unknown } })).toBe(0)
  })

  test('an account made with GitHub alone (no password) can ask for a code to get one', async () => {
    const user = await createUser({ email: uniqueEmail('github'), password: null })
    await ask(user.email)
    expect(codeFromEmail(await waitForEmail(user.email))).toMatch(/^\d{6}$/)
  })

  test('an invalid email is a field error', async () => {
    const res = await ask('nope')
    expect(res.status).toBe(400)
    expect((await res.json()).fieldErrors.email).toEqual(['Enter a valid email address'])
  })
})
