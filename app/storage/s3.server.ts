// The S3 storage driver (AWS, or an S3-compatible store such as MinIO; s3rver in the tests).
// Credentials come from the SDK's default chain (environment, shared config, instance profile).
// See docs/decisions/005-storage.md.
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { Readable } from 'node:stream'
import { assertContentType, expiryFromNow } from './signing.server'
import { assertValidKey } from './keys'
import type { PutOptions, Storage, StoredObject, StoredPrefix } from './storage.server'

/**
 * A stream is sent in parts of this size, one part in memory at a time (S3's minimum part is 5 MiB;
 * 10,000 parts of 8 MiB allow 80 GB). A body that ends within the first part is one PutObject.
 */
const S3_PART_BYTES = 8 * 1024 * 1024
/** DeleteObjects takes at most this many keys per call. */
const S3_DELETE_BATCH = 1000

export class S3Storage implements Storage {
  readonly driver = 's3' as const
  readonly bucket: string
  private readonly client: S3Client

  constructor({
    bucket,
    region,
    endpoint,
    forcePathStyle,
  }: {
    bucket: string
    region: string
    endpoint?: string
    forcePathStyle?: boolean
  }) {
    this.bucket = bucket
    this.client = new S3Client({
      region,
      ...(endpoint ? { endpoint } : {}),
      forcePathStyle: Boolean(forcePathStyle),
      // Checksums only where S3 demands them (DeleteObjects). By default the SDK adds a CRC32 to every
      // upload: a presigned PUT would then carry the checksum of an empty body and refuse the real
      // one, and several S3-compatible stores reject the trailer-encoded checksums of streams.
      requestChecksumCalculation: 'WHEN_REQUIRED',
    })
  }

  async put(key: string, body: Readable | Buffer, options: PutOptions): Promise<void> {
    assertValidKey(key)
    const contentType = assertContentType(options.contentType)
    if (Buffer.isBuffer(body)) checkLength(key, body.length, options.contentLength)
    // lib-storage sends one PutObject for a body within one part, else a multipart upload whose parts
    // are each whole in memory before they are sent (queueSize 1: one at a time). A source that fails
    // midway, or is longer or shorter than stated, fails between requests, and the object never
    // appears: S3 only creates it on CompleteMultipartUpload.
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: key,
        ContentType: contentType,
        Body: Buffer.isBuffer(body) ? body : withLengthChecked(key, body, options.contentLength),
      },
      partSize: S3_PART_BYTES,
      queueSize: 1,
      // Aborted here rather than by lib-storage, whose failed abort would hide the upload's own error.
      leavePartsOnError: true,
    })
    try {
      await upload.done()
    } catch (error) {
      if (upload.uploadId) {
        // Best effort: parts of an unfinished upload are invisible but billed, so the bucket should also
        // have a lifecycle rule that aborts incomplete multipart uploads (see the decision record).
        await this.client
          .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: upload.uploadId }))
          .catch((abortError: unknown) => console.warn(`storage: could not abort the upload of ${key}`, abortError))
      }
      throw error
    }
  }

  async get(key: string): Promise<StoredObject | null> {
    assertValidKey(key)
    try {
      const result = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }))
      if (!(result.Body instanceof Readable)) throw new Error(`S3 returned no stream for ${key}`)
      return { body: result.Body, size: result.ContentLength ?? null, contentType: result.ContentType ?? null }
    } catch (error) {
      if (isNotFound(error)) return null
      throw error
    }
  }

  async readPrefix(key: string, maxBytes: number): Promise<StoredPrefix | null> {
    assertValidKey(key)
    // The size first: a Range beyond an empty object is a 416, and the size is what the caller checks.
    let size: number
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }))
      size = head.ContentLength ?? 0
    } catch (error) {
      if (isNotFound(error)) return null
      throw error
    }
    const want = Math.max(0, Math.min(maxBytes, size))
    if (want === 0) return { bytes: Buffer.alloc(0), size }
    try {
      const result = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=0-${want - 1}` }))
      if (!(result.Body instanceof Readable)) throw new Error(`S3 returned no stream for ${key}`)
      const chunks: Buffer[] = []
      let read = 0
      // A store that ignores Range sends the whole object: stop reading once the prefix is in.
      for await (const chunk of result.Body) {
        const buffer = Buffer.from(chunk as Uint8Array)
        chunks.push(buffer)
        read += buffer.length
        if (read >= want) break
      }
      result.Body.destroy()
      return { bytes: Buffer.concat(chunks).subarray(0, want), size }
    } catch (error) {
      if (isNotFound(error)) return null
      throw error
    }
  }

  async exists(key: string): Promise<boolean> {
    assertValidKey(key)
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }))
      return true
    } catch (error) {
      if (isNotFound(error)) return false
      throw error
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key)
    // S3 answers 204 whether or not the key existed.
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }))
  }

  async deleteMany(keys: string[]): Promise<void> {
    for (const key of keys) assertValidKey(key)
    for (let start = 0; start < keys.length; start += S3_DELETE_BATCH) {
      const batch = keys.slice(start, start + S3_DELETE_BATCH)
      const result = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        }),
      )
      // DeleteObjects answers 200 even when some keys failed; those are listed in Errors.
      const failed = result.Errors ?? []
      if (failed.length > 0) {
        const first = failed[0]!
        throw new Error(`S3 did not delete ${failed.length} object(s), e.g. ${first.Key}: ${first.Code} ${first.Message}`)
      }
    }
  }

  async signedGetUrl(key: string, { expiresInS }: { expiresInS: number }): Promise<string> {
    assertValidKey(key)
    expiryFromNow(expiresInS) // the same bounds as the local driver
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: expiresInS })
  }

  async signedPutUrl(key: string, { expiresInS, contentType }: { expiresInS: number; contentType: string }): Promise<string> {
    assertValidKey(key)
    assertContentType(contentType)
    expiryFromNow(expiresInS)
    return getSignedUrl(this.client, new PutObjectCommand({ Bucket: this.bucket, Key: key, ContentType: contentType }), {
      expiresIn: expiresInS,
      // The presigner leaves Content-Type out of the signature by default; sign it, as the local
      // driver does, so the uploader must send the type the app chose.
      signableHeaders: new Set(['content-type']),
    })
  }
}

/**
 * The stream as it is read, failing as soon as it proves longer than `expected`, or at its end when
 * shorter: the failure reaches the upload before it can complete.
 */
function withLengthChecked(key: string, body: Readable, expected: number | undefined): Readable {
  if (expected === undefined) return body
  return Readable.from(
    (async function* () {
      let total = 0
      for await (const chunk of body) {
        const data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array | string)
        total += data.length
        if (total > expected) checkLength(key, total, expected)
        yield data
      }
      checkLength(key, total, expected)
    })(),
  )
}

function checkLength(key: string, actual: number, expected: number | undefined) {
  if (expected !== undefined && actual !== expected) {
    throw new Error(`Read ${actual} bytes for ${key}, expected ${expected}`)
  }
}

function isNotFound(error: unknown) {
  // By name, not by status: a missing bucket is a 404 too, and must not read as a missing object.
  return error instanceof S3ServiceException && (error.name === 'NoSuchKey' || error.name === 'NotFound')
}
