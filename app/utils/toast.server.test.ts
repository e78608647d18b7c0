import { describe, expect, test, vi } from 'vitest'
import type * as EnvModule from './env.server'

// The app behind TLS: production and an https address, which is when cookies must be Secure.
vi.mock('./env.server', async (importOriginal) => {
  const actual = await importOriginal<typeof EnvModule>()
  const env = { ...actual.parseEnv(process.env), NODE_ENV: 'production' as const, APP_URL: 'https://trainyard.example' }
  return { ...actual, getEnv: () => env }
})

const { authSessionStorage } = await import('./session.server')
const { createToastHeaders, getToast, redirectWithToast } = await import('./toast.server')

describe('the toast cookie', () => {
  test('under https it is Secure, HttpOnly and SameSite=Lax, like the session cookie', async () => {
    const session = await authSessionStorage.commitSession(await authSessionStorage.getSession())
    expect(session).toMatch(/;\s*Secure/i)
    const toast = (await createToastHeaders({ description: 'Saved.' })).get('set-cookie')!
    expect(toast).toMatch(/^__Host-trainyard_toast=/)
    expect(toast).toMatch(/;\s*Secure/i)
    expect(toast).toMatch(/;\s*HttpOnly/i)
    expect(toast).toMatch(/;\s*SameSite=Lax/i)
  })

  test('a redirect carries the toast; reading it once clears it', async () => {
    const res = await redirectWithToast('/settings', { type: 'success', description: 'Saved.' })
    expect(res.status).toBe(302)
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!
    const { toast, headers } = await getToast(new Request('https://trainyard.example/settings', { headers: { cookie } }))
    expect(toast).toMatchObject({ type: 'success', description: 'Saved.', id: expect.any(String) })
    expect(headers?.get('set-cookie')).toMatch(/Expires=Thu, 01 Jan 1970/)
  })
})
