// The settings action checks the session before it reads the form: a visitor's body is never read.
import { expect, test } from 'vitest'
import { action } from './settings'

test('an anonymous POST is sent to the login page without its body being read', async () => {
  const request = new Request('http://localhost/trainings/t1/settings', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ intent: 'delete' }),
  })
  const response = await action({ request, params: { trainingId: 't1' }, context: { cspNonce: '' } }).catch(
    (thrown: unknown) => thrown,
  )
  expect(response).toBeInstanceOf(Response)
  expect((response as Response).status).toBe(302)
  expect((response as Response).headers.get('location')).toMatch(/^\/login/)
  expect(request.bodyUsed).toBe(false)
})
