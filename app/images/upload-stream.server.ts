// Reads a multipart upload as a stream: each file part goes straight to a temp file on disk while
// it is hashed and counted, so no file is ever held whole in memory. The per-file size limit and
// the count limit are enforced while reading; a body cut off midway keeps the files completed
// before the cut. Used by image-pipeline.server.ts.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web'
import busboy from 'busboy'

export const MAX_FILE_NAME_CHARS = 200
/**
 * More parts than any honest upload carries (the count limit refuses files by name well before). Past
 * it busboy reads no more parts: the upload is refused and says how many files were read.
 */
export const MAX_PARTS_PER_REQUEST = 2_000
const WRITE_CHUNK_BYTES = 1024 * 1024

export class UploadRequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message)
    this.name = 'UploadRequestError'
  }
}

export type ReceivedFile = {
  /** position of the file in the body, from 0: results are reported in this order */
  index: number
  /** sanitised */
  name: string
  /** the name changed when it was sanitised (a folder path, control characters, too long) */
  renamed: boolean
  path: string
  size: number
  /** SHA-256, hex, of the bytes as uploaded */
  hash: string
  /** a .zip, to be read entry by entry (zip.server.ts) rather than as one image */
  archive: boolean
}

export type RefusedFile = { index: number; name: string; error: string }

export const uploadMessages = {
  tooLarge: (maxFileMb: number) => `Larger than the limit of ${maxFileMb} MB per file.`,
  archiveTooLarge: (maxArchiveMb: number) =>
    `Larger than the limit of ${maxArchiveMb.toLocaleString('en-US')} MB per upload, for an archive too.`,
  overCount: (maxImages: number) => `Over the limit of ${maxImages} images per training.`,
  cutOff: 'The upload was cut off before this file was complete. Upload it again.',
}

/**
 * The name a person gave the file, made safe to store and show: the last path segment only (no
 * `../`, no folders, either slash), no control characters (NUL included), at most 200 characters
 * with the extension kept. Never empty.
 */
export function sanitizeFileName(raw: string | undefined | null) {
  // eslint-disable-next-line no-control-regex
  const noControl = (raw ?? '').normalize('NFC').replace(/[\u0000-\u001f\u007f-\u009f]/g, '')
  const base = (noControl.split(/[/\\]/).pop() ?? '').trim()
  const name = base === '.' || base === '..' ? '' : base.replace(/^\.+/, '')
  if (!name) return 'image'
  const chars = Array.from(name)
  if (chars.length <= MAX_FILE_NAME_CHARS) return name
  const dot = name.lastIndexOf('.')
  const ext = dot > 0 && name.length - dot <= 10 ? name.slice(dot) : ''
  return (
    Array.from(name.slice(0, name.length - ext.length))
      .slice(0, MAX_FILE_NAME_CHARS - ext.length)
      .join('') + ext
  )
}

/** A part read as a zip archive: by its name, as the person chose it (the content is checked when it is opened). */
export function isArchiveName(name: string) {
  return /\.zip$/i.test(name)
}

export function isMultipart(request: Request) {
  return /^multipart\/form-data;.*boundary=/i.test(request.headers.get('content-type') ?? '')
}

export type ReceiveOutcome = {
  refused: RefusedFile[]
  fileCount: number
  /** why the body could not be read to its end, if it could not */
  broken: null | 'cut-off' | 'malformed'
  /** the body had more than MAX_PARTS_PER_REQUEST parts: those after them were not read */
  tooManyParts: boolean
}

/**
 * Streams the request's file parts to temp files in `dir`. `onFile` is called at the start of each
 * accepted file, in body order, with a promise of the file on disk (null when it was refused while
 * being read), so that processing can start as soon as a file is complete and still follow body
 * order. Files beyond `maxFiles` are refused as they start, and their bytes skipped.
 */
