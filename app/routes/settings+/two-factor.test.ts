import { generateTOTP, verifyTOTP } from '@epic-web/totp'
import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { getToast } from '~/utils/toast.server'
import { RECOVERY_CODE_COUNT } from '~/utils/recovery-codes'
import { MAX_CODE_ATTEMPTS, TWO_FACTOR_TOTP, userHasTwoFactor } from '~/utils/verification.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest, mergeCookies } from '../../../tests/db-utils'
import { action, loader } from './two-factor'

const PAGE = '/settings/two-factor'

async function toastOf(response: Response) {
  return (await getToast(makeRequest('/', { cookie: mergeCookies(undefined, response) }))).toast
}

async function loggedIn() {
  const user = await createUser()
  const { cookie } = await createSessionCookie(user.id)
  return { user, cookie }
}

function post(form: Record<string, string>, cookie?: string) {
  return callRoute(() => action({ request: makeRequest(PAGE, { form, cookie }), ...ctx }))
}

async function load(cookie: string) {
  const res = await callRoute(() => loader({ request: makeRequest(PAGE, { cookie }), ...ctx }))
  return (await res.json()) as {
    enabled: boolean
    setup: { secret: string; qrCode: string } | null
    recoveryCodesLeft: number
  }
}

async function codeFor(secret: string) {
  return (await generateTOTP({ ...TWO_FACTOR_TOTP, secret })).otp
}

/** A well-formed code that the secret does not accept now (verifyTOTP allows one period either side). */
async function wrongCodeFor(secret: string) {
  for (const candidate of ['000000', '111111', '222222', '333333']) {
    if (!(await verifyTOTP({ otp: candidate, secret, ...TWO_FACTOR_TOTP, window: 1 }))) return candidate
  }
  throw new Error('every candidate is valid: not possible with four distinct codes and three windows')
}

function rows(userId: string) {
  return prisma.verification.findMany({ where: { target: userId }, orderBy: { type: 'asc' } })
}

/** Sets up and turns on 2FA through the route, and returns the secret. */
async function enableTwoFactor(cookie: string) {
  await post({ intent: 'setup' }, cookie)
  const { setup } = await load(cookie)
  const res = await post({ intent: 'enable', code: await codeFor(setup!.secret) }, cookie)
  expect(res.status).toBe(200)
  const { recoveryCodes } = (await res.json()) as { recoveryCodes: string[] }
  return { secret: setup!.secret, recoveryCodes }
}

