// Zip archives in an upload: an uploaded .zip (already on disk, see upload-stream.server.ts) is read
// entry by entry with yauzl, and each image entry is inflated to a temp file of its own and handed to
// the same pipeline as a single upload (pipeline.server.ts). A `.txt` entry beside an image of the
// same base name is its caption. Nothing in an archive is trusted: names, the sizes the headers
// declare, the compression, the kind of file. Every entry that is refused is refused by its name,
// with a sentence, and the good entries are kept.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { PassThrough } from 'node:stream'
import yauzl from 'yauzl'
import yazl from 'yazl'
import { CAPTION_MAX_CHARS } from '../trainings/dataset-check'
import { MAX_FILE_NAME_CHARS, sanitizeFileName } from './upload-stream.server'

/** How results name an entry: the archive, then the entry's path inside it. */
export const ARCHIVE_NAME_SEPARATOR = ' › '
/**
 * Entries read from one archive, folders and skipped OS files included. A dataset has at most a few
 * hundred images and as many captions; past this the archive is not a dataset (and each entry costs
 * a read of the central directory).
 */
export const MAX_ARCHIVE_ENTRIES = 2_000
/**
 * An entry may inflate to at most this many times its compressed size once it is past
 * RATIO_FREE_BYTES. Photos are already compressed (JPEG, PNG and WebP deflate by a few per cent);
 * a ratio of 100 is only reached by runs of zeros, which is what a zip bomb is made of.
 */
export const MAX_COMPRESSION_RATIO = 100
/** Below this an entry may compress as well as it likes: a flat test image, a short caption. */
export const RATIO_FREE_BYTES = 1024 * 1024
/** A caption is read whole into memory: at most CAPTION_MAX_CHARS of 4-byte UTF-8 and a BOM. */
const CAPTION_MAX_BYTES = CAPTION_MAX_CHARS * 4 + 3
const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp'])
const ARCHIVE_EXTENSIONS = new Set([
  '.zip',
  '.zipx',
  '.tar',
  '.tgz',
  '.tbz',
  '.tbz2',
  '.txz',
  '.gz',
  '.bz2',
  '.xz',
  '.zst',
  '.lz',
  '.lzma',
  '.7z',
  '.rar',
  '.cab',
  '.jar',
  '.war',
  '.apk',
  '.iso',
  '.dmg',
  '.arj',
  '.lzh',
  '.z',
])
/** Files an operating system adds to folders it zips: noise, not refusals worth reading. */
const OS_FILE_NAMES = new Set(['.ds_store', 'thumbs.db', 'desktop.ini', 'ehthumbs.db'])
const OS_FOLDER_NAMES = new Set(['__macosx', '.spotlight-v100', '.trashes', '.fseventsd'])

export const zipMessages = {
  unsafeName:
    'Refused for its name: it is absolute or climbs out of the archive’s folder (/, C:, ../ or a backslash), so it was not unpacked.',
  encrypted: 'Encrypted (password-protected): it cannot be read. Zip the images again without a password.',
  nested: 'An archive inside the archive: archives are not opened inside each other. Upload it as its own .zip.',
  notImageByName:
    'Not an image by its name: an archive may hold JPEG, PNG and WebP images (.jpg, .jpeg, .png, .webp) and .txt captions.',
  tooLarge: (maxMb: number) => `Unpacks to more than the limit of ${maxMb} MB per file, so it was not unpacked.`,
  bomb: `Compressed more than ${MAX_COMPRESSION_RATIO} to 1, as a zip bomb is: refused without unpacking it.`,
  damaged: 'Damaged in the archive: it could not be unpacked.',
  orphanCaption: 'A caption with no image of the same name in the same folder of the archive.',
  captionNotUsed: (name: string, why: string) => `The caption ${name} was not used: ${why}`,
  captionTooLong: `it is longer than ${CAPTION_MAX_CHARS.toLocaleString('en-US')} characters.`,
  captionNotUtf8: 'it is not UTF-8 text.',
  notAZip: 'Not a readable zip archive: it is truncated or damaged, or not a zip file. Nothing in it was read.',
  brokenAfter: (taken: number) =>
    `The archive is damaged after some point: the entries after it could not be read. ${taken === 1 ? '1 image' : `${taken} images`} from before it ${taken === 1 ? 'was' : 'were'} kept.`,
  tooManyEntries: `The archive has more than ${MAX_ARCHIVE_ENTRIES.toLocaleString('en-US')} entries: the rest were not read.`,
  overTotal: (maxMb: number) =>
    `The archive unpacks to more than the upload limit of ${maxMb.toLocaleString('en-US')} MB: this entry and the rest were not unpacked.`,
  canceled: 'The upload was canceled while the archive was being unpacked: the rest was not read.',
}

