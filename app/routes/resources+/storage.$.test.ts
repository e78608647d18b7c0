// The signed-URL route of the local driver: what it answers, with which headers, and what it refuses.
// (The signature rules themselves are in storage-signing.server.test.ts; the shared storage contract
// also runs its signed-URL tests through this route, in storage-local.server.test.ts.)
import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import { afterAll, describe, expect, test, vi } from 'vitest'
import { callRoute, ctx } from '../../../tests/db-utils'
import { type LocalStorage, SIGNED_URL_PATH } from '~/storage/local.server'
import { readAll } from '~/storage/contract'
import { getStorage } from '~/storage/storage.server'
import { action, loader } from './storage.$'
import { MAX_SIGNED_PUT_BYTES, PayloadTooLargeError, readBody } from './storage.server'

vi.hoisted(() => {
  process.env.STORAGE_DIR = `tests/.tmp/storage-route-${process.pid}-${Math.random().toString(36).slice(2)}`
})

const storage = (await getStorage()) as LocalStorage

afterAll(async () => {
  await fs.rm(storage.dir, { recursive: true, force: true })
  delete process.env.STORAGE_DIR
})

function keyOf(url: string) {
  return decodeURIComponent(new URL(url).pathname.slice(SIGNED_URL_PATH.length))
}

function get(url: string, method = 'GET') {
  const request = new Request(url, { method })
  return callRoute(() => loader({ request, params: { '*': keyOf(url) }, context: ctx.context }))
}

function put(url: string, init: RequestInit) {
  const request = new Request(url, { method: 'PUT', ...init })
  return callRoute(() => action({ request, params: { '*': keyOf(url) }, context: ctx.context }))
}

async function content(key: string) {
  const object = await storage.get(key)
  return object ? (await readAll(object.body)).toString() : null
}

function uniqueKey(name: string) {
  return `route/${crypto.randomBytes(6).toString('hex')}/${name}`
}

describe('GET and HEAD', () => {
  test('stream the file with its type and length, privately', async () => {
    const key = uniqueKey('photo.webp')
    await storage.put(key, Buffer.from('webp bytes'), { contentType: 'image/webp' })
    const url = await storage.signedGetUrl(key, { expiresInS: 60 })
    const response = await get(url)
    expect(response.status).toBe(200)
    expect(Object.fromEntries(response.headers)).toMatchObject({
      'content-type': 'image/webp',
      'content-length': '10',
      'cache-control': 'private, no-transform',
    })
    expect(await response.text()).toBe('webp bytes')

    const head = await get(url, 'HEAD')
    expect(head.status).toBe(200)
    expect(head.headers.get('content-length')).toBe('10')
    expect(head.body).toBeNull()
  })

  test('a missing object is a 404', async () => {
    const response = await get(await storage.signedGetUrl(uniqueKey('gone.jpg'), { expiresInS: 60 }))
    expect(response.status).toBe(404)
    expect(await response.text()).toBe('Not found')
  })
})

