// Signed storage URLs of the local driver over real HTTP: Express + Remix as a child process (the
// production build), so streaming, Remix's decoding of the key and a dropped connection are real.
import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { LocalStorage } from '~/storage/local.server'
import { readAll } from '~/storage/contract'
import { freePort, startAppProcess, type AppProcess } from '../app-process'
import { tmpDir } from '../setup/paths'

const SECRET = 'integration-secret-0123456789'
const storageDir = path.join(tmpDir, `storage-http-${process.pid}`)
let server: AppProcess | undefined
let storage: LocalStorage
let baseUrl: string

beforeAll(async () => {
  // A copy of this file's SQLite database, or (TEST_DB=postgres) its own PostgreSQL database.
  const database = path.join(tmpDir, `storage-http-${process.pid}.db`)
  const sqlite = process.env.DATABASE_URL!.startsWith('file:')
  if (sqlite) await fs.copyFile(process.env.DATABASE_URL!.replace(/^file:/, ''), database)
  const port = await freePort()
  baseUrl = `http://127.0.0.1:${port}`
  // The test signs with the same folder, secret and address as the server: URLs are stateless.
  storage = new LocalStorage({ dir: storageDir, appUrl: baseUrl, secret: SECRET })
  server = await startAppProcess(
    {
      ...process.env,
      NODE_ENV: 'production',
      SESSION_SECRET: SECRET,
      APP_URL: baseUrl,
      DATABASE_URL: sqlite ? `file:${database}` : process.env.DATABASE_URL,
      STORAGE_DIR: storageDir,
      S3_BUCKET: '',
    },
    { port },
  )
})

afterAll(async () => {
  await server?.stop()
  await fs.rm(storageDir, { recursive: true, force: true })
  await fs.rm(path.join(tmpDir, `storage-http-${process.pid}.db`), { force: true })
})

test('a signed PUT streams a large body in, a signed GET streams it out', async () => {
  const key = 'runs/r-http/lora.safetensors'
  const data = crypto.randomBytes(40 * 1024 * 1024)
  const putUrl = await storage.signedPutUrl(key, { expiresInS: 60, contentType: 'application/octet-stream' })
  const put = await fetch(putUrl, { method: 'PUT', body: data, headers: { 'content-type': 'application/octet-stream' } })
  expect(put.status, await put.clone().text()).toBe(201)

  const get = await fetch(await storage.signedGetUrl(key, { expiresInS: 60 }), { headers: { 'accept-encoding': 'gzip' } })
  expect(get.status).toBe(200)
  expect(get.headers.get('content-type')).toBe('application/octet-stream')
  expect(get.headers.get('cache-control')).toBe('private, no-transform')
  // Not gzipped on the way (random bytes do not shrink, and gzip would cost seconds here).
  expect(get.headers.get('content-encoding')).toBeNull()
  expect(get.headers.get('content-length')).toBe(String(data.length))
  // From the server's security headers, once.
  expect(get.headers.get('x-content-type-options')).toBe('nosniff')
  const body = Buffer.from(await get.arrayBuffer())
  expect(body.length).toBe(data.length)
  expect(body.equals(data)).toBe(true)
})

test('a key that climbs out of the folder is refused, however it is encoded', async () => {
  const { search } = new URL(await storage.signedGetUrl('x.jpg', { expiresInS: 60 }))
  for (const pathname of [
    '/resources/storage/..%2F..%2Fpackage.json',
    '/resources/storage/%2e%2e/%2e%2e/package.json',
    '/resources/storage/a%00b',
  ]) {
    const response = await fetch(`${baseUrl}${pathname}${search}`)
    expect(response.status, pathname).not.toBe(200)
    expect(await response.text()).not.toContain('"name": "trainyard"')
  }
})

test('a connection dropped midway through a PUT stores nothing, and the server stays up', async () => {
  const key = 'runs/r-drop/lora.safetensors'
  const putUrl = new URL(await storage.signedPutUrl(key, { expiresInS: 60, contentType: 'application/octet-stream' }))
  const folder = path.join(storageDir, 'runs/r-drop')
  let whileUploading: string[] = []
  await new Promise<void>((resolve) => {
    const request = http.request(putUrl, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(10 * 1024 * 1024) },
    })
    request.on('error', () => resolve())
    request.write(crypto.randomBytes(1024 * 1024), () => {
      // Give the server time to start writing, then cut the connection.
      setTimeout(async () => {
        whileUploading = await fs.readdir(folder).catch(() => [])
        request.destroy()
        resolve()
      }, 300)
    })
  })
  // Midway indeed: only a temporary file, never the key itself.
  expect(whileUploading).toEqual([expect.stringMatching(/^\.lora\.safetensors~[0-9a-f]+\.tmp$/)])
  // The server notices the dropped connection asynchronously.
  const deadline = Date.now() + 5000
  let leftovers: string[] = ['?']
  while (Date.now() < deadline) {
    leftovers = await fs.readdir(folder).catch(() => [])
    if (leftovers.length === 0) break
    await new Promise((r) => setTimeout(r, 100))
  }
  expect(leftovers).toEqual([])
  expect(await storage.exists(key)).toBe(false)
  expect((await fetch(`${baseUrl}/resources/healthcheck`)).status).toBe(200)
  // An uploader going away is not a server error: nothing is logged.
  await new Promise((r) => setTimeout(r, 200))
  expect(server!.output()).not.toMatch(/error/i)
})

test('what the server stored is what the driver reads', async () => {
  const key = 'trainings/t-http/images/i.png'
  const putUrl = await storage.signedPutUrl(key, { expiresInS: 60, contentType: 'image/png' })
  const put = await fetch(putUrl, { method: 'PUT', body: 'png bytes', headers: { 'content-type': 'image/png' } })
  expect(put.status).toBe(201)
  expect((await readAll((await storage.get(key))!.body)).toString()).toBe('png bytes')
})
