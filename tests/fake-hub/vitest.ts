// For vitest files that talk to the Hugging Face stand-in.
//
//   const fakeHub = await vi.hoisted(async () => {
//     const { useFakeHub } = await import('../../tests/fake-hub/vitest')
//     return useFakeHub()
//   })
//
// It must run in vi.hoisted: the app reads its environment once, on the first import that needs
// it, and the stand-in's port (0 = any free one) is only known once it listens.
import { afterAll, afterEach } from 'vitest'
import { startFakeHub } from './server'

export async function useFakeHub() {
  const hub = await startFakeHub({ port: 0 })
  process.env.HF_ENDPOINT = hub.url
  afterEach(() => {
    hub.mode = 'up'
  })
  afterAll(() => hub.close())
  return hub
}
