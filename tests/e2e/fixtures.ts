// Playwright fixtures: users are created in the database and logged in by setting a real session
// cookie, so only the tests about logging in type a password.
import { test as base, expect, type Page } from '@playwright/test'
import { codeFromEmail, createSessionCookie, createUser, readEmail, TEST_PASSWORD, uniqueEmail } from '../db-utils'
import { prisma } from '~/utils/db.server'

type TestUser = { id: string; email: string; name: string | null; password: string }

export const test = base.extend<{
  /** Creates a user (roles default to ['user']) and logs the page in as them. */
  login: (options?: { roles?: string[]; name?: string }) => Promise<TestUser>
  /** Creates a user without logging in. */
  insertUser: (options?: { roles?: string[]; name?: string; email?: string; password?: string }) => Promise<TestUser>
}>({
  insertUser: async ({}, use) => {
    await use(async (options = {}) => {
      const password = options.password ?? TEST_PASSWORD
      const user = await createUser({ ...options, password, email: options.email ?? uniqueEmail('e2e') })
      return { ...user, password }
    })
  },
  login: async ({ page, insertUser }, use) => {
    await use(async (options = {}) => {
      const user = await insertUser(options)
      const { cookie } = await createSessionCookie(user.id)
      const [name, value] = cookie.split('=') as [string, string]
      await page.context().addCookies([{ name, value, url: process.env.E2E_BASE_URL!, httpOnly: true, sameSite: 'Lax' }])
      return user
    })
  },
})

/** Waits for the newest email to `to` in the outbox and returns its code. */
export async function waitForCode(to: string) {
  let code: string | undefined
  await expect
    .poll(async () => {
      const email = await readEmail(to)
      code = email ? codeFromEmail(email) : undefined
      return code
    })
    .toBeTruthy()
  return code!
}

export async function expectLoggedIn(page: Page) {
  await expect(page.getByTestId('user-menu')).toBeVisible()
}

export { expect, prisma, uniqueEmail, TEST_PASSWORD }
