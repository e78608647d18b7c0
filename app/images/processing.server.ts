// The sharp work on one uploaded file: check it by content (JPEG, PNG, WebP; no pixel bombs, no
// truncated data), rotate it by its EXIF orientation, strip its metadata, and make the three
// variants a training image has: the original, the training copy (longest side at most the
// training resolution) and a 256-px WebP thumbnail. Nothing here touches storage or the database,
// so the benchmark runs exactly this code in-process to compare with the HTTP route.
import fs from 'node:fs'
import path from 'node:path'
import sharp, { type Metadata, type Sharp } from 'sharp'
import { estimateDecodeBytes, withDecodeBudget } from './decode-budget.server'

// Pixel limits, checked on the dimensions the header declares, before anything is decoded and
// whatever the file's size (a few hundred bytes can declare 100 MP). Training copies are at most
// 1024–2048 px on the long side (1–4 MP), so these leave a wide margin for cropping while refusing
// images far larger than training can use. Two limits, because formats differ in what a large
// image costs to decode, and the original is always decoded at full size.
/**
 * JPEG: what cameras and phones write, up to the full-resolution photos of 48–50 MP sensors
 * (8160 × 6120 = 49.9 MP). libjpeg decodes a baseline JPEG row by row (~24 MB whatever its size)
 * and shrinks it while decoding (by 2, 4 or 8) for the training copy. A rotated or progressive one
 * is held whole (~165 MB at 50 MP): it is then bigger than the decode budget and runs alone.
 */
export const JPEG_MAX_PIXELS = 50_000_000
/**
 * PNG and WebP: libvips decodes a WebP whole (3–4 bytes a pixel) before anything else runs, as it
 * does an interlaced PNG; and a flat image compresses a thousandfold in both (a 38-byte WebP decodes
 * to 100 MP), so the file-size limit does not bound them. A lossless photo over 16 MP is over the
 * file-size limit (25 MB by default) anyway. 16 MP (4000 × 4000) is four times a 2048-px training
 * copy and costs at most the whole decode budget (80 MB with alpha); a 100-MP WebP took 660 MB and
 * seconds.
 */
export const WHOLE_DECODE_MAX_PIXELS = 16_000_000
/** Above every per-format limit: sharp stops a decode that somehow gets past the header check. */
const DECODER_MAX_PIXELS = Math.max(JPEG_MAX_PIXELS, WHOLE_DECODE_MAX_PIXELS)
export const THUMBNAIL_SIZE_PX = 256
const JPEG_QUALITY = 92
const WEBP_QUALITY = 90
const THUMBNAIL_WEBP_QUALITY = 80

// libvips keeps decoded images in a cache meant for repeated operations on the same input; every
// upload is a different file, so the cache only adds memory (measured with `npm run bench`).
sharp.cache(false)

export const ACCEPTED_FORMATS = {
  jpeg: { mime: 'image/jpeg', ext: 'jpg', label: 'JPEG', maxPixels: JPEG_MAX_PIXELS },
  png: { mime: 'image/png', ext: 'png', label: 'PNG', maxPixels: WHOLE_DECODE_MAX_PIXELS },
  webp: { mime: 'image/webp', ext: 'webp', label: 'WebP', maxPixels: WHOLE_DECODE_MAX_PIXELS },
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
  tooManyPixels: (name: string, format: AcceptedFormat, width: number, height: number) => {
    const { label, maxPixels } = ACCEPTED_FORMATS[format]
    return (
      `${name} is ${width}×${height} (${megapixels(width * height, 'up')} MP); the largest ${label} accepted is ` +
      `${megapixels(maxPixels, 'down')} MP — scale it down to at most ${largestLongSide(width, height, maxPixels)} px on the long side.`
    )
  },
  damaged: 'The image is truncated or damaged and cannot be read.',
}

/** Megapixels with at most one decimal, rounded so that an image over a limit never reads as equal to it. */
function megapixels(pixels: number, round: 'up' | 'down') {
  const tenths = (round === 'up' ? Math.ceil : Math.floor)(pixels / 100_000)
  return String(tenths / 10)
}

