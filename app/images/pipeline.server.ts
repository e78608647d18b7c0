// The images of a training, from an upload to stored objects and rows, and back out again:
//   multipart stream → temp files (upload-stream.server.ts) → sharp (image-processing.server.ts)
//   → three storage objects → one TrainingImage row.
// Invariants: a row never points at a missing object (objects are written before the row, and
// deleted after it), and a file that fails leaves neither a row nor an object behind.
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { prisma } from '../utils/db.server'
import { countOf } from '../utils/format'
import { getEnv } from '../utils/env.server'
import { ImageRefusedError, processImageFile, type ProcessedImage } from './processing.server'
import { imageKey } from '../storage/keys'
import { getStorage } from '../storage/storage.server'
import { readKnobs } from '../trainings/knobs'
import { readArchive, type ArchiveImage } from './zip.server'
import {
  MAX_PARTS_PER_REQUEST,
  receiveFiles,
  UploadRequestError,
  uploadMessages,
  type ReceivedFile,
} from './upload-stream.server'

/** ai-toolkit's usual largest bucket, for a config that names none. */
export const DEFAULT_RESOLUTION_PX = 1024
const BYTES_PER_MB = 1024 * 1024
/** Read the original back in pieces of this size: fewer, larger writes on the way to storage. */
const READ_CHUNK_BYTES = 1024 * 1024
/** Room for the multipart boundaries and headers around the files. */
const MULTIPART_OVERHEAD_BYTES = 1024 * 1024
export type UploadedImage = {
  id: string
  name: string
  type: string
  width: number
  height: number
  size: number
  isResized: boolean
  /** the name of the image with the same content, already in the training or earlier in this upload */
  duplicateOf: string | null
  /** the caption it came with (a .txt beside it in a zip), or null */
  caption: string | null
}

export type FileResult =
  { name: string; ok: true; image: UploadedImage; warnings: string[] } | { name: string; ok: false; error: string }

export type UploadResponse = { results: FileResult[]; error?: string }

/** The largest size in the training's config: the training copy's longest side. */
export function trainingResolutionPx(configText: string) {
  try {
    return readKnobs(JSON.parse(configText)).resolution ?? DEFAULT_RESOLUTION_PX
  } catch {
    return DEFAULT_RESOLUTION_PX
  }
}

function newImageId() {
  // The row's id is needed for its storage keys before the row exists (objects are written first).
  return `img${crypto.randomBytes(12).toString('hex')}`
}

/** Deletes objects that no row will point at; a failure is logged with the keys for an operator. */
async function deleteObjects(keys: string[]) {
  if (!keys.length) return
  const storage = await getStorage()
  try {
    await storage.deleteMany(keys)
  } catch (error) {
    console.error(`Could not delete storage objects, left orphaned: ${keys.join(', ')}`, error)
  }
}

/**
 * Handles an upload request for a training whose access was already checked. Returns the HTTP
 * status and the per-file results, in the order of the files in the body.
 */
