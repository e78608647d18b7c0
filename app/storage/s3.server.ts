// The S3 storage driver (AWS, or an S3-compatible store such as MinIO; s3rver in the tests).
// Credentials come from the SDK's default chain (environment, shared config, instance profile).
// See docs/decisions/005-storage.md.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { Readable } from 'node:stream'
import { assertContentType, expiryFromNow } from './signing.server'
import { assertValidKey, type PutOptions, type Storage, type StoredObject } from './storage.server'

/**
 * A stream is sent in parts of this size, one part in memory at a time (S3's minimum part is 5 MiB;
 * 10,000 parts of 8 MiB allow 80 GB). A stream that ends within the first part is one PutObject.
 */
export const S3_PART_BYTES = 8 * 1024 * 1024
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
    if (Buffer.isBuffer(body)) {
      checkLength(key, body.length, options.contentLength)
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }))
      return
    }
    // A stream goes in parts that are each whole in memory before they are sent: a source that fails
    // midway fails between requests, and the object never appears (S3 only creates it on Complete).
    const parts = readParts(body, S3_PART_BYTES)
    const first = await parts.next()
    const firstPart = first.done ? Buffer.alloc(0) : first.value
    const second = first.done ? first : await parts.next()
    if (second.done) {
      checkLength(key, firstPart.length, options.contentLength)
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: firstPart, ContentType: contentType }))
      return
    }
    await this.putMultipart(key, contentType, options.contentLength, firstPart, second.value, parts)
  }

  private async putMultipart(
    key: string,
    contentType: string,
    contentLength: number | undefined,
    firstPart: Buffer,
    secondPart: Buffer,
    rest: AsyncGenerator<Buffer, void>,
  ) {
    const { UploadId } = await this.client.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: contentType }),
    )
    if (!UploadId) throw new Error(`S3 gave no upload id for ${key}`)
    const uploaded: { ETag: string | undefined; PartNumber: number }[] = []
    let total = 0
    try {
      const sendPart = async (part: Buffer) => {
        const PartNumber = uploaded.length + 1
        total += part.length
        const { ETag } = await this.client.send(
          new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId, PartNumber, Body: part }),
        )
        uploaded.push({ ETag, PartNumber })
      }
      await sendPart(firstPart)
      await sendPart(secondPart)
      for await (const part of rest) await sendPart(part)
      checkLength(key, total, contentLength)
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: uploaded },
        }),
      )
    } catch (error) {
      // Best effort: parts of an unfinished upload are invisible but billed, so the bucket should also
      // have a lifecycle rule that aborts incomplete multipart uploads (see the decision record).
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId }))
        .catch((abortError: unknown) => console.warn(`storage: could not abort the upload of ${key}`, abortError))
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

/** Yields the stream in buffers of exactly `size` bytes (the last one shorter), one at a time. */
async function* readParts(stream: Readable, size: number): AsyncGenerator<Buffer, void> {
  let pending: Buffer[] = []
  let pendingBytes = 0
  for await (const chunk of stream) {
    let data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array | string)
    while (pendingBytes + data.length >= size) {
      const take = size - pendingBytes
      pending.push(data.subarray(0, take))
      yield Buffer.concat(pending, size)
      pending = []
      pendingBytes = 0
      data = data.subarray(take)
    }
    if (data.length > 0) {
      pending.push(data)
      pendingBytes += data.length
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes)
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