/** An image entry inflated to disk, for the pipeline. */
export type ArchiveImage = {
  /** `archive.zip › folder/photo.jpg` */
  name: string
  /** `photo.jpg`: the image's own name, as a single upload of it would have */
  storedName: string
  path: string
  size: number
  /** SHA-256, hex, of the inflated bytes */
  hash: string
}

/** What the pipeline answers for an image; the archive code only reads `ok`, `image.id` and `warnings`. */
export type ArchiveEntryResult =
  | { name: string; ok: true; image: { id: string; caption: string | null }; warnings: string[] }
  | { name: string; ok: false; error: string }

type Slot<R> = { kind: 'result'; result: R } | { kind: 'caption'; name: string; key: string }

class EntryLimitError extends Error {
  constructor(readonly reason: 'tooLarge' | 'bomb' | 'overTotal') {
    super(reason)
  }
}

/** The name as shown: no control characters, at most MAX_FILE_NAME_CHARS. */
function displayName(raw: string) {
  // eslint-disable-next-line no-control-regex
  return Array.from(raw.replace(/[\u0000-\u001f\u007f-\u009f]/g, ''))
    .slice(0, MAX_FILE_NAME_CHARS)
    .join('')
}

/**
 * Why an entry's name is unsafe to unpack, or null. We never write entries under their own names
 * (each goes to a numbered temp file), but a name that tries to climb out says the archive was made
 * to attack an unpacker, and it is refused by name so the person sees it.
 */
export function isUnsafeEntryName(name: string) {
  return (
    name.includes('\\') ||
    name.startsWith('/') ||
    /^[A-Za-z]:/.test(name) ||
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f]/.test(name) ||
    name.split('/').some((segment) => segment === '..') ||
    yauzl.validateFileName(name) !== null
  )
}

function isOsNoise(name: string) {
  const segments = name.toLowerCase().split('/')
  const base = segments.at(-1) ?? ''
  return segments.slice(0, -1).some((s) => OS_FOLDER_NAMES.has(s)) || OS_FILE_NAMES.has(base) || base.startsWith('._')
}

/** The archive formats' first bytes (tar's "ustar" sits at offset 257). */
export function looksLikeArchive(head: Buffer) {
  const starts = (...bytes: number[]) => bytes.every((b, i) => head[i] === b)
  return (
    starts(0x50, 0x4b, 0x03, 0x04) || // zip
    starts(0x50, 0x4b, 0x05, 0x06) || // empty zip
    starts(0x1f, 0x8b) || // gzip
    starts(0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c) || // 7z
    starts(0x52, 0x61, 0x72, 0x21, 0x1a, 0x07) || // rar
    starts(0x42, 0x5a, 0x68) || // bzip2
    starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00) || // xz
    starts(0x28, 0xb5, 0x2f, 0xfd) || // zstd
    starts(0x4d, 0x53, 0x43, 0x46) || // cab
    head.subarray(257, 262).toString('latin1') === 'ustar'
  )
}

