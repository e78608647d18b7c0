// The account flows in a real browser: sign-up by emailed code, log out and in, a wrong password,
// a password reset by emailed code (which logs in), a two-factor login, and one with a recovery code.
import fs from 'node:fs/promises'
import { generateTOTP } from '@epic-web/totp'
import { type Page } from '@playwright/test'
import { TWO_FACTOR_TOTP } from '~/utils/verification.server'
import { codeFromEmail, readEmail } from '../db-utils'
import { expect, prisma, test, uniqueEmail, waitForCode } from './fixtures'

const PASSWORD = 'a-long-and-unusual-passphrase'
const NEW_PASSWORD = 'an-even-longer-new-passphrase'

/** Waits for the newest email to `to` with this subject (an older one may be the newest for a while). */
async function waitForCodeWithSubject(to: string, subject: string) {
  let code: string | undefined
  await expect
    .poll(async () => {
      const email = await readEmail(to)
      code = email?.subject === subject ? codeFromEmail(email) : undefined
      return code
    })
    .toBeTruthy()
  return code!
}

async function logIn(page: Page, email: string, password: string) {
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Log in' }).click()
}

async function logOut(page: Page) {
  await page.getByTestId('user-menu').click()
  await page.getByRole('button', { name: 'Log out' }).click()
  await expect(page.getByTestId('user-menu')).toBeHidden()
}

test('sign up by code, log out and in, a wrong password, reset the password by code', async ({ page }) => {
  test.slow()
  const email = uniqueEmail('e2e-signup')

  await page.goto('/')
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sign up' }).click()
  await expect(page.getByRole('heading', { name: 'Create an account' })).toBeVisible()
  await page.getByLabel('Email').fill(email)
  await page.getByRole('button', { name: 'Create account' }).click()
  await expect(page.getByRole('heading', { name: 'Check your email' })).toBeVisible()
  await expect(page.getByText(email)).toBeVisible()

  // A wrong code first: the page says so and stays.
  const code = await waitForCode(email)
  await page.getByLabel('Code').fill(code === '000000' ? '111111' : '000000')
  await page.getByRole('button', { name: 'Verify' }).click()
  await expect(page.getByText('That code is not right.')).toBeVisible()
  await page.getByLabel('Code').fill(code)
  await page.getByRole('button', { name: 'Verify' }).click()

  await expect(page.getByRole('heading', { name: 'Finish creating your account' })).toBeVisible()
  await page.getByLabel('Name').fill('Grace Hopper')
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD)
  await page.getByLabel('Confirm password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Create account' }).click()
  await expect(page.getByTestId('user-menu')).toBeVisible()
  await expect(page.getByText('Your account is ready, Grace Hopper.')).toBeVisible()
  await expect(page).toHaveURL(/\/$/)
  // A new account lands on a welcome to its first training, not "Welcome back".
  await expect(page.getByRole('heading', { name: 'Welcome to Trainyard, Grace Hopper!' })).toBeVisible()
  await expect(page.getByText('Welcome back')).toBeHidden()
  await expect(page.getByRole('link', { name: 'Create your first training' })).toHaveAttribute('href', '/trainings/new')

  await logOut(page)
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Log in' }).click()
  await logIn(page, email, PASSWORD)
  await expect(page.getByTestId('user-menu')).toBeVisible()

  await logOut(page)
  await page.goto('/login')
  await logIn(page, email, 'not-my-password')
  await expect(page.getByText('Invalid email or password')).toBeVisible()
  await expect(page.getByLabel('Email')).toHaveValue(email)

  await page.getByRole('link', { name: 'Forgot password?' }).click()
  // The login page has an Email field too: wait for the new page before typing.
  await expect(page.getByRole('heading', { name: 'Forgot your password?' })).toBeVisible()
  await page.getByLabel('Email').fill(email)
  await page.getByRole('button', { name: 'Send code' }).click()
  await expect(page.getByText('If an account exists for that email, we sent a code.')).toBeVisible()
  await page.getByLabel('Code').fill(await waitForCodeWithSubject(email, 'Reset your Trainyard password'))
  await page.getByRole('button', { name: 'Verify' }).click()

  await expect(page.getByRole('heading', { name: 'Choose a new password' })).toBeVisible()
  await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD)
  await page.getByLabel('Confirm new password').fill(NEW_PASSWORD)
  await page.getByRole('button', { name: 'Save new password' }).click()
  // The reset logs in.
  await expect(page.getByText('Password changed')).toBeVisible()
  await expect(page.getByTestId('user-menu')).toBeVisible()

  await logOut(page)
  await page.goto('/login')
  await logIn(page, email, PASSWORD)
  await expect(page.getByText('Invalid email or password')).toBeVisible()
  await logIn(page, email, NEW_PASSWORD)
  await expect(page.getByTestId('user-menu')).toBeVisible()
})

test('two-factor login: the password, then the authenticator code, then the page asked for', async ({ page, insertUser }) => {
  const user = await insertUser({ name: 'Two Factor' })
  const { otp: _otp, ...config } = await generateTOTP(TWO_FACTOR_TOTP)
  await prisma.verification.create({ data: { type: '2fa', target: user.id, ...config } })

  await page.goto('/settings')
  await expect(page).toHaveURL(/\/login\?redirectTo=%2Fsettings/)
  await logIn(page, user.email, user.password)
  await expect(page.getByRole('heading', { name: 'Two-factor authentication' })).toBeVisible()
  await expect(page.getByTestId('user-menu')).toBeHidden()

  const { otp } = await generateTOTP({ ...TWO_FACTOR_TOTP, secret: config.secret })
  await page.getByLabel('Code').fill(otp === '000000' ? '111111' : '000000')
  await page.getByRole('button', { name: 'Verify' }).click()
  await expect(page.getByText('Check your authenticator app')).toBeVisible()
  await expect(page.getByTestId('user-menu')).toBeHidden()

  const { otp: current } = await generateTOTP({ ...TWO_FACTOR_TOTP, secret: config.secret })
  await page.getByLabel('Code').fill(current)
  await page.getByRole('button', { name: 'Verify' }).click()
  await expect(page.getByTestId('user-menu')).toBeVisible()
  await expect(page).toHaveURL(/\/settings$/)
})

