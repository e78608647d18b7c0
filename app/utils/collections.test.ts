import { expect, test } from 'vitest'
import { chunk, inChunks } from './collections'

test('chunk slices in order, the last slice shorter; a size below one is refused', () => {
  expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]])
  expect(chunk([], 3)).toEqual([])
  expect(() => chunk([1], 0)).toThrow(RangeError)
})

test('inChunks asks one query per 400 ids, one at a time, and concatenates the answers', async () => {
  const ids = Array.from({ length: 1001 }, (_, i) => `id${i}`)
  const sizes: number[] = []
  const out = await inChunks(ids, async (slice) => {
    sizes.push(slice.length)
    return slice
  })
  expect(sizes).toEqual([400, 400, 201])
  expect(out).toEqual(ids)
})