async function readHead(filePath: string, bytes: number) {
  const handle = await fs.promises.open(filePath, 'r')
  try {
    const buffer = Buffer.alloc(bytes)
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0)
    return buffer.subarray(0, bytesRead)
  } finally {
    await handle.close()
  }
}

function openZip(filePath: string) {
  return new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(
      filePath,
      // decodeStrings off: with it on, yauzl stops the whole archive at the first unsafe name; we
      // refuse that one entry by name and read on. validateEntrySizes: an entry that inflates to more
      // (or less) than its header said is an error, not a surprise.
      { lazyEntries: true, validateEntrySizes: true, decodeStrings: false, autoClose: false },
      (error, zip) => (error || !zip ? reject(error ?? new Error('no zip')) : resolve(zip)),
    ),
  )
}

/** The next entry, or null at the end; rejects when the central directory is damaged. */
function nextEntry(zip: yauzl.ZipFile) {
  return new Promise<yauzl.Entry | null>((resolve, reject) => {
    const done = () => {
      zip.off('entry', onEntry)
      zip.off('end', onEnd)
      zip.off('error', onError)
    }
    const onEntry = (entry: yauzl.Entry) => (done(), resolve(entry))
    const onEnd = () => (done(), resolve(null))
    const onError = (error: Error) => (done(), reject(error))
    zip.on('entry', onEntry)
    zip.on('end', onEnd)
    zip.on('error', onError)
    zip.readEntry()
  })
}

function openEntry(zip: yauzl.ZipFile, entry: yauzl.Entry) {
  return new Promise<NodeJS.ReadableStream>((resolve, reject) =>
    zip.openReadStream(entry, (error, stream) => (error || !stream ? reject(error ?? new Error('no stream')) : resolve(stream))),
  )
}

/**
 * Inflates one entry through `sink`, counting the bytes that really come out (the header's sizes
 * are only a first check) and stopping the inflation the moment they pass `limitBytes`.
 */
async function inflate(
  zip: yauzl.ZipFile,
  entry: yauzl.Entry,
  limit: { bytes: number; reason: EntryLimitError['reason'] },
  sink: NodeJS.WritableStream,
) {
  const hash = crypto.createHash('sha256')
  let size = 0
  const counter = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      size += chunk.length
      if (size > limit.bytes) return callback(new EntryLimitError(limit.reason))
      hash.update(chunk)
      callback(null, chunk)
    },
  })
  await pipeline(await openEntry(zip, entry), counter, sink)
  return { size, hash: hash.digest('hex') }
}

/** Collects a caption's bytes in memory (they are at most CAPTION_MAX_BYTES). */
function collector() {
  const chunks: Buffer[] = []
  const sink = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      chunks.push(chunk)
      callback()
    },
  })
  sink.resume()
  return { sink, bytes: () => Buffer.concat(chunks) }
}

/** The caption's text, or why it cannot be used. */
export function decodeCaption(bytes: Buffer): { text: string } | { error: string } {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes)
  } catch {
    return { error: zipMessages.captionNotUtf8 }
  }
  text = text.trim()
  if (Array.from(text).length > CAPTION_MAX_CHARS) return { error: zipMessages.captionTooLong }
  return { text }
}

/**
 * Reads the archive at `archive.path` and returns one result per entry, in the archive's order:
 * the pipeline's result for each image (from `storeImage`), a refusal for each entry refused, and,
 * when the archive itself could not be read to its end, one result named after the archive saying
 * why. Folders and OS files (__MACOSX/, .DS_Store, Thumbs.db, ._*) are skipped without a result.
 * Temp files are written in `dir` and removed before this returns, whatever happens.
 */
