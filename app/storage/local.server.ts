// The default storage driver: files in a local folder (STORAGE_DIR). Signed URLs point at the app's
// own route /resources/storage/<key>, which checks the signature (see signing.server.ts).
// See docs/decisions/005-storage.md.
import crypto from 'node:crypto'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { assertContentType, createUrlSigner, expiryFromNow, type UrlSigner } from './signing.server'
import { assertValidKey, InvalidStorageKeyError } from './keys'
import type { PutOptions, Storage, StoredObject, StoredPrefix } from './storage.server'

/** The route that serves signed URLs of this driver; the key follows it. */
export const SIGNED_URL_PATH = '/resources/storage/'

// The content type is not stored beside the file (a second file could disagree with the first after
// a crash); it follows from the extension, which every key the app writes carries.
const CONTENT_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.yaml': 'text/yaml; charset=utf-8',
  '.safetensors': 'application/octet-stream',
}

export function contentTypeOfKey(key: string) {
  return CONTENT_TYPES[path.extname(key).toLowerCase()] ?? 'application/octet-stream'
}

export class LocalStorage implements Storage {
  readonly driver = 'local' as const
  readonly dir: string
  private readonly appUrl: string
  private readonly signer: UrlSigner

  constructor({ dir, appUrl, secret }: { dir: string; appUrl: string; secret: string }) {
    this.dir = path.resolve(dir)
    this.appUrl = appUrl.replace(/\/+$/, '')
    this.signer = createUrlSigner(secret)
  }

  async put(key: string, body: Readable | Buffer, options: PutOptions): Promise<void> {
    const file = this.pathOf(key)
    assertContentType(options.contentType)
    await fsp.mkdir(path.dirname(file), { recursive: true })
    // Write beside the target, then rename: a rename within one folder is atomic, so a reader sees
    // the old file or the new one, never half of one. "~" cannot appear in a key, so no key ever
    // names a temporary file.
    const temp = path.join(path.dirname(file), `.${path.basename(file)}~${crypto.randomBytes(6).toString('hex')}.tmp`)
    try {
      const source = Buffer.isBuffer(body) ? Readable.from([body]) : body
      let written = 0
      const count = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          written += chunk.length
          callback(null, chunk)
        },
      })
      await pipeline(source, count, fs.createWriteStream(temp, { flags: 'wx' }))
      if (options.contentLength !== undefined && written !== options.contentLength) {
        throw new Error(`Stored ${written} bytes for ${key}, expected ${options.contentLength}`)
      }
      await fsp.rename(temp, file)
    } catch (error) {
      await fsp.rm(temp, { force: true })
      throw error
    }
  }

  async get(key: string): Promise<StoredObject | null> {
    const file = this.pathOf(key)
    let handle: fsp.FileHandle
    try {
      handle = await fsp.open(file, 'r')
    } catch (error) {
      if (isMissing(error)) return null
      throw error
    }
    // Size and content come from the same open file: a put that renames a new file over it meanwhile
    // changes neither.
    try {
      const stat = await handle.stat()
      if (!stat.isFile()) {
        await handle.close()
        return null
      }
      return { body: handle.createReadStream(), size: stat.size, contentType: contentTypeOfKey(key) }
    } catch (error) {
      await handle.close()
      throw error
    }
  }

  async readPrefix(key: string, maxBytes: number): Promise<StoredPrefix | null> {
    const file = this.pathOf(key)
    let handle: fsp.FileHandle
    try {
      handle = await fsp.open(file, 'r')
    } catch (error) {
      if (isMissing(error)) return null
      throw error
    }
    try {
      // Size and bytes from one open file, as in get.
      const stat = await handle.stat()
      if (!stat.isFile()) return null
      const bytes = Buffer.alloc(Math.max(0, Math.min(maxBytes, stat.size)))
      let read = 0
      // A read may return fewer bytes than asked; the loop is bounded by the buffer's length.
      while (read < bytes.length) {
        const { bytesRead } = await handle.read(bytes, read, bytes.length - read, read)
        if (bytesRead === 0) break
        read += bytesRead
      }
      return { bytes: bytes.subarray(0, read), size: stat.size }
    } finally {
      await handle.close()
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await fsp.stat(this.pathOf(key))).isFile()
    } catch (error) {
      if (isMissing(error)) return false
      throw error
    }
  }

  async delete(key: string): Promise<void> {
    // Empty folders stay: removing them could race a put that has just created one.
    await fsp.rm(this.pathOf(key), { force: true })
  }

  async deleteMany(keys: string[]): Promise<void> {
    const files = keys.map((key) => this.pathOf(key))
    for (const file of files) await fsp.rm(file, { force: true })
  }

  async signedGetUrl(key: string, { expiresInS }: { expiresInS: number }): Promise<string> {
    assertValidKey(key)
    const query = this.signer.sign({ method: 'GET', key, expires: expiryFromNow(expiresInS) })
    return `${this.appUrl}${SIGNED_URL_PATH}${key}?${query}`
  }

  async signedPutUrl(key: string, { expiresInS, contentType }: { expiresInS: number; contentType: string }): Promise<string> {
    assertValidKey(key)
    const query = this.signer.sign({ method: 'PUT', key, expires: expiryFromNow(expiresInS), contentType })
    return `${this.appUrl}${SIGNED_URL_PATH}${key}?${query}`
  }

  /** Checks a request to the signed-URL route (see resources.storage.$.tsx). */
  verifySignedRequest(args: Parameters<UrlSigner['verify']>[0]) {
    return this.signer.verify(args)
  }

  /** The file of a key. The key pattern already forbids climbing out; this checks again. */
  private pathOf(key: string) {
    assertValidKey(key)
    const file = path.resolve(this.dir, key)
    if (!file.startsWith(this.dir + path.sep)) throw new InvalidStorageKeyError(key)
    return file
  }
}

function isMissing(error: unknown) {
  const code = (error as NodeJS.ErrnoException | null)?.code
  // ENOTDIR: a key that runs through a file ("a.jpg/b") names nothing.
  return code === 'ENOENT' || code === 'ENOTDIR'
}
