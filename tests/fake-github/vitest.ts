// For vitest files that drive the real GitHub strategy against the stand-in.
//
//   const fakeGitHub = await vi.hoisted(async () => {
//     const { useFakeGitHub } = await import('../../tests/fake-github/vitest')
//     return useFakeGitHub()
//   })
//
// It must run in vi.hoisted: the app reads its environment once, on the first import that needs
// it, and the stand-in's port (0 = any free one) is only known once it listens.
import { afterAll } from 'vitest'
import { startFakeGitHub } from './server'

export async function useFakeGitHub() {
  const fake = await startFakeGitHub({ port: 0 })
  process.env.GITHUB_CLIENT_ID = fake.clientId
  process.env.GITHUB_CLIENT_SECRET = fake.clientSecret
  process.env.GITHUB_OAUTH_URL = fake.url
  process.env.GITHUB_API_URL = fake.apiUrl
  afterAll(() => fake.close())
  return fake
}
