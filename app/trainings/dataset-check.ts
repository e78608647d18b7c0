// The dataset check of a training, shared by the server and the browser: what a person should fix
// before spending GPU money. Pure (no I/O) so the Images tab, the run start and the tests all judge a
// dataset the same way.
import { countOf } from '../utils/format'

export const MIN_DATASET_IMAGES = 5
export const MAX_DATASET_IMAGES = 200
/** Longer captions are cut by the text encoders anyway (CLIP reads 77 tokens, T5 512). */
export const CAPTION_MAX_CHARS = 2000
/** Written literally in captions and prompts; replaced by the trigger word when the dataset is rendered. */
export const TRIGGER_TOKEN = '[trigger]'

export type DatasetImage = {
  id: string
  name: string
  width: number | null
  height: number | null
  hash: string | null
  text: string | null
}

export type DatasetCheckItem = {
  id: 'count' | 'resolution' | 'duplicates' | 'captions'
  ok: boolean
  title: string
  detail: string
}

export type DatasetCheck = {
  ready: boolean
  items: DatasetCheckItem[]
  /** image id → the name of the earlier image with the same content */
  duplicateOf: Record<string, string>
}

/** "1 image", "3 images": English plurals by Intl.PluralRules (in countOf). */
function plural(n: number, one: string, many = `${one}s`) {
  return countOf(n, one, many)
}

export function hasCaption(text: string | null | undefined) {
  return Boolean(text?.trim())
}

/** `images` in upload order (oldest first): the later copy of a duplicate is the one flagged. */
export function checkDataset(images: DatasetImage[], { resolutionPx }: { resolutionPx: number }): DatasetCheck {
  const count = images.length
  const countOk = count >= MIN_DATASET_IMAGES && count <= MAX_DATASET_IMAGES
  const countItem: DatasetCheckItem = {
    id: 'count',
    ok: countOk,
    title: plural(count, 'image'),
    detail:
      count < MIN_DATASET_IMAGES
        ? `A training needs ${MIN_DATASET_IMAGES}–${MAX_DATASET_IMAGES} images: add ${plural(MIN_DATASET_IMAGES - count, 'more image')}.`
        : count > MAX_DATASET_IMAGES
          ? `A training takes at most ${MAX_DATASET_IMAGES} images: remove ${plural(count - MAX_DATASET_IMAGES, 'image')}.`
          : `Within ${MIN_DATASET_IMAGES}–${MAX_DATASET_IMAGES}.`,
  }

  const sized = images.filter((i): i is DatasetImage & { width: number; height: number } => Boolean(i.width && i.height))
  const smallest = sized.reduce<(typeof sized)[number] | null>(
    (min, i) => (!min || i.width * i.height < min.width * min.height ? i : min),
    null,
  )
  // The trainer upscales an image whose longest side is under the resolution: it comes out soft.
  const small = sized.filter((i) => Math.max(i.width, i.height) < resolutionPx)
  const resolutionItem: DatasetCheckItem = {
    id: 'resolution',
    ok: small.length === 0,
    title: smallest ? `Smallest image: ${smallest.width} × ${smallest.height} px (${smallest.name})` : 'No images yet',
    detail: small.length
      ? `${plural(small.length, 'image is', 'images are')} smaller than the training resolution of ${resolutionPx} px and will be upscaled.`
      : smallest
        ? `Every image is at least ${resolutionPx} px on its longest side.`
        : `Images should be at least ${resolutionPx} px on their longest side.`,
  }

  const firstByHash = new Map<string, DatasetImage>()
  const duplicateOf: Record<string, string> = {}
  for (const image of images) {
    if (!image.hash) continue
    const first = firstByHash.get(image.hash)
    if (first) duplicateOf[image.id] = first.name
    else firstByHash.set(image.hash, image)
  }
  const duplicateCount = Object.keys(duplicateOf).length
  const duplicatesItem: DatasetCheckItem = {
    id: 'duplicates',
    ok: duplicateCount === 0,
    title: duplicateCount ? plural(duplicateCount, 'duplicate') : 'No duplicates',
    detail: duplicateCount
      ? `The same picture twice teaches the model to copy it: delete the ${duplicateCount === 1 ? 'copy' : 'copies'} marked “Duplicate”.`
      : 'Every image is different.',
  }

  const uncaptioned = images.filter((i) => !hasCaption(i.text)).length
  const captionsItem: DatasetCheckItem = {
    id: 'captions',
    ok: uncaptioned === 0,
    title: uncaptioned ? `${plural(uncaptioned, 'image')} without a caption` : 'Every image has a caption',
    detail: uncaptioned
      ? 'Describe each image, or use “Prefix all with [trigger]” so each caption at least names the subject.'
      : 'Captions are written next to each image when the dataset is sent to the GPU.',
  }

  const items = [countItem, resolutionItem, duplicatesItem, captionsItem]
  return { ready: items.every((i) => i.ok), items, duplicateOf }
}
