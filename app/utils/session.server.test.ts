import { describe, expect, test, vi } from 'vitest'
import type * as EnvModule from './env.server'

// The app behind TLS (production, an https address) unless a test switches to plain http.
const { env } = vi.hoisted(() => ({ env: { current: {} as ReturnType<typeof EnvModule.getEnv> } }))
vi.mock('./env.server', async (importOriginal) => {
  const actual = await importOriginal<typeof EnvModule>()
  env.current = { ...actual.parseEnv(process.env), NODE_ENV: 'production', APP_URL: 'https://trainyard.example' }
  return { ...actual, getEnv: () => env.current }
})

const { authSessionStorage, cookieName, cookieOptions, verifySessionStorage } = await import('./session.server')
const { createToastHeaders } = await import('./toast.server')

/** What a browser requires of a `__Host-` cookie: Secure, Path=/ and no Domain. */
function expectHostCookie(setCookie: string, name: string) {
  expect(setCookie).toMatch(new RegExp(`^__Host-trainyard_${name}=`))
  expect(setCookie).toMatch(/;\s*Secure/i)
  expect(setCookie).toMatch(/;\s*Path=\/(;|$)/i)
  expect(setCookie).not.toMatch(/;\s*Domain=/i)
}

describe('cookie names', () => {
  test('under https every cookie of the app is a __Host- cookie: no sibling subdomain can set it', async () => {
    expectHostCookie(await authSessionStorage.commitSession(await authSessionStorage.getSession()), 'session')
    expectHostCookie(await verifySessionStorage.commitSession(await verifySessionStorage.getSession()), 'verify')
    expectHostCookie((await createToastHeaders({ description: 'Saved.' })).get('set-cookie')!, 'toast')
    expect(cookieName('github')).toBe('__Host-trainyard_github')
  })

  test('a session cookie sent under the plain name is not read under https', async () => {
    const session = await authSessionStorage.getSession()
    session.set('sessionId', 'abc')
    const value = (await authSessionStorage.commitSession(session)).split(';')[0]!.split('=').slice(1).join('=')
    expect((await authSessionStorage.getSession(`__trainyard_session=${value}`)).get('sessionId')).toBeUndefined()
    expect((await authSessionStorage.getSession(`__Host-trainyard_session=${value}`)).get('sessionId')).toBe('abc')
  })

  test('over plain http (development, tests) the names keep the plain prefix and are not Secure', () => {
    const secure = env.current
    env.current = { ...secure, NODE_ENV: 'development', APP_URL: 'http://localhost:3000' }
    try {
      expect(cookieName('session')).toBe('__trainyard_session')
      expect(cookieOptions('toast')).toMatchObject({ name: '__trainyard_toast', secure: false, path: '/' })
    } finally {
      env.current = secure
    }
  })

  test('production over http (behind no TLS) is plain too: a __Host- cookie would need Secure', () => {
    const secure = env.current
    env.current = { ...secure, NODE_ENV: 'production', APP_URL: 'http://10.0.0.5:3000' }
    try {
      expect(cookieOptions('session')).toMatchObject({ name: '__trainyard_session', secure: false })
    } finally {
      env.current = secure
    }
  })
})
