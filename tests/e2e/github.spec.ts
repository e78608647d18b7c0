// GitHub login in a real browser, against the local stand-in (tests/fake-github/server.ts) that
// playwright.config.ts starts and points the app at.
import crypto from 'node:crypto'
import { type Page } from '@playwright/test'
import { expect, expectLoggedIn, prisma, test, uniqueEmail } from './fixtures'

function uniqueLogin() {
  return `e2e-${crypto.randomBytes(4).toString('hex')}`
}

/** On the stand-in's page: type the account and press Authorize (or Cancel). */
async function authorizeAtGitHub(
  page: Page,
  { login, name, email, verified = true }: { login: string; name?: string; email?: string; verified?: boolean },
  button: 'Authorize' | 'Cancel' = 'Authorize',
) {
  await expect(page.getByRole('heading', { name: 'Sign in to GitHub (local stand-in)' })).toBeVisible()
  expect(page.url().startsWith(`${process.env.E2E_GITHUB_URL}/login/oauth/authorize?`)).toBe(true)
  await page.getByLabel('GitHub login').fill(login)
  await page.getByLabel('Name', { exact: true }).fill(name ?? '')
  await page.getByLabel('Email', { exact: true }).fill(email ?? '')
  await page.getByLabel('Verified email').setChecked(verified)
  await page.getByRole('button', { name: button }).click()
}

test('sign up with GitHub, log out, log in with GitHub again: the same user', async ({ page }) => {
  const login = uniqueLogin()
  const email = uniqueEmail('e2e-gh')

  await page.goto('/signup')
  await page.getByRole('button', { name: 'Sign up with GitHub' }).click()
  await authorizeAtGitHub(page, { login, name: 'Octo Cat', email })
  await expectLoggedIn(page)
  // The home page's welcome (the sign-up toast says the same words, so the heading is named by its role).
  await expect(page.getByRole('heading', { name: 'Welcome to Trainyard, Octo Cat!' })).toBeVisible()

  await page.getByTestId('user-menu').click()
  await page.getByRole('button', { name: 'Log out' }).click()
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Log in' })).toBeVisible()
  expect(await prisma.session.count({ where: { user: { email } } })).toBe(0)

  await page.goto('/login')
  await page.getByRole('button', { name: 'Continue with GitHub' }).click()
  await authorizeAtGitHub(page, { login, name: 'Octo Cat', email })
  await expectLoggedIn(page)

  const users = await prisma.user.findMany({ where: { email }, include: { connections: true } })
  expect(users).toHaveLength(1)
  expect(users[0]!.connections).toHaveLength(1)
  expect(users[0]!.connections[0]).toMatchObject({ providerName: 'github', providerDisplayName: login })
  expect(await prisma.session.count({ where: { userId: users[0]!.id } })).toBe(1)
})

test('cancelling at GitHub comes back to the login page with a message', async ({ page }) => {
  const email = uniqueEmail('e2e-gh-cancel')
  await page.goto('/login')
  await page.getByRole('button', { name: 'Continue with GitHub' }).click()
  await authorizeAtGitHub(page, { login: uniqueLogin(), email }, 'Cancel')
  await expect(page).toHaveURL(/\/login$/)
  await expect(page.getByText('You cancelled signing in with GitHub. Nothing was changed.')).toBeVisible()
  expect(await prisma.user.count({ where: { email } })).toBe(0)
})

test('a password user connects and disconnects GitHub in settings', async ({ page, login: loginAs }) => {
  const user = await loginAs()
  const login = uniqueLogin()

  await page.goto('/settings/connections')
  await expect(page.getByText('No accounts are connected.')).toBeVisible()
  await page.getByRole('button', { name: 'Connect GitHub' }).click()
  // Another email at GitHub: connecting goes by the logged-in user, not by email.
  await authorizeAtGitHub(page, { login, email: uniqueEmail('e2e-gh-elsewhere') })

  // Nothing is connected until the person says yes to this very account.
  await expect(page).toHaveURL(/\/settings\/connections\/confirm$/)
  await expect(page.getByText(`Connect GitHub account @${login} to your Trainyard account?`)).toBeVisible()
  expect(await prisma.connection.count({ where: { userId: user.id } })).toBe(0)
  await page.getByRole('button', { name: 'Connect', exact: true }).click()

  await expect(page).toHaveURL(/\/settings\/connections$/)
  await expect(page.getByText(`Connected GitHub account @${login}.`)).toBeVisible()
  await expect(page.getByRole('listitem').filter({ hasText: `@${login}` })).toBeVisible()
  expect(await prisma.connection.count({ where: { userId: user.id, providerDisplayName: login } })).toBe(1)

  await page.getByRole('button', { name: `Disconnect GitHub account @${login}` }).click()
  await expect(page.getByText(`Disconnected GitHub account @${login}.`)).toBeVisible()
  await expect(page.getByText('No accounts are connected.')).toBeVisible()
  expect(await prisma.connection.count({ where: { userId: user.id } })).toBe(0)
})

test('Cancel on the confirm page connects nothing', async ({ page, login: loginAs }) => {
  const user = await loginAs()
  const login = uniqueLogin()

  await page.goto('/settings/connections')
  await page.getByRole('button', { name: 'Connect GitHub' }).click()
  await authorizeAtGitHub(page, { login, email: uniqueEmail('e2e-gh-no') })
  await expect(page.getByText(`Connect GitHub account @${login} to your Trainyard account?`)).toBeVisible()
  await page.getByRole('button', { name: 'Cancel' }).click()

  await expect(page).toHaveURL(/\/settings\/connections$/)
  await expect(page.getByText(`GitHub account @${login} was not connected.`)).toBeVisible()
  await expect(page.getByText('No accounts are connected.')).toBeVisible()
  expect(await prisma.connection.count({ where: { userId: user.id } })).toBe(0)

  // The account it named is forgotten: the confirm page has nothing left to offer.
  await page.goto('/settings/connections/confirm')
  await expect(page).toHaveURL(/\/settings\/connections$/)
  await expect(page.getByText('There is no GitHub account waiting to be connected')).toBeVisible()
})

test('someone who signed up with GitHub cannot remove their only way to log in', async ({ page }) => {
  const login = uniqueLogin()
  const email = uniqueEmail('e2e-gh-only')
  await page.goto('/login')
  await page.getByRole('button', { name: 'Continue with GitHub' }).click()
  await authorizeAtGitHub(page, { login, email })
  await expectLoggedIn(page)

  await page.goto('/settings/connections')
  await page.getByRole('button', { name: `Disconnect GitHub account @${login}` }).click()
  const alert = page.getByRole('alert')
  await expect(alert).toContainText('Create a password first')
  await expect(alert.getByRole('link', { name: 'Create a password' })).toHaveAttribute('href', '/settings/password')
  expect(await prisma.connection.count({ where: { user: { email } } })).toBe(1)
})
