import { describe, expect, test } from 'vitest'
import { imageMessages, largestLongSide, WHOLE_DECODE_MAX_PIXELS, JPEG_MAX_PIXELS } from './processing.server'

describe('the advice in a refusal for too many pixels', () => {
  test('the long side it names keeps the image within the limit at its own aspect ratio, and is the largest that does', () => {
    for (const [width, height] of [
      [10_000, 10_000],
      [6001, 2667],
      [16_383, 1200],
      [1200, 16_383],
      [8000, 7000],
      [12_345, 6789],
    ] as const) {
      for (const limit of [WHOLE_DECODE_MAX_PIXELS, JPEG_MAX_PIXELS].filter((l) => width * height > l)) {
        const side = largestLongSide(width, height, limit)
        const shortSide = (s: number) => Math.max(1, Math.round((s * Math.min(width, height)) / Math.max(width, height)))
        expect(side * shortSide(side)).toBeLessThanOrEqual(limit)
        expect((side + 1) * shortSide(side + 1)).toBeGreaterThan(limit)
      }
    }
  })

  test('an image just over a limit never reads as equal to it', () => {
    expect(imageMessages.tooManyPixels('a.webp', 'webp', 4001, 4000)).toBe(
      'a.webp is 4001×4000 (16.1 MP); the largest WebP accepted is 16 MP — scale it down to at most 4000 px on the long side.',
    )
  })
})