test('sign-up checks the email in the browser, with the server’s schema, before sending anything', async ({ page }) => {
  await page.goto('/signup')
  // The form is checked by script once the page is hydrated; wait for it so the test is about that check.
  await expect(page.locator('form#signup[novalidate]')).toBeVisible()
  const posts: string[] = []
  page.on('request', (request) => {
    if (request.method() === 'POST') posts.push(request.url())
  })
  const email = page.getByLabel('Email')
  await email.fill('not-an-email')
  await page.getByRole('button', { name: 'Create account' }).click()
  await expect(page.getByText('Enter a valid email address')).toBeVisible()
  await expect(email).toHaveAttribute('aria-invalid', 'true')
  await expect(email).toHaveAttribute('aria-describedby', /signup-email-error/)
  await expect(email).toHaveValue('not-an-email')
  expect(posts).toEqual([])

  // Corrected, the message goes as the person types, and the form is sent.
  await email.fill(uniqueEmail('e2e-browser-check'))
  await expect(page.getByText('Enter a valid email address')).toBeHidden()
  await page.getByRole('button', { name: 'Create account' }).click()
  await expect(page.getByRole('heading', { name: 'Check your email' })).toBeVisible()
  expect(posts).toHaveLength(1)
})

test('a password reset logs in, on the page the person was going to', async ({ page, insertUser }) => {
  const user = await insertUser({ name: 'Forgetful' })
  await page.goto('/settings')
  await expect(page).toHaveURL(/\/login\?redirectTo=%2Fsettings/)
  await page.getByRole('link', { name: 'Forgot password?' }).click()
  await expect(page.getByRole('heading', { name: 'Forgot your password?' })).toBeVisible()
  await page.getByLabel('Email').fill(user.email)
  await page.getByRole('button', { name: 'Send code' }).click()
  await page.getByLabel('Code').fill(await waitForCodeWithSubject(user.email, 'Reset your Trainyard password'))
  await page.getByRole('button', { name: 'Verify' }).click()
  await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD)
  await page.getByLabel('Confirm new password').fill(NEW_PASSWORD)
  await page.getByRole('button', { name: 'Save new password' }).click()
  await expect(page.getByText('You are logged in with your new password')).toBeVisible()
  await expect(page.getByTestId('user-menu')).toBeVisible()
  await expect(page).toHaveURL(/\/settings$/)
})

test('two-factor with recovery codes: turn it on, keep the codes, log in with one, see one fewer left', async ({
  page,
  login,
}) => {
  test.slow()
  const user = await login({ name: 'Lost Phone' })
  await page.goto('/settings/two-factor')
  await page.getByRole('button', { name: 'Set up two-factor' }).click()
  const secret = await page.getByLabel('Secret key').inputValue()
  await page.getByLabel('Code').fill((await generateTOTP({ ...TWO_FACTOR_TOTP, secret })).otp)
  await page.getByRole('button', { name: 'Turn on two-factor' }).click()

  // Shown once, with a download of the same codes.
  await expect(page.getByRole('heading', { name: 'Save your recovery codes now' })).toBeVisible()
  const codes = await page.getByTestId('recovery-codes').getByRole('listitem').allTextContents()
  expect(codes).toHaveLength(10)
  const download = page.waitForEvent('download')
  await page.getByRole('link', { name: 'Download as .txt' }).click()
  const file = await download
  expect(file.suggestedFilename()).toBe('trainyard-recovery-codes.txt')
  const text = await fs.readFile((await file.path())!, 'utf8')
  for (const code of codes) expect(text).toContain(code)
  await page.reload()
  await expect(page.getByRole('heading', { name: 'Save your recovery codes now' })).toBeHidden()
  await expect(page.getByTestId('recovery-codes-left')).toHaveText('10 of 10 recovery codes left.')

  await logOut(page)
  await page.goto('/login')
  await logIn(page, user.email, user.password)
  await expect(page.getByRole('heading', { name: 'Two-factor authentication' })).toBeVisible()
  await page.getByRole('link', { name: 'Use a recovery code instead' }).click()
  await page.getByLabel('Recovery code').fill(codes[0]!.toUpperCase())
  await page.getByRole('button', { name: 'Verify' }).click()
  await expect(page.getByTestId('user-menu')).toBeVisible()
  await expect(page.getByText('9 recovery codes are left')).toBeVisible()

  await page.goto('/settings/two-factor')
  await expect(page.getByTestId('recovery-codes-left')).toHaveText('9 of 10 recovery codes left.')
  expect((await readEmail(user.email))?.subject).toBe('A recovery code was used to log in to Trainyard')

  // The used code does not work a second time.
  await logOut(page)
  await page.goto('/login')
  await logIn(page, user.email, user.password)
  await page.getByRole('link', { name: 'Use a recovery code instead' }).click()
  await page.getByLabel('Recovery code').fill(codes[0]!)
  await page.getByRole('button', { name: 'Verify' }).click()
  await expect(page.getByText('That recovery code is not right or was already used.')).toBeVisible()
  await expect(page.getByTestId('user-menu')).toBeHidden()
})