/** The longest side the image can keep, at its own aspect ratio, to have at most `maxPixels`. */
export function largestLongSide(width: number, height: number, maxPixels: number) {
  const long = Math.max(width, height, 1)
  const short = Math.max(Math.min(width, height), 1)
  // The short side is rounded when resized, which can let a pixel or two more fit than the square
  // root says: start just above it and step down until the rounded size fits.
  let side = Math.floor(Math.sqrt((maxPixels * long) / short)) + 3
  while (side > 1 && side * Math.max(1, Math.round((side * short) / long)) > maxPixels) side--
  return Math.min(side, long)
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

/**
 * libjpeg only warns when the compressed data ends before the image does, and fills the rest with
 * grey: a 265-byte JPEG declaring 10000×10000 decoded "fine" into a 1.5 MB original. Such a file is
 * damaged, whatever it declares.
 */
const DATA_ENDED_EARLY = /premature end/i

/** A decoder's warnings that mean the file is damaged; the others (stray bytes, say) are let pass. */
class DecodeWarnings {
  private damaged = false
  watch(image: Sharp) {
    image.on('warning', (warning: string) => {
      if (DATA_ENDED_EARLY.test(warning)) this.damaged = true
    })
    return image
  }
  check() {
    if (this.damaged) throw new ImageRefusedError(imageMessages.damaged)
  }
}

function open(input: string | Buffer, warnings: DecodeWarnings) {
  // failOn 'error', not sharp's default 'warning': real photos carry harmless libjpeg warnings
  // (stray bytes before a marker); the one warning that means damage is caught by DecodeWarnings.
  // A corrupt file stops here instead of becoming a grey half-image.
  return warnings.watch(sharp(input, { failOn: 'error', limitInputPixels: DECODER_MAX_PIXELS, autoOrient: true }))
}

function refusalFor(error: unknown, meta: { name: string; format: AcceptedFormat; width: number; height: number }) {
  if (error instanceof ImageRefusedError) return error
  const message = error instanceof Error ? error.message : String(error)
  if (/pixel limit/i.test(message))
    return new ImageRefusedError(imageMessages.tooManyPixels(meta.name, meta.format, meta.width, meta.height))
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
    ownerId,
    name = path.basename(inputPath),
    decodeBudget = true,
  }: {
    resolutionPx: number
    outDir: string
    size: number
    /** who uploads it: the decode budget takes turns between owners */
    ownerId: string
    /** the file's name as shown to the person, for messages that name it */
    name?: string
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
  if (declared.width * declared.height > ACCEPTED_FORMATS[format].maxPixels) {
    throw new ImageRefusedError(imageMessages.tooManyPixels(name, format, declared.width, declared.height))
  }

  const originalPath = path.join(outDir, `${path.basename(inputPath)}.original`)
  const budget = estimateDecodeBytes({
    ...declared,
    channels: meta.channels,
    format,
    orientation: meta.orientation,
    isProgressive: meta.isProgressive,
  })
  const work = () => encodeVariants(inputPath, { name, format, declared, resolutionPx, originalPath })
  return decodeBudget ? withDecodeBudget(ownerId, budget, work) : work()
}

async function encodeVariants(
  inputPath: string,
  {
    name,
    format,
    declared,
    resolutionPx,
    originalPath,
  }: {
    name: string
    format: AcceptedFormat
    declared: { width: number; height: number }
    resolutionPx: number
    originalPath: string
  },
): Promise<ProcessedImage> {
  const warnings = new DecodeWarnings()
  try {
    const original = await encode(open(inputPath, warnings), format).toFile(originalPath)
    // Before the training copy: a damaged file costs no second decode.
    warnings.check()
    const training = await encode(
      open(inputPath, warnings).resize({ width: resolutionPx, height: resolutionPx, fit: 'inside', withoutEnlargement: true }),
      format,
    ).toBuffer({ resolveWithObject: true })
    // From the training copy, not the original: a 256-px image from ≤ 2 MP is quick.
    const thumbnail = await sharp(training.data)
      .resize({ width: THUMBNAIL_SIZE_PX, height: THUMBNAIL_SIZE_PX, fit: 'inside', withoutEnlargement: true })
      .webp({ quality: THUMBNAIL_WEBP_QUALITY })
      .toBuffer()
    return {
      format,
      mime: ACCEPTED_FORMATS[format].mime,
      ext: ACCEPTED_FORMATS[format].ext,
      width: original.width,
      height: original.height,
      original: { path: originalPath, size: original.size },
      training: { data: training.data, width: training.info.width, height: training.info.height },
      thumbnail: { data: thumbnail },
    }
  } catch (error) {
    // A system error (disk full, temp folder gone) is ours, not the file's.
    if (typeof (error as NodeJS.ErrnoException | null)?.code === 'string') throw error
    await fs.promises.rm(originalPath, { force: true })
    throw refusalFor(error, { name, format, ...declared })
  }
}