describe('PUT', () => {
  test('creates (201), then replaces (200)', async () => {
    const key = uniqueKey('lora.safetensors')
    const url = await storage.signedPutUrl(key, { expiresInS: 60, contentType: 'application/octet-stream' })
    const headers = { 'content-type': 'application/octet-stream' }
    const created = await put(url, { body: 'weights v1', headers })
    expect(created.status).toBe(201)
    expect(await content(key)).toBe('weights v1')
    const replaced = await put(url, { body: 'weights v2', headers })
    expect(replaced.status).toBe(200)
    expect(await content(key)).toBe('weights v2')
  })

  test('a body declared over 2 GB is refused before it is read', async () => {
    const key = uniqueKey('huge.safetensors')
    const url = await storage.signedPutUrl(key, { expiresInS: 60, contentType: 'application/octet-stream' })
    const response = await put(url, {
      body: 'x',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(MAX_SIGNED_PUT_BYTES + 1) },
    })
    expect(response.status).toBe(413)
    expect(await response.text()).toMatch(/at most 2 GB/)
    expect(await storage.exists(key)).toBe(false)
  })

  test('a body cut off midway stores nothing and keeps the object already there', async () => {
    const key = uniqueKey('sample.jpg')
    await storage.put(key, Buffer.from('previous'), { contentType: 'image/jpeg' })
    const url = await storage.signedPutUrl(key, { expiresInS: 60, contentType: 'image/jpeg' })
    let sent = 0
    const body = new ReadableStream<Uint8Array>({
      pull(stream) {
        if (sent++ < 3) return stream.enqueue(crypto.randomBytes(64 * 1024))
        // What the server sees when the uploader's connection drops.
        stream.error(new Error('aborted'))
      },
    })
    // duplex is required by fetch for a streamed body; TypeScript's RequestInit does not know it yet.
    const response = await put(url, { body, headers: { 'content-type': 'image/jpeg' }, duplex: 'half' } as RequestInit)
    expect(response.status).toBe(400)
    expect(await response.text()).toBe('Upload interrupted')
    expect(await content(key)).toBe('previous')
    expect(await fs.readdir(`${storage.dir}/${key.slice(0, key.lastIndexOf('/'))}`)).toEqual(['sample.jpg'])
  })

  test('a body past the cap fails as soon as the cap is crossed, and stops being read', async () => {
    let stoppedReading = false
    async function* source() {
      try {
        yield new Uint8Array(6)
        yield new Uint8Array(6)
        throw new Error('should not be read this far')
      } finally {
        stoppedReading = true
      }
    }
    const seen: number[] = []
    await expect(
      (async () => {
        for await (const chunk of readBody(source(), 10)) seen.push(chunk.byteLength)
      })(),
    ).rejects.toBeInstanceOf(PayloadTooLargeError)
    expect(seen).toEqual([6])
    expect(stoppedReading).toBe(true)
  })
})

describe('refusals (403, short text)', () => {
  test('no signature, a bad key, a wrong method, an expired link, another content type', async () => {
    const key = uniqueKey('private.jpg')
    await storage.put(key, Buffer.from('private'), { contentType: 'image/jpeg' })
    const expectRefused = async (response: Response, text: string) => {
      expect(response.status).toBe(403)
      expect(await response.text()).toBe(text)
      expect(response.headers.get('cache-control')).toBe('no-store')
    }

    await expectRefused(await get(`http://localhost${SIGNED_URL_PATH}${key}`), 'Missing or malformed signature')
    const getUrl = await storage.signedGetUrl(key, { expiresInS: 60 })
    const query = new URL(getUrl).search
    await expectRefused(await get(`http://localhost${SIGNED_URL_PATH}..%2F..%2Fetc%2Fpasswd${query}`), 'Invalid storage key')
    await expectRefused(await get(`http://localhost${SIGNED_URL_PATH}a%00b${query}`), 'Invalid storage key')
    await expectRefused(
      await put(getUrl, { body: 'overwrite', headers: { 'content-type': 'image/jpeg' } }),
      'This link does not allow this method',
    )
    const putUrl = await storage.signedPutUrl(key, { expiresInS: 60, contentType: 'image/jpeg' })
    await expectRefused(await get(putUrl), 'This link does not allow this method')
    await expectRefused(
      await callRoute(() =>
        action({
          request: new Request(putUrl, { method: 'POST', body: 'x', headers: { 'content-type': 'image/jpeg' } }),
          params: { '*': key },
          context: ctx.context,
        }),
      ),
      'This link does not allow this method',
    )
    await expectRefused(
      await put(putUrl, { body: '<svg/>', headers: { 'content-type': 'image/svg+xml' } }),
      'Invalid signature (a PUT must send the Content-Type it was signed for)',
    )
    const tampered = getUrl.replace(/sig=([0-9a-f])/, (_, c: string) => `sig=${c === 'a' ? 'b' : 'a'}`)
    await expectRefused(await get(tampered), 'Invalid signature')

    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 61_000)
    const late = await get(getUrl)
    vi.useRealTimers()
    await expectRefused(late, 'This link has expired')

    expect(await content(key)).toBe('private')
  })
})
