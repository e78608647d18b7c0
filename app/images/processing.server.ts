// The sharp work on one uploaded file: check it by content (JPEG, PNG, WebP; no pixel bombs, no
// truncated data), rotate it by its EXIF orientation, strip its metadata, and make the three
// variants a training image has: the original, the training copy (longest side at most the
// training resolution) and a 256-px WebP thumbnail. Nothing here touches storage or the database,
// so the benchmark runs exactly this code in-process to compare with the HTTP route.
import path from 'node:path'
import sharp, { type Metadata, type Sharp } from 'sharp'
import { estimateDecodeBytes, withDecodeBudget } from './decode-budget.server'

/** A pixel bomb (a small file declaring huge dimensions) is refused before it is decoded. */
export const MAX_INPUT_PIXELS = 100_000_000
export const THUMBNAIL_SIZE_PX = 256
const JPEG_QUALITY = 92
const WEBP_QUALITY = 90
const THUMBNAIL_WEBP_QUALITY = 80

// libvips keeps decoded images in a cache meant for repeated operations on the same input; every
// upload is a different file, so the cache only adds memory (measured with `npm run bench`).
sharp.cache(false)

export const ACCEPTED_FORMATS = {
  jpeg: { mime: 'image/jpeg', ext: 'jpg' },
  png: { mime: 'image/png', ext: 'png' },
  webp: { mime: 'image/webp', ext: 'webp' },
} as const
export type AcceptedFormat = keyof typeof ACCEPTED_FORMATS

/** A file refused for what it is; the message is shown to the person beside the file name. */
export class ImageRefusedError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ImageRefusedError'
  }
}

export const imageMessages = {
  empty: 'The file is empty (0 bytes).',
  notAnImage: 'Not a JPEG, PNG or WebP image (the content was checked, not the name).',
  wrongFormat: (format: string) => `${format.toUpperCase()} images are not accepted: use JPEG, PNG or WebP.`,
  tooManyPixels: (width: number, height: number) =>
    `Too many pixels: ${width} × ${height} is over the limit of ${MAX_INPUT_PIXELS / 1_000_000} megapixels.`,
  damaged: 'The image is truncated or damaged and cannot be read.',
}

export type ProcessedImage = {
  format: AcceptedFormat
  mime: string
  ext: string
  /** size after EXIF rotation */
  width: number
  height: number
  original: { path: string; size: number }
  training: { data: Buffer; width: number; height: number }
  thumbnail: { data: Buffer }
}

function isAccepted(format: string | undefined): format is AcceptedFormat {
  return Boolean(format && Object.hasOwn(ACCEPTED_FORMATS, format))
}

function encode(image: Sharp, format: AcceptedFormat) {
  // Metadata (EXIF with GPS, camera serials, XMP) is dropped: sharp keeps none unless asked to.
  // No Huffman optimisation: it holds every DCT coefficient of the image until the end (~60 MB more
  // for 12 MP, measured with `npm run bench`) to make the file ~5% smaller; without it the encoder streams.
  if (format === 'jpeg') return image.jpeg({ quality: JPEG_QUALITY, optimiseCoding: false })
  if (format === 'png') return image.png()
  return image.webp({ quality: WEBP_QUALITY })
}

function open(input: string | Buffer) {
  // failOn 'error': a truncated or corrupt file stops here instead of becoming a grey half-image.
  return sharp(input, { failOn: 'error', limitInputPixels: MAX_INPUT_PIXELS, autoOrient: true })
}

function refusalFor(error: unknown, meta: { width: number; height: number }): ImageRefusedError {
  const message = error instanceof Error ? error.message : String(error)
  if (/pixel limit/i.test(message)) return new ImageRefusedError(imageMessages.tooManyPixels(meta.width, meta.height))
  return new ImageRefusedError(imageMessages.damaged)
}

/**
 * Checks `inputPath` and writes the original variant to `<outDir>/<name>.original`; the training
 * copy and the thumbnail are small and come back as buffers. Throws ImageRefusedError for a file
 * that is not an acceptable image; anything else thrown is a fault of ours.
 */
export async function processImageFile(
  inputPath: string,
  {
    resolutionPx,
    outDir,
    size,
    decodeBudget = true,
  }: {
    resolutionPx: number
    outDir: string
    size: number
    /** false only in the benchmark, to show what the memory budget costs in speed */
    decodeBudget?: boolean
  },
): Promise<ProcessedImage> {
  if (size === 0) throw new ImageRefusedError(imageMessages.empty)
  let meta: Metadata
  try {
    // Only the header is read here, so no pixel limit yet: the declared size goes into the message.
    meta = await sharp(inputPath, { limitInputPixels: false }).metadata()
  } catch {
    throw new ImageRefusedError(imageMessages.notAnImage)
  }
  if (!meta.format) throw new ImageRefusedError(imageMessages.notAnImage)
  if (!isAccepted(meta.format)) throw new ImageRefusedError(imageMessages.wrongFormat(meta.format))
  const format = meta.format
  const declared = { width: meta.width ?? 0, height: meta.height ?? 0 }
  if (declared.width * declared.height > MAX_INPUT_PIXELS) {
    throw new ImageRefusedError(imageMessages.tooManyPixels(declared.width, declared.height))
  }

  const originalPath = path.join(outDir, `${path.basename(inputPath)}.original`)
  const budget = estimateDecodeBytes({
    ...declared,
    channels: meta.channels,
    format,
    orientation: meta.orientation,
    isProgressive: meta.isProgressive,
  })
  const work = () => encodeVariants(inputPath, { format, declared, resolutionPx, originalPath })
  return decodeBudget ? withDecodeBudget(budget, work) : work()
}

async function encodeVariants(
  inputPath: string,
  {
    format,
    declared,
    resolutionPx,
    originalPath,
  }: { format: AcceptedFormat; declared: { width: number; height: number }; resolutionPx: number; originalPath: string },
): Promise<ProcessedImage> {
  try {
    const original = await encode(open(inputPath), format).toFile(originalPath)
    const training = await encode(
      open(inputPath).resize({ width: resolutionPx, height: resolutionPx, fit: 'inside', withoutEnlargement: true }),
      format,
    ).toBuffer({ resolveWithObject: true })
    // From the training copy, not the original: a 256-px image from ≤ 2 MP is quick.
    const thumbnail = await sharp(training.data)
      .resize({ width: THUMBNAIL_SIZE_PX, height: THUMBNAIL_SIZE_PX, fit: 'inside', withoutEnlargement: true })
      .webp({ quality: THUMBNAIL_WEBP_QUALITY })
      .toBuffer()
    return {
      format,
      ...ACCEPTED_FORMATS[format],
      width: original.width,
      height: original.height,
      original: { path: originalPath, size: original.size },
      training: { data: training.data, width: training.info.width, height: training.info.height },
      thumbnail: { data: thumbnail },
    }
  } catch (error) {
    // A system error (disk full, temp folder gone) is ours, not the file's.
    if (typeof (error as NodeJS.ErrnoException | null)?.code === 'string') throw error
    throw refusalFor(error, declared)
  }
}
