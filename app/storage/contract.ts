// What every storage driver promises, as tests. local.server.test.ts and
// s3.server.test.ts run this same suite, so the two drivers cannot drift apart.
import crypto from 'node:crypto'
import { Readable } from 'node:stream'
import { describe, expect, test, vi } from 'vitest'
import { InvalidStorageKeyError } from './keys'
import type { Storage } from './storage.server'

export type StorageHarness = {
  storage: Storage
  /** An HTTP request to a signed URL (the local driver's go through its route, S3's to s3rver). */
  fetchSigned(url: string, init?: { method?: string; body?: Buffer; headers?: Record<string, string> }): Promise<Response>
}

const MiB = 1024 * 1024
const CHUNK_BYTES = 64 * 1024

/** A stream of `data` in small chunks, like a network body. */
export function chunked(data: Buffer) {
  return Readable.from(
    (function* () {
      for (let at = 0; at < data.length; at += CHUNK_BYTES) yield data.subarray(at, at + CHUNK_BYTES)
    })(),
  )
}

/** A stream that sends `bytesBeforeError` bytes, then fails like a dropped connection. */
export function failingAfter(bytesBeforeError: number) {
  return Readable.from(
    (async function* () {
      for (let sent = 0; sent < bytesBeforeError; sent += CHUNK_BYTES) yield crypto.randomBytes(CHUNK_BYTES)
      throw new Error('connection reset by the test')
    })(),
  )
}

export async function readAll(body: Readable) {
  const chunks: Buffer[] = []
  for await (const chunk of body) chunks.push(Buffer.from(chunk as Uint8Array))
  return Buffer.concat(chunks)
}

function sha256(data: Buffer) {
  return crypto.createHash('sha256').update(data).digest('hex')
}

function uniqueKey(name: string) {
  return `contract/${crypto.randomBytes(6).toString('hex')}/${name}`
}

/** Signs while the clock reads an hour ago, so a URL valid for a minute has long expired. */
async function signedAnHourAgo(sign: () => Promise<string>) {
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(Date.now() - 60 * 60 * 1000)
  try {
    return await sign()
  } finally {
    vi.useRealTimers()
  }
}

const SIGNATURE_PARAMS = ['sig', 'X-Amz-Signature']