export async function readArchive<R extends ArchiveEntryResult>(
  archive: { name: string; path: string },
  {
    dir,
    maxEntryBytes,
    maxEntryMb,
    maxTotalBytes,
    signal,
    storeImage,
    setCaption,
  }: {
    dir: string
    /** the per-file limit of single uploads */
    maxEntryBytes: number
    maxEntryMb: number
    /** what all entries together may inflate to: the upload's total limit */
    maxTotalBytes: number
    /** the request's: a canceled upload stops unpacking */
    signal?: AbortSignal
    /** runs the image through the pipeline; its temp file is removed afterwards either way */
    storeImage: (image: ArchiveImage) => Promise<R>
    setCaption: (imageId: string, text: string) => Promise<void>
  },
): Promise<Array<R | { name: string; ok: false; error: string }>> {
  type Refusal = { name: string; ok: false; error: string }
  const slots: Array<Slot<R | Refusal>> = []
  const refuse = (name: string, error: string) => slots.push({ kind: 'result', result: { name, ok: false, error } })
  const entryName = (raw: string) => `${archive.name}${ARCHIVE_NAME_SEPARATOR}${displayName(raw)}`
  /** images stored, by their path without the extension: where their caption would be */
  const images = new Map<string, R[]>()
  const captions = new Map<string, { name: string; text: string } | { name: string; error: string }>()

  let zip: yauzl.ZipFile
  try {
    zip = await openZip(archive.path)
  } catch {
    return [{ name: archive.name, ok: false, error: zipMessages.notAZip }]
  }
  let inflatedTotal = 0
  let stopped: string | null = null
  const entryDir = await fs.promises.mkdtemp(path.join(dir, 'archive-'))
  try {
    for (let read = 0; ; read++) {
      if (signal?.aborted) {
        stopped = zipMessages.canceled
        break
      }
      let entry: yauzl.Entry | null
      try {
        entry = await nextEntry(zip)
      } catch {
        const taken = slots.filter((s) => s.kind === 'result' && s.result.ok).length
        stopped = zipMessages.brokenAfter(taken)
        break
      }
      if (!entry) break
      if (read >= MAX_ARCHIVE_ENTRIES) {
        stopped = zipMessages.tooManyEntries
        break
      }
      // decodeStrings is off: the name is the raw bytes (see openZip). Backslashes are kept (strict),
      // so that they can be refused.
      const raw = yauzl.getFileNameLowLevel(
        entry.generalPurposeBitFlag,
        entry.fileName as unknown as Buffer,
        entry.extraFields,
        true,
      )
      const name = entryName(raw)
      if (isUnsafeEntryName(raw)) {
        refuse(name, zipMessages.unsafeName)
        continue
      }
      if (raw.endsWith('/') || isOsNoise(raw)) continue
      const ext = path.posix.extname(raw).toLowerCase()
      const key = raw.slice(0, raw.length - ext.length)
      if (ARCHIVE_EXTENSIONS.has(ext)) {
        refuse(name, zipMessages.nested)
        continue
      }
      const isCaption = ext === '.txt'
      if (!isCaption && !IMAGE_EXTENSIONS.has(ext)) {
        refuse(name, zipMessages.notImageByName)
        continue
      }
      if (entry.isEncrypted()) {
        if (isCaption) captions.set(key, { name: path.posix.basename(raw), error: zipMessages.encrypted })
        else refuse(name, zipMessages.encrypted)
        continue
      }

      // The header's sizes first (cheap), then the bytes that really come out.
      const maxBytes = isCaption ? CAPTION_MAX_BYTES : maxEntryBytes
      const ratioBytes = Math.max(RATIO_FREE_BYTES, entry.compressedSize * MAX_COMPRESSION_RATIO)
      const totalLeft = maxTotalBytes - inflatedTotal
      const limit =
        totalLeft < Math.min(maxBytes, ratioBytes)
          ? { bytes: totalLeft, reason: 'overTotal' as const }
          : ratioBytes < maxBytes
            ? { bytes: ratioBytes, reason: 'bomb' as const }
            : { bytes: maxBytes, reason: 'tooLarge' as const }
      const failure = (error: unknown) => {
        if (!(error instanceof EntryLimitError)) return zipMessages.damaged
        if (error.reason === 'overTotal') return zipMessages.overTotal(Math.floor(maxTotalBytes / (1024 * 1024)))
        if (error.reason === 'bomb') return zipMessages.bomb
        return isCaption ? zipMessages.captionTooLong : zipMessages.tooLarge(maxEntryMb)
      }
      const declaredOver = entry.uncompressedSize > limit.bytes ? new EntryLimitError(limit.reason) : null

      if (isCaption) {
        const caption = { name: path.posix.basename(raw) }
        slots.push({ kind: 'caption', name, key })
        if (declaredOver) {
          captions.set(key, { ...caption, error: failure(declaredOver) })
          continue
        }
        const { sink, bytes } = collector()
        try {
          const { size } = await inflate(zip, entry, limit, sink)
          inflatedTotal += size
          captions.set(key, { ...caption, ...decodeCaption(bytes()) })
        } catch (error) {
          captions.set(key, { ...caption, error: failure(error) })
        }
        continue
      }

      if (declaredOver) {
        refuse(name, failure(declaredOver))
        if (declaredOver.reason === 'overTotal') {
          stopped = ''
          break
        }
        continue
      }
      const filePath = path.join(entryDir, `${read}.entry`)
      try {
        let inflated: { size: number; hash: string }
        try {
          inflated = await inflate(zip, entry, limit, fs.createWriteStream(filePath))
        } catch (error) {
          refuse(name, failure(error))
          if (error instanceof EntryLimitError && error.reason === 'overTotal') {
            stopped = ''
            break
          }
          continue
        }
        inflatedTotal += inflated.size
        if (looksLikeArchive(await readHead(filePath, 262))) {
          refuse(name, zipMessages.nested)
          continue
        }
        const result = await storeImage({ name, storedName: sanitizeFileName(raw), path: filePath, ...inflated })
        slots.push({ kind: 'result', result })
        if (result.ok) images.set(key, [...(images.get(key) ?? []), result])
      } finally {
        await fs.promises.rm(filePath, { force: true })
      }
    }

    // Captions last: the .txt may come before or after its image in the archive.
    for (const [key, caption] of captions) {
      const owners = images.get(key)
      if (!owners) continue
      for (const owner of owners) {
        if (!owner.ok) continue
        if ('error' in caption) {
          owner.warnings.push(zipMessages.captionNotUsed(caption.name, caption.error))
        } else if (caption.text) {
          try {
            await setCaption(owner.image.id, caption.text)
            owner.image.caption = caption.text
          } catch (error) {
            // The image was deleted meanwhile, or the database failed: the image's own result stands.
            console.error(`Could not save the caption ${caption.name} of ${owner.name}`, error)
            owner.warnings.push(zipMessages.captionNotUsed(caption.name, 'it could not be saved. Add it on the image.'))
          }
        }
      }
    }
  } finally {
    zip.close()
    await fs.promises.rm(entryDir, { recursive: true, force: true })
  }

  const results: Array<R | Refusal> = []
  for (const slot of slots) {
    if (slot.kind === 'result') results.push(slot.result)
    // A caption whose image was refused says nothing more: the image's refusal is the news.
    else if (!hasImageEntry(slot.key, slots, archive.name))
      results.push({ name: slot.name, ok: false, error: zipMessages.orphanCaption })
  }
  if (stopped) results.push({ name: archive.name, ok: false, error: stopped })
  return results
}

