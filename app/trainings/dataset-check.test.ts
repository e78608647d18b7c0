import { describe, expect, test } from 'vitest'
import { checkDataset, isSmallImage, type DatasetImage } from './dataset-check'

function image(n: number, over: Partial<DatasetImage> = {}): DatasetImage {
  return { id: `i${n}`, name: `p${n}.jpg`, width: 2000, height: 1500, hash: `h${n}`, text: `[trigger] photo ${n}`, ...over }
}
const five = () => [1, 2, 3, 4, 5].map((n) => image(n))
const item = (check: ReturnType<typeof checkDataset>, id: string) => check.items.find((i) => i.id === id)!
const blockers = (check: ReturnType<typeof checkDataset>) => check.items.filter((i) => i.level === 'blocker').map((i) => i.id)

describe('checkDataset', () => {
  test('five different, large, captioned images are ready to train with nothing to advise', () => {
    const check = checkDataset(five(), { resolutionPx: 1024 })
    expect(check.ready).toBe(true)
    expect(check.items.every((i) => i.ok && i.level === 'ok')).toBe(true)
    expect(item(check, 'count').title).toBe('5 images')
    expect(item(check, 'resolution').title).toBe('Smallest image: 2000 × 1500 px (p1.jpg)')
  })

  test('too few images blocks, worded as the action to take', () => {
    const check = checkDataset(five().slice(0, 3), { resolutionPx: 1024 })
    expect(check.ready).toBe(false)
    expect(blockers(check)).toEqual(['count'])
    expect(item(check, 'count')).toMatchObject({
      level: 'blocker',
      ok: false,
      title: 'Add 2 more images',
      detail: 'A training needs 5–200 images: add 2 more images.',
    })
    expect(item(checkDataset(five().slice(0, 4), { resolutionPx: 1024 }), 'count').title).toBe('Add 1 more image')
  })

  test('no images at all (every upload refused, or none yet) blocks with the action and why files may be missing', () => {
    const empty = checkDataset([], { resolutionPx: 1024 })
    expect(empty.ready).toBe(false)
    expect(item(empty, 'count')).toMatchObject({ level: 'blocker', ok: false, title: 'Add 5 images' })
    expect(item(empty, 'count').detail).toMatch(/^A training needs 5–200 images: add 5 more images\. .*refused file is named/)
  })

  test('more than the maximum blocks, worded as the action', () => {
    const many = Array.from({ length: 201 }, (_, n) => image(n))
    const check = checkDataset(many, { resolutionPx: 1024 })
    expect(check.ready).toBe(false)
    expect(item(check, 'count')).toMatchObject({
      level: 'blocker',
      title: 'Remove 1 image',
      detail: 'A training takes at most 200 images: remove 1 image.',
    })
    expect(checkDataset(many.slice(0, 200), { resolutionPx: 1024 }).ready).toBe(true)
  })

  test('small images are advice, not a blocker: a single 640×480 photo does not stop the run', () => {
    const images = [...five(), image(6, { width: 640, height: 480 }), image(7, { width: 900, height: 1000 })]
    const check = checkDataset(images, { resolutionPx: 1024 })
    expect(item(check, 'resolution')).toMatchObject({
      level: 'advice',
      ok: true,
      title: 'Smallest image: 640 × 480 px (p6.jpg)',
      detail:
        '2 images are smaller than the training resolution of 1024 px: the trainer uses them at their own size (it does not upscale), so they teach less fine detail. The run can go ahead.',
    })
    expect(check.ready).toBe(true)
    const one = checkDataset([...five().slice(0, 4), image(6, { width: 640, height: 480 })], { resolutionPx: 1024 })
    expect(one.ready).toBe(true)
    expect(item(one, 'resolution').detail).toMatch(/^1 image is smaller .* uses it at its own size/)
  })

  test('isSmallImage: the longest side under the resolution; an image of unknown size is not called small', () => {
    expect(isSmallImage({ width: 640, height: 480 }, 1024)).toBe(true)
    expect(isSmallImage({ width: 1024, height: 480 }, 1024)).toBe(false)
    expect(isSmallImage({ width: null, height: null }, 1024)).toBe(false)
  })

  test('duplicates are advice: the later copies are flagged with the name of the first', () => {
    const images = [...five(), image(6, { hash: 'h1' }), image(7, { hash: 'h1' })]
    const check = checkDataset(images, { resolutionPx: 1024 })
    expect(check.duplicateOf).toEqual({ i6: 'p1.jpg', i7: 'p1.jpg' })
    expect(item(check, 'duplicates')).toMatchObject({ level: 'advice', ok: true, title: '2 duplicates' })
    expect(check.ready).toBe(true)
  })

  test('missing captions (none, or only spaces) are advice that names the trigger-word fallback', () => {
    const images = [...five(), image(6, { text: null }), image(7, { text: '   ' })]
    const check = checkDataset(images, { resolutionPx: 1024 })
    expect(item(check, 'captions')).toMatchObject({ level: 'advice', ok: true, title: '2 images without a caption' })
    expect(item(check, 'captions').detail).toMatch(/trained with the trigger word alone/)
    expect(check.ready).toBe(true)
  })

  test('every kind of advice at once still leaves the dataset ready; a blocker alongside them is the only one not ok', () => {
    const images = [
      image(1, { width: 300, height: 300, text: null }),
      image(2, { hash: 'h1' }),
      ...[3, 4, 5].map((n) => image(n)),
    ]
    const check = checkDataset(images, { resolutionPx: 1024 })
    expect(check.items.map((i) => i.level)).toEqual(['ok', 'advice', 'advice', 'advice'])
    expect(check.ready).toBe(true)
    const blocked = checkDataset(images.slice(0, 2), { resolutionPx: 1024 })
    expect(blocked.items.filter((i) => !i.ok).map((i) => i.id)).toEqual(['count'])
  })
})
