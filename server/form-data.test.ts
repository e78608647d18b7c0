import { describe, expect, test } from 'vitest'
import { guardFormData, UNREADABLE_FORM_MESSAGE } from './form-data'

function request(body: string, contentType: string) {
  return new Request('http://localhost/login', { method: 'POST', headers: { 'content-type': contentType }, body })
}

describe('guardFormData', () => {
  test('a form is read as before', async () => {
    const form = await guardFormData(request('email=a%40example.test', 'application/x-www-form-urlencoded')).formData()
    expect(form.get('email')).toBe('a@example.test')
  })

  test.each([
    ['a broken multipart body', 'not multipart', 'multipart/form-data; boundary=x'],
    ['multipart without a boundary', '--x\r\n', 'multipart/form-data'],
    ['a type no form has', 'email=a', 'text/plain'],
  ])('%s throws a 400 Response that says why', async (_, body, contentType) => {
    const thrown = await guardFormData(request(body, contentType))
      .formData()
      .then(
        () => null,
        (error: unknown) => error,
      )
    expect(thrown).toBeInstanceOf(Response)
    expect((thrown as Response).status).toBe(400)
    expect(await (thrown as Response).text()).toBe(UNREADABLE_FORM_MESSAGE)
  })

  test('an error that is not about the form passes through', async () => {
    const failing = new Request('http://localhost/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new ReadableStream({
        pull() {
          throw new RangeError('body too large')
        },
      }),
      // Node's fetch needs it for a stream body.
      duplex: 'half',
    })
    await expect(guardFormData(failing).formData()).rejects.toThrow('body too large')
  })
})
