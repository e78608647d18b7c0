// The one storage interface of the app: images, thumbnails, weights and samples all go through it.
// Two drivers, chosen by the environment: a local folder (default, STORAGE_DIR) or S3 (S3_BUCKET).
// Rows hold storage keys, never paths or URLs; every key is built in ./keys.ts. See
// docs/decisions/005-storage.md.
import type { Readable } from 'node:stream'
import { getEnv } from '../utils/env.server'

export type StoredObject = {
  body: Readable
  size: number | null
  contentType: string | null
}

export type StoredPrefix = {
  /** The first min(maxBytes, size) bytes. */
  bytes: Buffer
  size: number
}

export type PutOptions = {
  contentType: string
  /** Known length, when there is one: both drivers check the stored bytes against it. */
  contentLength?: number
}

export interface Storage {
  readonly driver: 'local' | 's3'
  /** Stores a stream or buffer under `key`, replacing what was there. Never buffers a stream whole. */
  put(key: string, body: Readable | Buffer, options: PutOptions): Promise<void>
  /** The object, or null when there is none. */
  get(key: string): Promise<StoredObject | null>
  exists(key: string): Promise<boolean>
  /**
   * At most the first `maxBytes` bytes of the object and its whole size, or null when there is none:
   * enough to check a file's header without reading gigabytes (a checkpoint the agent uploaded).
   */
  readPrefix(key: string, maxBytes: number): Promise<StoredPrefix | null>
  /** Deletes; a missing key is not an error. */
  delete(key: string): Promise<void>
  deleteMany(keys: string[]): Promise<void>
  /** A URL anyone holding it may GET until it expires (the GPU agent downloads images with these). */
  signedGetUrl(key: string, options: { expiresInS: number }): Promise<string>
  /** A URL anyone holding it may PUT to until it expires (the GPU agent uploads weights with these). */
  signedPutUrl(key: string, options: { expiresInS: number; contentType: string }): Promise<string>
}

let storage: Storage | undefined

export async function getStorage(): Promise<Storage> {
  storage ??= await createStorage()
  return storage
}

async function createStorage(): Promise<Storage> {
  const env = getEnv()
  if (env.S3_BUCKET) {
    const { S3Storage } = await import('./s3.server')
    return new S3Storage({
      bucket: env.S3_BUCKET,
      region: env.AWS_REGION,
      endpoint: env.AWS_ENDPOINT_URL_S3,
      forcePathStyle: env.S3_FORCE_PATH_STYLE,
    })
  }
  const { LocalStorage } = await import('./local.server')
  return new LocalStorage({ dir: env.STORAGE_DIR, appUrl: env.APP_URL, secret: env.SESSION_SECRET })
}
