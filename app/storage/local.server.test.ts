// The local driver: the shared contract (signed URLs through the real route), then what only a
// folder on disk can get wrong — atomic writes, leftovers, paths.
import fs from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { afterAll, describe, expect, test, vi } from 'vitest'
import { callRoute, ctx } from '../../tests/db-utils'
import { action, loader } from '../routes/resources+/storage.$'
import { getEnv } from '../utils/env.server'
import { contentTypeOfKey, LocalStorage, SIGNED_URL_PATH } from './local.server'
import { chunked, defineStorageContract, failingAfter, readAll, type StorageHarness } from './contract'
import { getStorage } from './storage.server'

// Before any app module reads the environment: the app's own storage (behind the route) is this folder.
vi.hoisted(() => {
  process.env.STORAGE_DIR = `tests/.tmp/storage-${process.pid}-${Math.random().toString(36).slice(2)}`
})

const env = getEnv()
const storage = new LocalStorage({ dir: env.STORAGE_DIR, appUrl: env.APP_URL, secret: env.SESSION_SECRET })

/** What Remix does with a request to a signed URL: GET and HEAD go to the loader, the rest to the action. */
const fetchThroughRoute: StorageHarness['fetchSigned'] = (url, init = {}) => {
  const request = new Request(url, { ...init, body: init.body && new Uint8Array(init.body) })
  const { pathname } = new URL(url)
  expect(pathname.startsWith(SIGNED_URL_PATH)).toBe(true)
  const args = { request, params: { '*': decodeURIComponent(pathname.slice(SIGNED_URL_PATH.length)) }, context: ctx.context }
  return callRoute(() => (request.method === 'GET' || request.method === 'HEAD' ? loader(args) : action(args)))
}

afterAll(async () => {
  await fs.rm(storage.dir, { recursive: true, force: true })
  delete process.env.STORAGE_DIR
})

defineStorageContract(() => ({ storage, fetchSigned: fetchThroughRoute }))

describe('local driver', () => {
  test('the app uses it by default, in STORAGE_DIR resolved from the working directory', async () => {
    const configured = await getStorage()
    expect(configured).toBeInstanceOf(LocalStorage)
    expect((configured as LocalStorage).dir).toBe(path.resolve(process.cwd(), env.STORAGE_DIR))
  })

  test('a key is a file under the folder, and signed URLs point at the app', async () => {
    await storage.put('trainings/t1/images/i1.jpg', Buffer.from('jpeg'), { contentType: 'image/jpeg' })
    expect(await fs.readFile(path.join(storage.dir, 'trainings/t1/images/i1.jpg'), 'utf8')).toBe('jpeg')
    const url = await storage.signedGetUrl('trainings/t1/images/i1.jpg', { expiresInS: 60 })
    expect(url).toMatch(
      new RegExp(`^${env.APP_URL}/resources/storage/trainings/t1/images/i1\\.jpg\\?expires=\\d+&method=GET&sig=[0-9a-f]{64}$`),
    )
  })

  test('while a put is streaming, readers see the old file whole; afterwards the new one', async () => {
    const key = 'atomic/photo.jpg'
    await storage.put(key, Buffer.from('old'), { contentType: 'image/jpeg' })
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const slow = Readable.from(
      (async function* () {
        yield Buffer.from('new ')
        await gate
        yield Buffer.from('content')
      })(),
    )
    const putting = storage.put(key, slow, { contentType: 'image/jpeg' })
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect((await readAll((await storage.get(key))!.body)).toString()).toBe('old')
    release()
    await putting
    expect((await readAll((await storage.get(key))!.body)).toString()).toBe('new content')
    expect(await fs.readdir(path.join(storage.dir, 'atomic'))).toEqual(['photo.jpg'])
  })

  test('a failed put leaves no temporary file behind', async () => {
    await expect(storage.put('leftovers/a.jpg', failingAfter(256 * 1024), { contentType: 'image/jpeg' })).rejects.toThrow()
    await expect(
      storage.put('leftovers/b.jpg', chunked(Buffer.alloc(10)), { contentType: 'image/jpeg', contentLength: 11 }),
    ).rejects.toThrow()
    expect(await fs.readdir(path.join(storage.dir, 'leftovers'))).toEqual([])
  })

  test('a reader that opened the file keeps its content when a put replaces it', async () => {
    const key = 'replace/while-reading.png'
    await storage.put(key, Buffer.from('first'), { contentType: 'image/png' })
    const reading = await storage.get(key)
    await storage.put(key, Buffer.from('second, longer'), { contentType: 'image/png' })
    expect(reading!.size).toBe(5)
    expect((await readAll(reading!.body)).toString()).toBe('first')
  })

  test('a key through a file names nothing', async () => {
    await storage.put('file.jpg', Buffer.from('x'), { contentType: 'image/jpeg' })
    expect(await storage.get('file.jpg/inner.jpg')).toBeNull()
    expect(await storage.exists('file.jpg/inner.jpg')).toBe(false)
  })

  test('the content type follows the extension', () => {
    expect(contentTypeOfKey('a/b.JPG')).toBe('image/jpeg')
    expect(contentTypeOfKey('a/b.webp')).toBe('image/webp')
    expect(contentTypeOfKey('runs/r/lora.safetensors')).toBe('application/octet-stream')
    expect(contentTypeOfKey('a/b.html')).toBe('application/octet-stream')
  })

  test('a content type with control characters is refused', async () => {
    await expect(storage.put('ct.jpg', Buffer.from('x'), { contentType: 'image/jpeg\r\nx-evil: 1' })).rejects.toThrow(
      'Invalid content type',
    )
    await expect(storage.signedPutUrl('ct.jpg', { expiresInS: 60, contentType: 'a\nb' })).rejects.toThrow('Invalid content type')
  })
})
