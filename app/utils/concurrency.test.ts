import { expect, test } from 'vitest'
import { forEachLimit } from './concurrency'

test('forEachLimit runs every item, never more than the limit at once, starting them in order', async () => {
  let running = 0
  let most = 0
  const started: number[] = []
  await forEachLimit([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
    started.push(n)
    most = Math.max(most, ++running)
    await new Promise((resolve) => setTimeout(resolve, 5))
    running--
  })
  expect(started).toEqual([1, 2, 3, 4, 5, 6, 7])
  expect(most).toBe(3)
  // A limit below one still makes progress, one at a time.
  const seen: number[] = []
  await forEachLimit([1, 2], 0, async (n) => void seen.push(n))
  expect(seen).toEqual([1, 2])
})
