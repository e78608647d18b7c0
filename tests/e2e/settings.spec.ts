// The settings pages in a browser: profile, password, two-factor and sessions.
import { generateTOTP } from '@epic-web/totp'
import { TWO_FACTOR_TOTP } from '~/utils/verification.server'
import { createSessionCookie } from '../db-utils'
import { expect, expectLoggedIn, prisma, test } from './fixtures'

const NEW_PASSWORD = 'a-brand-new-passphrase'

test('change the name, change the password, and log in with the new one', async ({ page, login }) => {
  const user = await login({ name: 'Before Rename' })

  await page.goto('/settings')
  await expect(page.getByLabel('Email')).toHaveValue(user.email)
  await page.getByLabel('Name').fill('After Rename')
  await page.getByRole('button', { name: 'Save' }).click()
  await expect(page.getByRole('status')).toContainText('Your profile has been saved.')
  await expect(page.getByTestId('user-menu')).toContainText('After Rename')

  await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Password' }).click()
  await expect(page.getByRole('heading', { name: 'Change your password' })).toBeVisible()
  // A wrong current password first: the error is shown and nothing changes.
  await page.getByLabel('Current password').fill('not-my-password')
  await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD)
  await page.getByLabel('Confirm new password').fill(NEW_PASSWORD)
  await page.getByRole('button', { name: 'Change password' }).click()
  await expect(page.getByText('Your current password is not right.')).toBeVisible()
  await expect(page.getByLabel('Current password')).toHaveAttribute('aria-invalid', 'true')

  await page.getByLabel('Current password').fill(user.password)
  await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD)
  await page.getByLabel('Confirm new password').fill(NEW_PASSWORD)
  await page.getByRole('button', { name: 'Change password' }).click()
  await expect(page.getByRole('status')).toContainText('Your password has been changed.')
  await expect(page.getByLabel('Current password')).toHaveValue('')

  await page.getByTestId('user-menu').click()
  await page.getByRole('button', { name: 'Log out' }).click()
  // Wait for the logout to land: going to /login while its POST is in flight cancels it, and a still
  // logged-in person is sent from /login to the home page (this raced once in a clean clone).
  await expect(page.getByTestId('user-menu')).toBeHidden()
  await page.goto('/login')
  await page.getByLabel('Email').fill(user.email)
  await page.getByLabel('Password', { exact: true }).fill(NEW_PASSWORD)
  await page.getByRole('button', { name: 'Log in' }).click()
  await expectLoggedIn(page)
})

test('turn two-factor on with the secret shown on the page, then off again', async ({ page, login }) => {
  const user = await login()
  await page.goto('/settings/two-factor')
  await expect(page.getByText('Off', { exact: true })).toBeVisible()
  await page.getByRole('button', { name: 'Set up two-factor' }).click()

  await expect(page.getByRole('img', { name: /QR code/ })).toBeVisible()
  const secret = await page.getByLabel('Secret key').inputValue()
  expect(secret).toMatch(/^[A-Z2-7]+=*$/)

  // A wrong code first: it stays off.
  const { otp } = await generateTOTP({ ...TWO_FACTOR_TOTP, secret })
  await page.getByLabel('Code').fill(otp === '000000' ? '111111' : '000000')
  await page.getByRole('button', { name: 'Turn on two-factor' }).click()
  await expect(page.getByText('That code is not right.')).toBeVisible()

  await page.getByLabel('Code').fill((await generateTOTP({ ...TWO_FACTOR_TOTP, secret })).otp)
  await page.getByRole('button', { name: 'Turn on two-factor' }).click()
  await expect(page.getByRole('status')).toContainText('Two-factor authentication is on.')
  await expect(page.getByText('On', { exact: true })).toBeVisible()
  expect(await prisma.verification.findMany({ where: { target: user.id }, select: { type: true, expiresAt: true } })).toEqual([
    { type: '2fa', expiresAt: null },
  ])

  await page.getByLabel('Code').fill((await generateTOTP({ ...TWO_FACTOR_TOTP, secret })).otp)
  await page.getByRole('button', { name: 'Turn off two-factor' }).click()
  await expect(page.getByRole('status')).toContainText('Two-factor authentication is off.')
  await expect(page.getByRole('button', { name: 'Set up two-factor' })).toBeVisible()
  expect(await prisma.verification.count({ where: { target: user.id } })).toBe(0)
})

test('sign out everywhere else ends the session on another device', async ({ page, login, browser }) => {
  const user = await login()
  // The same person on a second device.
  const { cookie } = await createSessionCookie(user.id)
  const [name, value] = cookie.split('=') as [string, string]
  const otherDevice = await browser.newContext()
  await otherDevice.addCookies([{ name, value, url: process.env.E2E_BASE_URL!, httpOnly: true, sameSite: 'Lax' }])
  const otherPage = await otherDevice.newPage()
  await otherPage.goto('/settings/sessions')
  await expectLoggedIn(otherPage)

  await page.goto('/settings/sessions')
  const list = page.getByRole('list', { name: 'Your sessions' })
  await expect(list.getByRole('listitem')).toHaveCount(2)
  await expect(list.getByText('This device')).toHaveCount(1)
  await page.getByRole('button', { name: 'Sign out everywhere else' }).click()
  await expect(page.getByRole('status')).toContainText('Signed out 1 other session.')
  await expect(list.getByRole('listitem')).toHaveCount(1)
  await expect(page.getByText('You are not logged in anywhere else.')).toBeVisible()

  await otherPage.reload()
  await expect(otherPage).toHaveURL(/\/login\?redirectTo=%2Fsettings%2Fsessions/)
  await otherDevice.close()
})
