// The dataset check of a training, shared by the server and the browser: what stops a run (a blocker,
// worded as the action that clears it) and what is only advice (the run can go ahead). Pure (no I/O)
// so the Images tab, the run start and the tests all judge a dataset the same way.
//
// Uploads the pipeline refuses (not an image, unreadable, too large) never become rows: the grid, this
// check and the job only ever see images that were processed. So "none left after refusals" is the
// empty dataset, worded for someone whose files were all refused.
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

/** blocker: no run until it is fixed; advice: worth a look, the run can go ahead; ok: nothing to do. */
export type DatasetCheckLevel = 'ok' | 'advice' | 'blocker'

export type DatasetCheckItem = {
  id: 'count' | 'resolution' | 'duplicates' | 'captions'
  level: DatasetCheckLevel
  /** false only for a blocker: `ok` means "does not stop a run" (startRun and the Runs tab read it). */
  ok: boolean
  /** For a blocker, the action that clears it ("Add 2 more images"). */
  title: string
  detail: string
}

export type DatasetCheck = {
  /** No blockers: Start may be offered (advice does not count). */
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

/**
 * Smaller than the training resolution on its longest side. ai-toolkit does not upscale such an image:
 * its bucket (toolkit/buckets.py get_bucket_for_image_size) keeps the image's own pixel count when that
 * is under resolution², so it is trained at its own, lower size. Our default config never sets
 * square_crop (the one mode that scales up).
 */
export function isSmallImage(image: Pick<DatasetImage, 'width' | 'height'>, resolutionPx: number) {
  return Boolean(image.width && image.height && Math.max(image.width, image.height) < resolutionPx)
}

function item(id: DatasetCheckItem['id'], level: DatasetCheckLevel, title: string, detail: string): DatasetCheckItem {
  return { id, level, ok: level !== 'blocker', title, detail }
}

/** `images` in upload order (oldest first): the later copy of a duplicate is the one flagged. */
export function checkDataset(images: DatasetImage[], { resolutionPx }: { resolutionPx: number }): DatasetCheck {
  const count = images.length
  const range = `${MIN_DATASET_IMAGES}–${MAX_DATASET_IMAGES}`
  const countItem =
    count === 0
      ? item(
          'count',
          'blocker',
          `Add ${plural(MIN_DATASET_IMAGES, 'image')}`,
          `A training needs ${range} images: add ${plural(MIN_DATASET_IMAGES, 'more image')}. Only JPEG, PNG and WebP photos are kept; a refused file is named in the upload list.`,
        )
      : count < MIN_DATASET_IMAGES
        ? item(
            'count',
            'blocker',
            `Add ${plural(MIN_DATASET_IMAGES - count, 'more image')}`,
            `A training needs ${range} images: add ${plural(MIN_DATASET_IMAGES - count, 'more image')}.`,
          )
        : count > MAX_DATASET_IMAGES
          ? item(
              'count',
              'blocker',
              `Remove ${plural(count - MAX_DATASET_IMAGES, 'image')}`,
              `A training takes at most ${MAX_DATASET_IMAGES} images: remove ${plural(count - MAX_DATASET_IMAGES, 'image')}.`,
            )
          : item('count', 'ok', plural(count, 'image'), `Within ${range}.`)

  const sized = images.filter((i): i is DatasetImage & { width: number; height: number } => Boolean(i.width && i.height))
  const smallest = sized.reduce<(typeof sized)[number] | null>(
    (min, i) => (!min || i.width * i.height < min.width * min.height ? i : min),
    null,
  )
  const small = sized.filter((i) => isSmallImage(i, resolutionPx))
  const resolutionItem = item(
    'resolution',
    small.length ? 'advice' : 'ok',
    smallest ? `Smallest image: ${smallest.width} × ${smallest.height} px (${smallest.name})` : 'No images yet',
    small.length
      ? `${plural(small.length, 'image is', 'images are')} smaller than the training resolution of ${resolutionPx} px: the trainer uses ${small.length === 1 ? 'it at its own size' : 'them at their own size'} (it does not upscale), so ${small.length === 1 ? 'it teaches' : 'they teach'} less fine detail. The run can go ahead.`
      : smallest
        ? `Every image is at least ${resolutionPx} px on its longest side.`
        : `Images should be at least ${resolutionPx} px on their longest side.`,
  )

  const firstByHash = new Map<string, DatasetImage>()
  const duplicateOf: Record<string, string> = {}
  for (const image of images) {
    if (!image.hash) continue
    const first = firstByHash.get(image.hash)
    if (first) duplicateOf[image.id] = first.name
    else firstByHash.set(image.hash, image)
  }
  const duplicateCount = Object.keys(duplicateOf).length
  const duplicatesItem = duplicateCount
    ? item(
        'duplicates',
        'advice',
        plural(duplicateCount, 'duplicate'),
        `The same picture twice teaches the model to copy it: consider deleting the ${duplicateCount === 1 ? 'copy' : 'copies'} marked “Duplicate”. The run can go ahead.`,
      )
    : item('duplicates', 'ok', 'No duplicates', 'Every image is different.')

  const uncaptioned = images.filter((i) => !hasCaption(i.text)).length
  const captionsItem = uncaptioned
    ? item(
        'captions',
        'advice',
        `${plural(uncaptioned, 'image')} without a caption`,
        `An image without a caption is trained with the trigger word alone. Describe each image, or use “Prefix all with ${TRIGGER_TOKEN}”. The run can go ahead.`,
      )
    : item(
        'captions',
        'ok',
        'Every image has a caption',
        'Captions are written next to each image when the dataset is sent to the GPU.',
      )

  const items = [countItem, resolutionItem, duplicatesItem, captionsItem]
  return { ready: items.every((i) => i.ok), items, duplicateOf }
}