export async function handleImageUpload(
  request: Request,
  training: { id: string; config: string },
  /** the user uploading: the decode budget takes turns between users */
  uploaderId: string,
): Promise<{ status: number; body: UploadResponse }> {
  const env = getEnv()
  const maxFileBytes = Math.floor(env.UPLOAD_MAX_FILE_MB * BYTES_PER_MB)
  const maxImages = env.MAX_IMAGES_PER_TRAINING
  const declaredLength = Number(request.headers.get('content-length') ?? 0)
  if (declaredLength > maxFileBytes * maxImages + MULTIPART_OVERHEAD_BYTES) {
    return {
      status: 413,
      body: { results: [], error: `The upload is too large: at most ${maxImages} images of ${env.UPLOAD_MAX_FILE_MB} MB each.` },
    }
  }
  const resolutionPx = trainingResolutionPx(training.config)
  const existing = await prisma.trainingImage.findMany({
    where: { trainingId: training.id },
    select: { hash: true, name: true },
    orderBy: { createdAt: 'asc' },
  })
  const knownHashes = new Map<string, { name: string; inThisUpload: boolean }>()
  for (const image of existing)
    if (image.hash && !knownHashes.has(image.hash)) knownHashes.set(image.hash, { name: image.name, inThisUpload: false })

  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'trainyard-upload-'))
  // An archive part has one result per entry: each part's results stay together, in body order.
  const results = new Map<number, FileResult[]>()
  const maxFileMb = env.UPLOAD_MAX_FILE_MB
  let stored = 0
  const store = async (file: StorableFile) => {
    // Checked before the work, for the entries of an archive (a part past the limit was refused
    // while it was read); writeImage checks again, exactly, in the database.
    if (existing.length + stored >= maxImages)
      return { name: file.name, ok: false as const, error: uploadMessages.overCount(maxImages) }
    const result = await storeFile(file, { trainingId: training.id, uploaderId, resolutionPx, dir, maxImages, knownHashes })
    if (result.ok) stored++
    return result
  }
  // Files are stored one after another, in body order, while later ones are still arriving: the
  // outcome (duplicates, the count limit) does not depend on timing.
  let storing: Promise<void> = Promise.resolve()
  try {
    let received: Awaited<ReturnType<typeof receiveFiles>>
    try {
      received = await receiveFiles(request, {
        dir,
        maxFileBytes,
        maxFileMb,
        maxArchiveBytes: maxFileBytes * maxImages,
        maxFiles: Math.max(0, maxImages - existing.length),
        maxImagesPerTraining: maxImages,
        onFile: (receiving) => {
          storing = storing.then(async () => {
            const file = await receiving
            if (!file) return
            if (!file.archive) return void results.set(file.index, [await store(file)])
            try {
              results.set(
                file.index,
                await readArchive(file, {
                  dir,
                  maxEntryBytes: maxFileBytes,
                  maxEntryMb: maxFileMb,
                  maxTotalBytes: maxFileBytes * maxImages,
                  signal: request.signal,
                  storeImage: (image: ArchiveImage) => store({ ...image, renamed: false }),
                  setCaption: async (imageId, text) => {
                    await prisma.trainingImage.update({ where: { id: imageId }, data: { text } })
                  },
                }),
              )
            } catch (error) {
              // Entries are refused one by one inside; this is a failure on our side (the disk).
              console.error(`Could not read the archive ${JSON.stringify(file.name)} of training ${training.id}`, error)
              results.set(file.index, [
                { name: file.name, ok: false, error: 'Could not be read because of a problem on our side. Try again.' },
              ])
            } finally {
              await fs.promises.rm(file.path, { force: true })
            }
          })
        },
      })
    } catch (error) {
      if (error instanceof UploadRequestError) return { status: error.status, body: { results: [], error: error.message } }
      throw error
    }
    await storing
    for (const refusal of received.refused) results.set(refusal.index, [{ name: refusal.name, ok: false, error: refusal.error }])
    const ordered = [...results.entries()].sort(([a], [b]) => a - b).flatMap(([, result]) => result)
    if (received.broken) {
      const kept = ordered.filter((r) => r.ok).length
      const what =
        received.broken === 'cut-off'
          ? 'The upload was cut off before it was complete.'
          : 'The upload is malformed after some point.'
      return {
        status: 400,
        body: {
          results: ordered,
          error: `${what} ${countOf(kept, 'image', 'images')} received in full ${kept === 1 ? 'was' : 'were'} kept.`,
        },
      }
    }
    if (received.tooManyParts) {
      const kept = ordered.filter((r) => r.ok).length
      return {
        status: 413,
        body: {
          results: ordered,
          error:
            `The upload has more than ${MAX_PARTS_PER_REQUEST.toLocaleString('en-US')} parts: the first ` +
            `${received.fileCount.toLocaleString('en-US')} ${received.fileCount === 1 ? 'file was' : 'files were'} read and the rest were not. ` +
            `${countOf(kept, 'image', 'images')} received in full ${kept === 1 ? 'was' : 'were'} kept.`,
        },
      }
    }
    if (received.fileCount === 0) return { status: 400, body: { results: [], error: 'Choose at least one image to upload.' } }
    return { status: 200, body: { results: ordered } }
  } finally {
    await storing.catch(() => {})
    await fs.promises.rm(dir, { recursive: true, force: true })
  }
}

/** A file on disk to store as an image: an uploaded part, or an entry unpacked from an archive. */
type StorableFile = Pick<ReceivedFile, 'name' | 'renamed' | 'path' | 'size' | 'hash'> & {
  /** the image's own name, when the result's name says more (an archive's entry: its file name alone) */
  storedName?: string
}

async function storeFile(
  file: StorableFile,
  {
    trainingId,
    uploaderId,
    resolutionPx,
    dir,
    maxImages,
    knownHashes,
  }: {
    trainingId: string
    uploaderId: string
    resolutionPx: number
    dir: string
    maxImages: number
    knownHashes: Map<string, { name: string; inThisUpload: boolean }>
  },
): Promise<FileResult> {
  let processed: ProcessedImage | undefined
  const storedName = file.storedName ?? file.name
  try {
    processed = await processImageFile(file.path, {
      resolutionPx,
      outDir: dir,
      size: file.size,
      ownerId: uploaderId,
      name: storedName,
    })
    const image = await writeImage(processed, file, { trainingId, maxImages })
    if (!image) return { name: file.name, ok: false, error: uploadMessages.overCount(maxImages) }
    const warnings: string[] = []
    if (file.renamed)
      warnings.push(`Saved as “${file.name}”: the name as sent had a folder path or control characters, or was too long.`)
    const duplicate = knownHashes.get(file.hash)
    if (duplicate) {
      warnings.push(
        `Duplicate: the same image as ${duplicate.name}${duplicate.inThisUpload ? ' in this upload' : ', already in this training'}.`,
      )
    } else {
      knownHashes.set(file.hash, { name: storedName, inThisUpload: true })
    }
    return { name: file.name, ok: true, image: { ...image, duplicateOf: duplicate?.name ?? null, caption: null }, warnings }
  } catch (error) {
    if (error instanceof ImageRefusedError) return { name: file.name, ok: false, error: error.message }
    console.error(`Could not store the image ${JSON.stringify(file.name)} of training ${trainingId}`, error)
    return { name: file.name, ok: false, error: 'Could not be saved because of a problem on our side. Try again.' }
  } finally {
    await fs.promises.rm(file.path, { force: true })
    if (processed) await fs.promises.rm(processed.original.path, { force: true })
  }
}