export async function receiveFiles(
  request: Request,
  {
    dir,
    maxFileBytes,
    maxFileMb,
    maxArchiveBytes = maxFileBytes,
    maxFiles,
    maxImagesPerTraining,
    onFile,
  }: {
    dir: string
    maxFileBytes: number
    maxFileMb: number
    /** a .zip may be as large as the whole upload may be */
    maxArchiveBytes?: number
    /** how many more images the training may take */
    maxFiles: number
    maxImagesPerTraining: number
    onFile: (file: Promise<ReceivedFile | null>) => void
  },
): Promise<ReceiveOutcome> {
  if (!request.body || !isMultipart(request)) {
    throw new UploadRequestError('Send the images as multipart/form-data.', 400)
  }
  let parser: busboy.Busboy
  try {
    parser = busboy({
      headers: { 'content-type': request.headers.get('content-type')! },
      // Browsers send UTF-8 file names without the RFC 5987 form; busboy would read them as latin1.
      defParamCharset: 'utf8',
      // The name as sent, folders and all: sanitizeFileName cuts it down and can then say it did.
      preservePath: true,
      // One byte over the largest limit: busboy flags a file of exactly `fileSize` bytes as truncated.
      // Each part's own limit (an image's or an archive's) is enforced below as it is read.
      limits: {
        fileSize: Math.max(maxFileBytes, maxArchiveBytes) + 1,
        files: MAX_PARTS_PER_REQUEST,
        parts: MAX_PARTS_PER_REQUEST,
        fields: 20,
        fieldSize: 1024,
      },
    })
  } catch {
    throw new UploadRequestError('The upload is not valid multipart/form-data.', 400)
  }

  const refused: RefusedFile[] = []
  const writes: Array<Promise<unknown>> = []
  const taken: Array<{ truncated?: boolean }> = []
  let fileCount = 0

  parser.on('file', (_field, stream, info) => {
    const index = fileCount++
    const name = sanitizeFileName(info.filename)
    // NFC only is not a rename: macOS sends names decomposed (NFD).
    const renamed = name !== (info.filename ?? '').normalize('NFC')
    // An oversize file, flagged synchronously by busboy before the next part starts, frees its
    // place; a file refused later for its content does not (that would make the outcome depend
    // on timing). The database check when a row is written is the exact one.
    if (taken.filter((s) => !s.truncated).length >= maxFiles) {
      refused.push({ index, name, error: uploadMessages.overCount(maxImagesPerTraining) })
      stream.resume()
      return
    }
    taken.push(stream)
    const archive = isArchiveName(name)
    const limitBytes = archive ? maxArchiveBytes : maxFileBytes
    let over = false
    const filePath = path.join(dir, `${index}.upload`)
    const hash = crypto.createHash('sha256')
    let size = 0
    // Hashes and counts, and hands the disk writes of ~1 MB instead of the socket's 64 KB pieces:
    // each fs write has a fixed cost on the main thread (measured with `npm run bench`).
    let pending: Buffer[] = []
    let pendingBytes = 0
    const hashAndCount = new Transform({
      transform(chunk: Buffer, _enc, callback) {
        size += chunk.length
        // Past its limit a part is read to its end (the next part follows it) but not written.
        if (over || size > limitBytes) {
          over = true
          return callback()
        }
        hash.update(chunk)
        pending.push(chunk)
        pendingBytes += chunk.length
        if (pendingBytes < WRITE_CHUNK_BYTES) return callback()
        const batch = Buffer.concat(pending)
        pending = []
        pendingBytes = 0
        callback(null, batch)
      },
      flush(callback) {
        callback(null, pending.length ? Buffer.concat(pending) : undefined)
      },
    })
    const refuse = async (error: string) => {
      refused.push({ index, name, error })
      await fs.promises.rm(filePath, { force: true })
      return null
    }
    const received = pipeline(stream, hashAndCount, fs.createWriteStream(filePath)).then(
      (): Promise<null> | ReceivedFile => {
        if (stream.truncated || over)
          return refuse(
            archive
              ? uploadMessages.archiveTooLarge(Math.floor(maxArchiveBytes / (1024 * 1024)))
              : uploadMessages.tooLarge(maxFileMb),
          )
        return { index, name, renamed, path: filePath, size, hash: hash.digest('hex'), archive }
      },
      // busboy destroys the open file stream when the body ends (or fails) in its middle.
      () => refuse(uploadMessages.cutOff),
    )
    writes.push(received)
    onFile(received)
  })

  // busboy skips the parts past its limits and says so only by these events.
  let tooManyParts = false
  parser.on('partsLimit', () => (tooManyParts = true))
  parser.on('filesLimit', () => (tooManyParts = true))

  let broken: ReceiveOutcome['broken'] = null
  try {
    // Node's web and stream types disagree on ReadableStream's generics; the object is the same.
    await pipeline(Readable.fromWeb(request.body as unknown as NodeWebReadableStream), parser)
  } catch (error) {
    // "Unexpected end of form" or the client going away midway; anything else is a malformed body.
    const message = error instanceof Error ? error.message : ''
    broken = /malformed|boundary/i.test(message) ? 'malformed' : 'cut-off'
  }
  await Promise.all(writes)
  return { refused, fileCount, broken, tooManyParts }
}
