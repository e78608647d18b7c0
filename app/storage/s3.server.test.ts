// The S3 driver against s3rver on 127.0.0.1, through the real AWS SDK (path-style, as most
// S3-compatible stores need). tests/s3/s3rver.ts also checks the signatures of presigned URLs.
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import { S3RVER_CREDENTIALS, start } from '../../tests/s3/s3rver'
import { callRoute, ctx } from '../../tests/db-utils'
import { loader } from '../routes/resources+/storage.$'
import { S3Storage } from './s3.server'
import { defineStorageContract } from './contract'
import { getStorage } from './storage.server'

// Before any app module reads the environment: this file's app is configured for S3, and the SDK's
// default credential chain finds s3rver's account in the environment.
vi.hoisted(() => {
  process.env.S3_BUCKET = 'configured-bucket'
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER'
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER'
})

const bucket = 'trainyard-test'
let s3: Awaited<ReturnType<typeof start>>
let storage: S3Storage

beforeAll(async () => {
  expect(process.env.AWS_ACCESS_KEY_ID).toBe(S3RVER_CREDENTIALS.accessKeyId)
  s3 = await start({ bucket })
  storage = new S3Storage({ bucket, region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true })
})

afterAll(async () => {
  await s3?.stop()
  // Should this worker process run another file, it must not inherit S3.
  for (const name of ['S3_BUCKET', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) delete process.env[name]
})

defineStorageContract(() => ({
  storage,
  fetchSigned: (url, init = {}) => fetch(url, { ...init, body: init.body && new Uint8Array(init.body) }),
}))

describe('S3 driver', () => {
  test('with S3_BUCKET set the app uses S3, and the local signed-URL route answers 404', async () => {
    const configured = await getStorage()
    expect(configured).toBeInstanceOf(S3Storage)
    expect(configured.driver).toBe('s3')
    const response = await callRoute(() =>
      loader({
        request: new Request('http://localhost/resources/storage/a.jpg?expires=9999999999&method=GET&sig=00'),
        params: { '*': 'a.jpg' },
        context: ctx.context,
      }),
    )
    expect(response.status).toBe(404)
  })

  test('a presigned PUT signs the content type and carries no checksum of an empty body', async () => {
    const url = new URL(
      await storage.signedPutUrl('runs/r1/lora.safetensors', { expiresInS: 60, contentType: 'application/octet-stream' }),
    )
    expect(url.pathname).toBe(`/${bucket}/runs/r1/lora.safetensors`)
    expect(url.searchParams.get('X-Amz-SignedHeaders')?.split(';')).toContain('content-type')
    expect([...url.searchParams.keys()].filter((name) => /checksum/i.test(name))).toEqual([])
  })

  test('a missing bucket is an error, not a missing object', async () => {
    const wrong = new S3Storage({ bucket: 'no-such-bucket', region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true })
    await expect(wrong.get('a.jpg')).rejects.toThrow()
  })
})