describe('/settings/two-factor: turning it on', () => {
  test('off by default, with no setup under way', async () => {
    const { cookie } = await loggedIn()
    expect(await load(cookie)).toEqual({ enabled: false, setup: null, recoveryCodesLeft: 0 })
  })

  test('"Set up" stores a pending authenticator secret for ten minutes and shows it with a QR code', async () => {
    const { user, cookie } = await loggedIn()
    const res = await post({ intent: 'setup' }, cookie)
    expect(res.status).toBe(302)
    const [row] = await rows(user.id)
    expect(row).toMatchObject({ type: '2fa-verify', algorithm: 'SHA-1', digits: 6, period: 30, attempts: 0 })
    const msLeft = row!.expiresAt!.getTime() - Date.now()
    expect(msLeft).toBeGreaterThan(9 * 60 * 1000)
    expect(msLeft).toBeLessThanOrEqual(10 * 60 * 1000)
    const { enabled, setup } = await load(cookie)
    expect(enabled).toBe(false)
    expect(setup!.secret).toBe(row!.secret)
    expect(setup!.qrCode).toMatch(/^data:image\/png;base64,/)
  })

  test('the right code turns the pending secret into the standing 2FA secret', async () => {
    const { user, cookie } = await loggedIn()
    await post({ intent: 'setup' }, cookie)
    const pending = (await rows(user.id))[0]!
    const res = await post({ intent: 'enable', code: await codeFor(pending.secret) }, cookie)
    // The recovery codes are in this one answer (no redirect: they must not travel in a cookie).
    expect(res.status).toBe(200)
    expect((await res.json()).recoveryCodes).toHaveLength(RECOVERY_CODE_COUNT)
    expect(await toastOf(res)).toMatchObject({
      type: 'success',
      description: expect.stringContaining('Two-factor authentication is on'),
    })
    const after = await rows(user.id)
    expect(after).toHaveLength(1)
    expect(after[0]).toMatchObject({ id: pending.id, type: '2fa', secret: pending.secret, expiresAt: null, attempts: 0 })
    expect(await userHasTwoFactor(user.id)).toBe(true)
    expect(await load(cookie)).toEqual({ enabled: true, setup: null, recoveryCodesLeft: RECOVERY_CODE_COUNT })
  })

  test('a wrong code keeps it off and says so beside the field', async () => {
    const { user, cookie } = await loggedIn()
    await post({ intent: 'setup' }, cookie)
    const pending = (await rows(user.id))[0]!
    const res = await post({ intent: 'enable', code: await wrongCodeFor(pending.secret) }, cookie)
    expect(res.status).toBe(400)
    expect((await res.json()).fieldErrors.code).toEqual([
      'That code is not right. Enter the code your authenticator app shows now.',
    ])
    expect(await rows(user.id)).toMatchObject([{ type: '2fa-verify', attempts: 1 }])
    expect(await userHasTwoFactor(user.id)).toBe(false)
  })

  test('a code that is not 6 digits is refused without counting as a try', async () => {
    const { user, cookie } = await loggedIn()
    await post({ intent: 'setup' }, cookie)
    const res = await post({ intent: 'enable', code: '12ab' }, cookie)
    expect(res.status).toBe(400)
    expect((await res.json()).fieldErrors.code).toEqual(['The code is 6 digits'])
    expect(await rows(user.id)).toMatchObject([{ type: '2fa-verify', attempts: 0 }])
  })

  test(`${MAX_CODE_ATTEMPTS} wrong codes end the setup`, async () => {
    const { user, cookie } = await loggedIn()
    await post({ intent: 'setup' }, cookie)
    const pending = (await rows(user.id))[0]!
    const wrong = await wrongCodeFor(pending.secret)
    let res: Response | undefined
    for (let i = 0; i < MAX_CODE_ATTEMPTS; i++) res = await post({ intent: 'enable', code: wrong }, cookie)
    expect((await res!.json()).formErrors).toEqual(['Too many wrong codes. Start the setup again.'])
    expect(await rows(user.id)).toEqual([])
  })

  test('parallel wrong codes spend the setup: no 500, and the right code afterwards is refused', async () => {
    const { user, cookie } = await loggedIn()
    await post({ intent: 'setup' }, cookie)
    const pending = (await rows(user.id))[0]!
    const guesses: string[] = []
    for (let n = 0; guesses.length < 20; n++) {
      const candidate = String(100000 + n * 37)
      if (!(await verifyTOTP({ otp: candidate, secret: pending.secret, ...TWO_FACTOR_TOTP, window: 1 }))) guesses.push(candidate)
    }
    const answers = await Promise.all(
      guesses.map((code) =>
        post({ intent: 'enable', code }, cookie).then(
          (res) => res.status,
          () => 500,
        ),
      ),
    )
    expect(answers.every((status) => status === 400)).toBe(true)
    const right = await post({ intent: 'enable', code: await codeFor(pending.secret) }, cookie)
    expect(right.status).toBe(400)
    expect(await userHasTwoFactor(user.id)).toBe(false)
  })

  test('an expired setup cannot be finished', async () => {
    const { user, cookie } = await loggedIn()
    await post({ intent: 'setup' }, cookie)
    const pending = (await rows(user.id))[0]!
    await prisma.verification.update({ where: { id: pending.id }, data: { expiresAt: new Date(Date.now() - 1000) } })
    expect((await load(cookie)).setup).toBeNull()
    const res = await post({ intent: 'enable', code: await codeFor(pending.secret) }, cookie)
    expect(res.status).toBe(400)
    expect((await res.json()).formErrors).toEqual(['The setup has expired. Start it again.'])
    expect(await userHasTwoFactor(user.id)).toBe(false)
  })

  test('"Cancel setup" removes the pending secret', async () => {
    const { user, cookie } = await loggedIn()
    await post({ intent: 'setup' }, cookie)
    await post({ intent: 'cancel' }, cookie)
    expect(await rows(user.id)).toEqual([])
  })

  test('while it is on, a new setup is refused and the secret stays', async () => {
    const { user, cookie } = await loggedIn()
    const { secret } = await enableTwoFactor(cookie)
    const res = await post({ intent: 'setup' }, cookie)
    expect(res.status).toBe(400)
    expect((await res.json()).formErrors).toEqual(['Two-factor authentication is already on.'])
    expect(await rows(user.id)).toMatchObject([{ type: '2fa', secret }])
  })
})