export function defineStorageContract(getHarness: () => StorageHarness) {
  describe('storage contract', () => {
    test('a multi-megabyte stream comes back byte for byte, with its size and content type', async () => {
      const { storage } = getHarness()
      const key = uniqueKey('big.jpg')
      // Larger than two S3 parts, so the S3 driver's multipart path runs too.
      const data = crypto.randomBytes(20 * MiB + 123)
      await storage.put(key, chunked(data), { contentType: 'image/jpeg' })
      const object = await storage.get(key)
      expect(object).not.toBeNull()
      expect(object!.size).toBe(data.length)
      expect(object!.contentType).toBe('image/jpeg')
      expect(sha256(await readAll(object!.body))).toBe(sha256(data))
    })

    test('a buffer, an empty stream and a stream with its length are stored too', async () => {
      const { storage } = getHarness()
      const png = uniqueKey('small.png')
      await storage.put(png, Buffer.from('not really a png'), { contentType: 'image/png' })
      const object = await storage.get(png)
      expect(object!.contentType).toBe('image/png')
      expect((await readAll(object!.body)).toString()).toBe('not really a png')

      const empty = uniqueKey('empty.json')
      await storage.put(empty, Readable.from([]), { contentType: 'application/json' })
      const emptyObject = await storage.get(empty)
      expect(emptyObject!.size).toBe(0)
      expect((await readAll(emptyObject!.body)).length).toBe(0)

      const sized = uniqueKey('sized.webp')
      const data = crypto.randomBytes(300 * 1024)
      await storage.put(sized, chunked(data), { contentType: 'image/webp', contentLength: data.length })
      expect(sha256(await readAll((await storage.get(sized))!.body))).toBe(sha256(data))
    })

    test('a put replaces what was there', async () => {
      const { storage } = getHarness()
      const key = uniqueKey('caption.txt')
      await storage.put(key, Buffer.from('first version, longer'), { contentType: 'text/plain; charset=utf-8' })
      await storage.put(key, chunked(Buffer.from('second')), { contentType: 'text/plain; charset=utf-8' })
      const object = await storage.get(key)
      expect(object!.size).toBe(6)
      expect((await readAll(object!.body)).toString()).toBe('second')
    })

    test('exists, get and delete of a missing key: false, null, and no error', async () => {
      const { storage } = getHarness()
      const key = uniqueKey('a.jpg')
      expect(await storage.exists(key)).toBe(false)
      expect(await storage.get(key)).toBeNull()
      await storage.put(key, Buffer.from('x'), { contentType: 'image/jpeg' })
      expect(await storage.exists(key)).toBe(true)
      await storage.delete(key)
      expect(await storage.exists(key)).toBe(false)
      expect(await storage.get(key)).toBeNull()
      await expect(storage.delete(key)).resolves.toBeUndefined()
      // A "folder" is not an object.
      expect(await storage.exists(key.slice(0, key.lastIndexOf('/')))).toBe(false)
      expect(await storage.get(key.slice(0, key.lastIndexOf('/')))).toBeNull()
    })

    test('readPrefix gives the first bytes and the whole size, all of a short object, and null for a missing key', async () => {
      const { storage } = getHarness()
      const key = uniqueKey('a.safetensors')
      const data = crypto.randomBytes(300 * 1024 + 7)
      await storage.put(key, data, { contentType: 'application/octet-stream' })
      const prefix = await storage.readPrefix(key, 1000)
      expect(prefix!.size).toBe(data.length)
      expect(prefix!.bytes.equals(data.subarray(0, 1000))).toBe(true)
      const whole = await storage.readPrefix(key, data.length + 50)
      expect(whole!.bytes.equals(data)).toBe(true)
      const empty = uniqueKey('empty.safetensors')
      await storage.put(empty, Buffer.alloc(0), { contentType: 'application/octet-stream' })
      expect(await storage.readPrefix(empty, 8)).toEqual({ bytes: Buffer.alloc(0), size: 0 })
      expect(await storage.readPrefix(uniqueKey('missing.safetensors'), 8)).toBeNull()
      expect(await storage.readPrefix(key.slice(0, key.lastIndexOf('/')), 8)).toBeNull()
      await expect(storage.readPrefix('../escape', 8)).rejects.toThrow(InvalidStorageKeyError)
    })

    test('deleteMany deletes the keys given, skips missing ones, and works past 1000 keys', async () => {
      const { storage } = getHarness()
      const [a, b, keep] = [uniqueKey('a.jpg'), uniqueKey('b.jpg'), uniqueKey('keep.jpg')]
      for (const key of [a, b, keep]) await storage.put(key, Buffer.from(key), { contentType: 'image/jpeg' })
      await storage.deleteMany([a, uniqueKey('never-there.jpg'), b])
      expect(await storage.exists(a)).toBe(false)
      expect(await storage.exists(b)).toBe(false)
      expect(await storage.exists(keep)).toBe(true)
      await expect(storage.deleteMany([])).resolves.toBeUndefined()

      // S3 takes 1000 keys per call: the last one here is in a second batch.
      const first = uniqueKey('first.jpg')
      const last = uniqueKey('last.jpg')
      await storage.put(first, Buffer.from('1'), { contentType: 'image/jpeg' })
      await storage.put(last, Buffer.from('2'), { contentType: 'image/jpeg' })
      const missing = Array.from({ length: 1200 }, (_, i) => uniqueKey(`missing-${i}.jpg`))
      await storage.deleteMany([first, ...missing, last])
      expect(await storage.exists(first)).toBe(false)
      expect(await storage.exists(last)).toBe(false)
    })

    test('invalid keys are refused by every operation, and a batch with one is refused whole', async () => {
      const { storage } = getHarness()
      const valid = uniqueKey('valid.jpg')
      await storage.put(valid, Buffer.from('v'), { contentType: 'image/jpeg' })
      for (const bad of ['../x', '/abs', 'a//b', 'a\0b', '', 'a/../b', 'a/./b', 'a/', 'with space.jpg', 'a\\b']) {
        const refused = InvalidStorageKeyError
        await expect(storage.put(bad, Buffer.from('x'), { contentType: 'image/jpeg' })).rejects.toBeInstanceOf(refused)
        await expect(storage.get(bad)).rejects.toBeInstanceOf(refused)
        await expect(storage.exists(bad)).rejects.toBeInstanceOf(refused)
        await expect(storage.delete(bad)).rejects.toBeInstanceOf(refused)
        await expect(storage.signedGetUrl(bad, { expiresInS: 60 })).rejects.toBeInstanceOf(refused)
        await expect(storage.signedPutUrl(bad, { expiresInS: 60, contentType: 'image/jpeg' })).rejects.toBeInstanceOf(refused)
        await expect(storage.deleteMany([valid, bad])).rejects.toBeInstanceOf(refused)
      }
      expect(await storage.exists(valid)).toBe(true)
    })

    test('a source stream that fails midway leaves no object, and does not harm the one already there', async () => {
      const { storage } = getHarness()
      // S3 starts a multipart upload past 8 MiB and cannot always abort it (s3rver has no abort).
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
      for (const bytes of [100 * 1024, 12 * MiB]) {
        const key = uniqueKey('broken.jpg')
        await expect(storage.put(key, failingAfter(bytes), { contentType: 'image/jpeg' })).rejects.toThrow(
          'connection reset by the test',
        )
        expect(await storage.exists(key)).toBe(false)
        expect(await storage.get(key)).toBeNull()
      }
      const existing = uniqueKey('existing.jpg')
      await storage.put(existing, Buffer.from('the good one'), { contentType: 'image/jpeg' })
      await expect(storage.put(existing, failingAfter(100 * 1024), { contentType: 'image/jpeg' })).rejects.toThrow()
      expect((await readAll((await storage.get(existing))!.body)).toString()).toBe('the good one')
      warn.mockRestore()
    })

    test('a stream shorter or longer than its stated length is refused and stores nothing', async () => {
      const { storage } = getHarness()
      for (const stated of [999, 1001]) {
        const key = uniqueKey('length.jpg')
        await expect(
          storage.put(key, chunked(crypto.randomBytes(1000)), { contentType: 'image/jpeg', contentLength: stated }),
        ).rejects.toThrow(/expected/)
        expect(await storage.exists(key)).toBe(false)
      }
    })

    test('a signed GET URL serves the object to whoever holds it', async () => {
      const { storage, fetchSigned } = getHarness()
      const key = uniqueKey('photo.jpg')
      const data = crypto.randomBytes(3 * MiB)
      await storage.put(key, data, { contentType: 'image/jpeg' })
      const response = await fetchSigned(await storage.signedGetUrl(key, { expiresInS: 60 }))
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe('image/jpeg')
      expect(sha256(Buffer.from(await response.arrayBuffer()))).toBe(sha256(data))

      const missing = await fetchSigned(await storage.signedGetUrl(uniqueKey('missing.jpg'), { expiresInS: 60 }))
      expect(missing.status).toBe(404)
    })

    test('a signed PUT URL stores what is sent with the content type it was signed for', async () => {
      const { storage, fetchSigned } = getHarness()
      const key = uniqueKey('lora.safetensors')
      const data = crypto.randomBytes(2 * MiB)
      const url = await storage.signedPutUrl(key, { expiresInS: 60, contentType: 'application/octet-stream' })
      const response = await fetchSigned(url, {
        method: 'PUT',
        body: data,
        headers: { 'content-type': 'application/octet-stream' },
      })
      expect(response.status).toBeGreaterThanOrEqual(200)
      expect(response.status).toBeLessThan(300)
      const object = await storage.get(key)
      expect(sha256(await readAll(object!.body))).toBe(sha256(data))

      // Another content type than the signed one is refused, and changes nothing.
      const refused = await fetchSigned(url, {
        method: 'PUT',
        body: Buffer.from('<html>'),
        headers: { 'content-type': 'text/html' },
      })
      expect(refused.status).toBe(403)
      expect(sha256(await readAll((await storage.get(key))!.body))).toBe(sha256(data))
    })

    test('an expired signed URL is refused', async () => {
      const { storage, fetchSigned } = getHarness()
      const key = uniqueKey('old.jpg')
      await storage.put(key, Buffer.from('secret'), { contentType: 'image/jpeg' })
      const getUrl = await signedAnHourAgo(() => storage.signedGetUrl(key, { expiresInS: 60 }))
      const get = await fetchSigned(getUrl)
      expect(get.status).toBe(403)
      expect(await get.text()).not.toContain('secret')

      const newKey = uniqueKey('late.jpg')
      const putUrl = await signedAnHourAgo(() => storage.signedPutUrl(newKey, { expiresInS: 60, contentType: 'image/jpeg' }))
      const put = await fetchSigned(putUrl, {
        method: 'PUT',
        body: Buffer.from('late'),
        headers: { 'content-type': 'image/jpeg' },
      })
      expect(put.status).toBe(403)
      expect(await storage.exists(newKey)).toBe(false)
    })

    test('a signed URL with its signature, key, method or any parameter changed is refused', async () => {
      const { storage, fetchSigned } = getHarness()
      const key = uniqueKey('mine.jpg')
      const other = uniqueKey('else.jpg')
      await storage.put(key, Buffer.from('mine'), { contentType: 'image/jpeg' })
      await storage.put(other, Buffer.from('someone else'), { contentType: 'image/jpeg' })
      const getUrl = new URL(await storage.signedGetUrl(key, { expiresInS: 60 }))

      const expectRefused = async (url: URL, init?: Parameters<StorageHarness['fetchSigned']>[1]) => {
        const response = await fetchSigned(url.toString(), init)
        expect(response.status, `${init?.method ?? 'GET'} ${url}`).toBe(403)
        expect(await response.text()).not.toContain('someone else')
      }

      // Every parameter of the query, the signature included, is covered.
      for (const name of new Set(getUrl.searchParams.keys())) {
        const tampered = new URL(getUrl)
        const value = tampered.searchParams.get(name)!
        const flipped = SIGNATURE_PARAMS.includes(name) ? value.slice(0, -1) + (value.endsWith('0') ? '1' : '0') : `${value}1`
        tampered.searchParams.set(name, flipped)
        await expectRefused(tampered)
      }
      // Another key under the same signature.
      const otherKeyUrl = new URL(getUrl)
      otherKeyUrl.pathname = otherKeyUrl.pathname.replace(key, other)
      await expectRefused(otherKeyUrl)
      // A GET URL does not allow a PUT…
      await expectRefused(getUrl, { method: 'PUT', body: Buffer.from('overwritten'), headers: { 'content-type': 'image/jpeg' } })
      expect((await readAll((await storage.get(key))!.body)).toString()).toBe('mine')
      // …and a PUT URL does not allow a GET.
      const putUrl = new URL(await storage.signedPutUrl(other, { expiresInS: 60, contentType: 'image/jpeg' }))
      await expectRefused(putUrl)
    })

    test('a signed URL lives from 1 second to 7 days', async () => {
      const { storage } = getHarness()
      const key = uniqueKey('a.jpg')
      for (const expiresInS of [0, -1, 1.5, 7 * 24 * 60 * 60 + 1]) {
        await expect(storage.signedGetUrl(key, { expiresInS })).rejects.toThrow(RangeError)
      }
      await expect(storage.signedGetUrl(key, { expiresInS: 7 * 24 * 60 * 60 })).resolves.toMatch(/^https?:\/\//)
    })
  })
}
