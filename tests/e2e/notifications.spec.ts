// Settings › Notifications in a browser: reached from the Settings navigation, three labelled
// checkboxes (all on for a new account), saved with a toast, and still so after a reload. And a run
// seen to its end: the tab title and the page follow it without a reload, and its owner is emailed.
import fs from 'node:fs/promises'
import path from 'node:path'
import { createReadyTraining } from '../run-fixtures'
import { expect, prisma, test } from './fixtures'

test('choose which run endings are emailed, save, and find the choices kept', async ({ page, login }) => {
  const user = await login()
  await page.goto('/settings')
  await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Notifications' }).click()
  await expect(page).toHaveURL(/\/settings\/notifications$/)
  await expect(page.getByRole('heading', { name: 'Notifications' })).toBeVisible()

  const succeeded = page.getByRole('checkbox', { name: 'A run succeeded' })
  const failed = page.getByRole('checkbox', { name: 'A run failed' })
  const stopped = page.getByRole('checkbox', { name: 'A limit stopped a run' })
  for (const box of [succeeded, failed, stopped]) await expect(box).toBeChecked()
  await expect(stopped).toHaveAccessibleDescription(/time limit or your monthly budget/)

  // By keyboard: focus the box, Space toggles it.
  await succeeded.focus()
  await page.keyboard.press('Space')
  await expect(succeeded).not.toBeChecked()
  await stopped.uncheck()
  await page.getByRole('button', { name: 'Save' }).click()
  await expect(page.getByRole('status')).toContainText('Your notification choices have been saved.')

  await page.reload()
  await expect(succeeded).not.toBeChecked()
  await expect(failed).toBeChecked()
  await expect(stopped).not.toBeChecked()
  expect(
    await prisma.user.findUniqueOrThrow({
      where: { id: user.id },
      select: { notifyRunSucceeded: true, notifyRunFailed: true, notifyRunStopped: true },
    }),
  ).toEqual({ notifyRunSucceeded: false, notifyRunFailed: true, notifyRunStopped: false })

  // And back on.
  await succeeded.check()
  await page.getByRole('button', { name: 'Save' }).click()
  await expect(page.getByRole('status')).toContainText('Your notification choices have been saved.')
  await page.reload()
  await expect(succeeded).toBeChecked()
})

test('while a run trains the tab title and the page follow it live; when it ends the owner is emailed', async ({
  page,
  login,
}) => {
  test.setTimeout(90_000)
  const user = await login()
  const training = await createReadyTraining(user.id, { name: 'Ada by email' })
  await page.goto(`/trainings/${training.id}/runs`)
  await page.getByRole('button', { name: 'Start training' }).click()
  await expect(page.getByTestId('start-confirm')).toBeVisible()
  await page.getByRole('button', { name: 'Start training' }).click()
  await expect(page).toHaveURL(/\/runs\/[a-z0-9]+$/)
  const runUrl = new URL(page.url())
  await page.evaluate(() => Object.assign(window, { __sameDocument: true }))
  await expect(page).not.toHaveTitle(/Succeeded/)

  // No reload: the title (the browser tab) and the status on the page change as the run ends.
  await expect(page).toHaveTitle(/^Run · Succeeded · Ada by email/, { timeout: 60_000 })
  await expect(page.getByText('Succeeded', { exact: true }).first()).toBeVisible()
  expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true)

  // The app's own supervisor sends the email once the machine is gone, to the training's owner.
  const outbox = path.resolve(process.env.MAIL_OUTBOX_DIR!)
  const emailTo = async () => {
    const files = (await fs.readdir(outbox).catch(() => [] as string[])).filter((f) => f.endsWith('.json'))
    for (const file of files) {
      const email = JSON.parse(await fs.readFile(path.join(outbox, file), 'utf8')) as {
        to: string
        subject: string
        text: string
      }
      if (email.to === user.email) return email
    }
    return null
  }
  await expect.poll(emailTo, { timeout: 30_000 }).not.toBeNull()
  const email = (await emailTo())!
  expect(email.subject).toBe('Your LoRA “Ada by email” is ready')
  expect(email.text).toContain(runUrl.toString())
})