describe('/settings/two-factor: turning it off', () => {
  test('a wrong code leaves it on', async () => {
    const { user, cookie } = await loggedIn()
    const { secret } = await enableTwoFactor(cookie)
    const res = await post({ intent: 'disable', code: await wrongCodeFor(secret) }, cookie)
    expect(res.status).toBe(400)
    expect((await res.json()).fieldErrors.code).toEqual([
      'That code is not right. Enter the code your authenticator app shows now, or an unused recovery code.',
    ])
    expect(await userHasTwoFactor(user.id)).toBe(true)
  })

  test(`${MAX_CODE_ATTEMPTS} wrong codes stop the guessing until the next login; the secret stays`, async () => {
    const { user, cookie } = await loggedIn()
    const { secret } = await enableTwoFactor(cookie)
    const wrong = await wrongCodeFor(secret)
    let res: Response | undefined
    for (let i = 0; i < MAX_CODE_ATTEMPTS; i++) res = await post({ intent: 'disable', code: wrong }, cookie)
    expect((await res!.json()).formErrors).toEqual(['Too many wrong codes. Log out and log in again, then try again.'])
    // An open session cannot go on guessing: even the right code is not checked now.
    const right = await post({ intent: 'disable', code: await codeFor(secret) }, cookie)
    expect(right.status).toBe(400)
    expect(await userHasTwoFactor(user.id)).toBe(true)
  })

  test('the current code turns it off', async () => {
    const { user, cookie } = await loggedIn()
    const { secret } = await enableTwoFactor(cookie)
    const res = await post({ intent: 'disable', code: await codeFor(secret) }, cookie)
    expect(res.status).toBe(302)
    expect(await toastOf(res)).toMatchObject({ type: 'success', description: 'Two-factor authentication is off.' })
    expect(await rows(user.id)).toEqual([])
    expect(await load(cookie)).toEqual({ enabled: false, setup: null, recoveryCodesLeft: 0 })
  })
})

