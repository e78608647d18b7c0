// Settings › Notifications in a browser: reached from the Settings navigation, three labelled
// checkboxes (all on for a new account), saved with a toast, and still so after a reload.
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
