// Settings › Webhooks in the browser: add an endpoint pointing at a local receiver this test starts, copy
// the secret shown once, send a test event, and see it delivered in the endpoint's log; the receiver got
// it signed with that secret.
import { Webhook } from 'standardwebhooks'
import { startWebhookReceiver } from '../webhook-receiver'
import { expect, test } from './fixtures'

test('add an endpoint, send a test event, see it delivered', async ({ page, login }) => {
  const receiver = await startWebhookReceiver({ fallback: { status: 200, body: 'received by the test' } })
  try {
    await login()
    await page.goto('/settings/webhooks')
    await expect(page.getByText('You have no endpoints yet')).toBeVisible()

    await page.getByLabel('URL').fill(receiver.url)
    // Every event is ticked at first: one fewer.
    await page.getByRole('checkbox', { name: /Sample added/ }).uncheck()
    await page.getByLabel('Description (optional)').fill('Browser test')
    await page.getByRole('button', { name: 'Add endpoint' }).click()

    const secret = (await page.getByLabel('Signing secret').textContent())!.trim()
    expect(secret).toMatch(/^whsec_/)
    await page.getByRole('link', { name: receiver.url }).click()
    await expect(page.getByText('No deliveries yet')).toBeVisible()

    await page.getByRole('button', { name: 'Send a test event' }).click()
    const log = page.getByRole('list', { name: 'Delivery log' })
    await expect(log.getByText('webhook.test')).toBeVisible()
    // Sent by the server's supervisor on its next cycle; the page refreshes while it is pending.
    await expect(log.getByText('delivered')).toBeVisible({ timeout: 20_000 })
    await expect(log.getByText('HTTP 200')).toBeVisible()
    await expect(log.getByText('received by the test')).toBeVisible()

    expect(receiver.received).toHaveLength(1)
    const [hook] = receiver.received
    expect(new Webhook(secret).verify(hook!.body, hook!.headers)).toMatchObject({ type: 'webhook.test' })
  } finally {
    await receiver.close()
  }
})