describe('/settings/two-factor: recovery codes', () => {
  test('turning it on shows 10 codes once: not cached, stored only as hashes, never in the page again', async () => {
    const { user, cookie } = await loggedIn()
    await post({ intent: 'setup' }, cookie)
    const { setup } = await load(cookie)
    const res = await post({ intent: 'enable', code: await codeFor(setup!.secret) }, cookie)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const { recoveryCodes } = (await res.json()) as { recoveryCodes: string[] }
    expect(new Set(recoveryCodes).size).toBe(RECOVERY_CODE_COUNT)
    for (const code of recoveryCodes) expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$/)
    const stored = await prisma.recoveryCode.findMany({ where: { userId: user.id } })
    expect(stored).toHaveLength(RECOVERY_CODE_COUNT)
    const storedText = JSON.stringify(stored)
    for (const code of recoveryCodes) {
      expect(storedText).not.toContain(code)
      expect(storedText).not.toContain(code.replace('-', ''))
    }
    // The page afterwards has the count, not the codes.
    const page = JSON.stringify(await load(cookie))
    expect(page).toContain(`"recoveryCodesLeft":${RECOVERY_CODE_COUNT}`)
    for (const code of recoveryCodes) expect(page).not.toContain(code)
  })

  test('"Make new recovery codes" needs the app code, and the old codes stop working', async () => {
    const { user, cookie } = await loggedIn()
    const { secret, recoveryCodes: old } = await enableTwoFactor(cookie)
    const refused = await post({ intent: 'regenerate', code: await wrongCodeFor(secret) }, cookie)
    expect(refused.status).toBe(400)
    expect(await prisma.recoveryCode.count({ where: { userId: user.id } })).toBe(RECOVERY_CODE_COUNT)
    const noCode = await post({ intent: 'regenerate' }, cookie)
    expect(noCode.status).toBe(400)
    expect((await noCode.json()).fieldErrors.code).toEqual(['Code is required'])

    const res = await post({ intent: 'regenerate', code: await codeFor(secret) }, cookie)
    expect(res.status).toBe(200)
    const { recoveryCodes } = (await res.json()) as { recoveryCodes: string[] }
    expect(recoveryCodes).toHaveLength(RECOVERY_CODE_COUNT)
    expect(recoveryCodes.some((code) => old.includes(code))).toBe(false)
    expect(await toastOf(res)).toMatchObject({ description: 'New recovery codes are ready. The old ones no longer work.' })
    expect(await prisma.recoveryCode.count({ where: { userId: user.id } })).toBe(RECOVERY_CODE_COUNT)
    // An old code no longer proves anything.
    const withOld = await post({ intent: 'disable', code: old[0]! }, cookie)
    expect(withOld.status).toBe(400)
    expect(await userHasTwoFactor(user.id)).toBe(true)
  })

  test('a recovery code turns it off (a lost phone), and turning it off deletes the codes', async () => {
    const { user, cookie } = await loggedIn()
    const { recoveryCodes } = await enableTwoFactor(cookie)
    // Typed back by hand: capitals and no dash.
    const res = await post({ intent: 'disable', code: recoveryCodes[3]!.replace('-', '').toUpperCase() }, cookie)
    expect(res.status).toBe(302)
    expect(await userHasTwoFactor(user.id)).toBe(false)
    expect(await prisma.recoveryCode.count({ where: { userId: user.id } })).toBe(0)
  })

  test('"Make new recovery codes" also takes a recovery code, and the page counts unused codes only', async () => {
    const { user, cookie } = await loggedIn()
    const { recoveryCodes } = await enableTwoFactor(cookie)
    const regenerated = await post({ intent: 'regenerate', code: recoveryCodes[0]! }, cookie)
    expect(regenerated.status).toBe(200)
    const fresh = ((await regenerated.json()) as { recoveryCodes: string[] }).recoveryCodes
    await prisma.recoveryCode.updateMany({ where: { userId: user.id }, data: { usedAt: new Date() } })
    expect((await load(cookie)).recoveryCodesLeft).toBe(0)
    expect(fresh).toHaveLength(RECOVERY_CODE_COUNT)
  })

  test('something that is neither an app code nor a recovery code is refused without spending a try', async () => {
    const { user, cookie } = await loggedIn()
    await enableTwoFactor(cookie)
    const res = await post({ intent: 'disable', code: 'not a code!' }, cookie)
    expect(res.status).toBe(400)
    expect((await res.json()).fieldErrors.code).toEqual(['Enter the 6-digit code from your app, or a recovery code'])
    expect(await rows(user.id)).toMatchObject([{ type: '2fa', attempts: 0 }])
  })
})

test('an unknown intent is a 400', async () => {
  const { cookie } = await loggedIn()
  const res = await post({ intent: 'explode' }, cookie)
  expect(res.status).toBe(400)
  expect((await res.json()).fieldErrors.intent).toEqual(['Unknown action'])
})

test('anonymous requests are sent to /login', async () => {
  for (const run of [
    () => loader({ request: makeRequest(PAGE), ...ctx }),
    ...['setup', 'enable', 'disable', 'cancel'].map(
      (intent) => () => action({ request: makeRequest(PAGE, { form: { intent, code: '123456' } }), ...ctx }),
    ),
  ]) {
    const res = await callRoute(run)
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/login?redirectTo=%2Fsettings%2Ftwo-factor')
  }
})
