import { describe, expect, test } from 'vitest'
import { checkDataset, type DatasetImage } from './dataset-check'

function image(n: number, over: Partial<DatasetImage> = {}): DatasetImage {
  return { id: `i${n}`, name: `p${n}.jpg`, width: 2000, height: 1500, hash: `h${n}`, text: `[trigger] photo ${n}`, ...over }
}
const five = () => [1, 2, 3, 4, 5].map((n) => image(n))
const item = (check: ReturnType<typeof checkDataset>, id: string) => check.items.find((i) => i.id === id)!

describe('checkDataset', () => {
  test('five different, large, captioned images are ready to train', () => {
    const check = checkDataset(five(), { resolutionPx: 1024 })
    expect(check.ready).toBe(true)
    expect(check.items.every((i) => i.ok)).toBe(true)
    expect(item(check, 'count').title).toBe('5 images')
    expect(item(check, 'resolution').title).toBe('Smallest image: 2000 × 1500 px (p1.jpg)')
  })

  test('too few images, and no images at all', () => {
    expect(item(checkDataset(five().slice(0, 3), { resolutionPx: 1024 }), 'count')).toMatchObject({
      ok: false,
      detail: 'A training needs 5–200 images: add 2 more images.',
    })
    const empty = checkDataset([], { resolutionPx: 1024 })
    expect(empty.ready).toBe(false)
    expect(item(empty, 'count')).toMatchObject({
      ok: false,
      title: '0 images',
      detail: 'A training needs 5–200 images: add 5 more images.',
    })
  })

  test('too many images', () => {
    const many = Array.from({ length: 201 }, (_, n) => image(n))
    expect(item(checkDataset(many, { resolutionPx: 1024 }), 'count')).toMatchObject({
      ok: false,
      detail: 'A training takes at most 200 images: remove 1 image.',
    })
  })

  test('the smallest image, and those under the training resolution', () => {
    const images = [...five(), image(6, { width: 640, height: 480 }), image(7, { width: 900, height: 1000 })]
    const check = checkDataset(images, { resolutionPx: 1024 })
    expect(item(check, 'resolution')).toMatchObject({
      ok: false,
      title: 'Smallest image: 640 × 480 px (p6.jpg)',
      detail: '2 images are smaller than the training resolution of 1024 px and will be upscaled.',
    })
    expect(check.ready).toBe(false)
  })

  test('duplicates: the later copies are flagged with the name of the first', () => {
    const images = [...five(), image(6, { hash: 'h1' }), image(7, { hash: 'h1' })]
    const check = checkDataset(images, { resolutionPx: 1024 })
    expect(check.duplicateOf).toEqual({ i6: 'p1.jpg', i7: 'p1.jpg' })
    expect(item(check, 'duplicates')).toMatchObject({ ok: false, title: '2 duplicates' })
  })

  test('missing captions: none, or only spaces', () => {
    const images = [...five(), image(6, { text: null }), image(7, { text: '   ' })]
    expect(item(checkDataset(images, { resolutionPx: 1024 }), 'captions')).toMatchObject({
      ok: false,
      title: '2 images without a caption',
    })
  })
})