/** Whether any image entry (stored or refused) has this path without its extension. */
function hasImageEntry<R extends ArchiveEntryResult>(key: string, slots: Array<Slot<R>>, archiveName: string) {
  const prefix = `${archiveName}${ARCHIVE_NAME_SEPARATOR}`
  return slots.some((slot) => {
    if (slot.kind !== 'result') return false
    const entry = slot.result.name.slice(prefix.length)
    const ext = path.posix.extname(entry).toLowerCase()
    return IMAGE_EXTENSIONS.has(ext) && displayName(key) === entry.slice(0, entry.length - ext.length)
  })
}

/** A file name made of safe characters, as the GPU agent makes them (scripts/agent/trainyard_agent.py safe_name). */
function safeName(text: string, limit = 60) {
  const name = text
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[._]+|[._]+$/g, '')
    .slice(0, limit)
  return name || 'x'
}

/** ai-toolkit's `num_repeats` of the training's first dataset (1 when unset): kohya reads it from the folder name. */
export function datasetRepeats(configText: string) {
  try {
    const config = JSON.parse(configText) as { config?: { process?: Array<{ datasets?: Array<{ num_repeats?: unknown }> }> } }
    const repeats = config.config?.process?.[0]?.datasets?.[0]?.num_repeats
    return typeof repeats === 'number' && Number.isInteger(repeats) && repeats >= 1 ? repeats : 1
  } catch {
    return 1
  }
}

