// The Blob @huggingface/hub reads a stored file through: its size, any slice, and the stream, read
// from storage only when asked.
import { describe, expect, test } from 'vitest'
import { getStorage } from '~/storage/storage.server'
import { StorageBlob } from './storage-blob.server'

describe('StorageBlob', () => {
  test('size, slices and streams give the stored bytes, whatever the chunking', async () => {
    const storage = await getStorage()
    // Larger than a read chunk (64 KiB), so slices start and end inside chunks.
    const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251))
    await storage.put('runs/blob-test/lora.safetensors', bytes, {
      contentType: 'application/octet-stream',
      contentLength: bytes.length,
    })
    const blob = (await StorageBlob.create(storage, 'runs/blob-test/lora.safetensors'))!
    expect(blob).toBeInstanceOf(Blob)
    expect(blob.size).toBe(bytes.length)
    expect(Buffer.from(await blob.arrayBuffer())).toEqual(bytes)
    expect(Buffer.from(await blob.slice(0, 512).arrayBuffer())).toEqual(bytes.subarray(0, 512))
    expect(Buffer.from(await blob.slice(70_000, 200_001).arrayBuffer())).toEqual(bytes.subarray(70_000, 200_001))
    expect(Buffer.from(await blob.slice(100, 200).slice(10, 20).arrayBuffer())).toEqual(bytes.subarray(110, 120))
    expect(blob.slice(5, 5).size).toBe(0)
    expect(await blob.slice(5, 5).arrayBuffer()).toHaveProperty('byteLength', 0)
    expect(blob.slice(299_990, 400_000).size).toBe(10)
    expect(await new Response(blob.stream()).arrayBuffer()).toEqual(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length),
    )
  })

  test('nothing in storage: null; a file deleted after the blob was made: the stream errors', async () => {
    const storage = await getStorage()
    expect(await StorageBlob.create(storage, 'runs/blob-test/none.safetensors')).toBeNull()
    await storage.put('runs/blob-test/gone.bin', Buffer.from('abc'), {
      contentType: 'application/octet-stream',
      contentLength: 3,
    })
    const blob = (await StorageBlob.create(storage, 'runs/blob-test/gone.bin'))!
    await storage.delete('runs/blob-test/gone.bin')
    await expect(blob.arrayBuffer()).rejects.toThrow('no longer in storage')
  })
})