/** Writes the three objects, then the row; returns null when the training is full by then. */
async function writeImage(
  processed: ProcessedImage,
  file: StorableFile,
  { trainingId, maxImages }: { trainingId: string; maxImages: number },
) {
  const storage = await getStorage()
  const id = newImageId()
  const keys = {
    original: imageKey(trainingId, id, 'original', processed.ext),
    training: imageKey(trainingId, id, 'training', processed.ext),
    thumb: imageKey(trainingId, id, 'thumb', 'webp'),
  }
  const written = Object.values(keys)
  try {
    // allSettled, not all: after one failure the others must have finished before the clean-up
    // deletes them, or a put still in flight would land after the delete as an orphan.
    const puts = await Promise.allSettled([
      storage.put(keys.original, fs.createReadStream(processed.original.path, { highWaterMark: READ_CHUNK_BYTES }), {
        contentType: processed.mime,
        contentLength: processed.original.size,
      }),
      storage.put(keys.training, processed.training.data, {
        contentType: processed.mime,
        contentLength: processed.training.data.length,
      }),
      storage.put(keys.thumb, processed.thumbnail.data, {
        contentType: 'image/webp',
        contentLength: processed.thumbnail.data.length,
      }),
    ])
    const failed = puts.find((p): p is PromiseRejectedResult => p.status === 'rejected')
    if (failed) throw failed.reason
    // The row, and the training touched ("newest activity first" counts new images), in one write.
    // The count limit is checked again after it, rather than in a transaction around it (which costs
    // more per image, see `npm run bench`): parallel uploads each saw room at their start, and when
    // together they went over, the rows beyond the first `maxImages` (by createdAt, then id) go.
    const createdAt = new Date()
    const { _count } = await prisma.training.update({
      where: { id: trainingId },
      select: { _count: { select: { images: true } } },
      data: {
        updatedAt: createdAt,
        images: {
          create: {
            id,
            createdAt,
            url: keys.training,
            originalKey: keys.original,
            thumbnailKey: keys.thumb,
            name: file.storedName ?? file.name,
            type: processed.mime,
            width: processed.width,
            height: processed.height,
            size: file.size,
            hash: file.hash,
            isResized: true,
          },
        },
      },
    })
    if (_count.images > maxImages) {
      const earlier = await prisma.trainingImage.count({
        where: { trainingId, OR: [{ createdAt: { lt: createdAt } }, { createdAt, id: { lt: id } }] },
      })
      if (earlier >= maxImages) {
        // Row first, then objects: never a row without its objects.
        await prisma.trainingImage.delete({ where: { id } })
        await deleteObjects(written)
        return null
      }
    }
    return {
      id,
      name: file.storedName ?? file.name,
      type: processed.mime,
      width: processed.width,
      height: processed.height,
      size: file.size,
      isResized: true,
    }
  } catch (error) {
    // Any of the three may have been written before the failure; deleting a missing key is fine.
    await deleteObjects(written)
    throw error
  }
}

/**
 * Deletes images of a training: rows first, then their objects. In that order a failure can leave
 * an orphan object (logged with its key), never a row pointing at nothing.
 */
export async function deleteTrainingImages(trainingId: string, imageIds: string[]) {
  const rows = await prisma.trainingImage.findMany({
    where: { trainingId, id: { in: imageIds } },
    select: { id: true, url: true, originalKey: true, thumbnailKey: true },
  })
  if (!rows.length) return 0
  await prisma.$transaction([
    prisma.trainingImage.deleteMany({ where: { trainingId, id: { in: rows.map((r) => r.id) } } }),
    prisma.training.update({ where: { id: trainingId }, data: { updatedAt: new Date() } }),
  ])
  await deleteObjects(rows.flatMap((r) => [r.url, r.originalKey, r.thumbnailKey].filter((k): k is string => Boolean(k))))
  return rows.length
}