export type DatasetZipImage = { key: string; name: string; text: string | null }

/**
 * The entries of a training's dataset zip, in the layout both trainers read:
 *
 *   <repeats>_<trigger word>/001_<name>.jpg   the training copy (what the GPU machine downloads)
 *   <repeats>_<trigger word>/001_<name>.txt   its caption, `[trigger]` written out; only when it has one
 *
 * kohya's train_data_dir is the zip's root (it reads the repeats from the folder's name, and the
 * folder's name is the caption of an image without a .txt); ai-toolkit's folder_path is the folder
 * (it pairs each image with the .txt of the same name). The numbered names are those the GPU agent
 * gives the files, so they are unique whatever the uploads were called, and keep the dataset's order.
 */
export function datasetZipEntries(images: DatasetZipImage[], { triggerWord, repeats }: { triggerWord: string; repeats: number }) {
  const folder = `${repeats}_${safeName(triggerWord)}`
  const digits = Math.max(3, String(images.length).length)
  return images.flatMap((image, i) => {
    const stem = `${folder}/${String(i + 1).padStart(digits, '0')}_${safeName(path.posix.parse(image.name).name)}`
    const ext = path.posix.extname(image.key).toLowerCase() || '.jpg'
    // The same replacement as the agent's: the file holds what the machine trains on, and kohya
    // does not know the token.
    const caption = (image.text ?? '').replaceAll('[trigger]', triggerWord).trim()
    return [
      { kind: 'image' as const, path: `${stem}${ext}`, key: image.key },
      ...(caption ? [{ kind: 'caption' as const, path: `${stem}.txt`, text: caption }] : []),
    ]
  })
}

/**
 * Streams the dataset as a zip: one storage object is open at a time (yazl asks for the next when
 * the previous is written), so neither the zip nor the images are ever held whole in memory. A
 * storage failure midway breaks the stream (the download fails) rather than ending a zip that
 * silently lacks images.
 */
export function streamDatasetZip(
  images: DatasetZipImage[],
  options: { triggerWord: string; repeats: number; getObject: (key: string) => Promise<NodeJS.ReadableStream | null> },
) {
  const zip = new yazl.ZipFile()
  const mtime = new Date()
  for (const entry of datasetZipEntries(images, options)) {
    if (entry.kind === 'caption') {
      zip.addBuffer(Buffer.from(entry.text, 'utf8'), entry.path, { mtime })
      continue
    }
    // JPEG, PNG and WebP are compressed already: deflating them again costs CPU and saves nothing.
    zip.addReadStreamLazy(entry.path, { mtime, compress: false }, (callback) => {
      options.getObject(entry.key).then(
        (body) =>
          body ? callback(null, body) : callback(new Error(`The image ${entry.key} is missing from storage.`), null as never),
        (error: Error) => callback(error, null as never),
      )
    })
  }
  zip.end()
  const output = zip.outputStream as PassThrough
  zip.on('error', (error: Error) => output.destroy(error))
  return output
}
