// A Blob over an object in storage, read only when asked and as a stream: what @huggingface/hub takes as
// a file's content (it reads `size`, a 512-byte slice to sniff, and `stream()` to hash and to upload),
// so a LoRA of hundreds of megabytes goes from storage (a folder or S3) to the Hub without being held
// in memory. Modelled on the library's own FileBlob, which does the same for a local path.
import type { Readable } from 'node:stream'
import type { Storage } from '../storage/storage.server'

export class StorageBlob extends Blob {
  /** A blob of the whole object, or null when storage has none under `key`. */
  static async create(storage: Storage, key: string) {
    const head = await storage.readPrefix(key, 0)
    return head ? new StorageBlob(storage, key, 0, head.size) : null
  }

  private constructor(
    private readonly storage: Storage,
    readonly key: string,
    private readonly start: number,
    private readonly end: number,
  ) {
    super()
  }

  override get size() {
    return this.end - this.start
  }

  override get type() {
    return 'application/octet-stream'
  }

  override slice(start = 0, end = this.size) {
    if (start < 0 || end < 0) throw new TypeError('StorageBlob.slice takes no negative offsets')
    return new StorageBlob(this.storage, this.key, this.start + Math.min(start, this.size), this.start + Math.min(end, this.size))
  }

  override stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
    const { storage, key, start, end } = this
    if (start >= end) return new Blob([]).stream()
    let body: Readable | null = null
    let chunks: AsyncIterator<Buffer> | null = null
    let position = 0
    return new ReadableStream<Uint8Array<ArrayBuffer>>({
      async pull(controller) {
        if (!chunks) {
          const object = await storage.get(key)
          if (!object) throw new Error(`${key} is no longer in storage`)
          body = object.body
          chunks = object.body[Symbol.asyncIterator]() as AsyncIterator<Buffer>
        }
        // Bounded: each turn consumes one chunk of the object, which is finite.
        for (;;) {
          const next = await chunks.next()
          if (next.done) {
            if (position < end) controller.error(new Error(`${key} in storage is shorter than it was`))
            else controller.close()
            return
          }
          const chunk = next.value
          const from = Math.max(0, start - position)
          const to = Math.min(chunk.length, end - position)
          position += chunk.length
          if (to > from) controller.enqueue(new Uint8Array(chunk.subarray(from, to)))
          if (position >= end) {
            controller.close()
            body?.destroy()
            return
          }
          if (to > from) return
        }
      },
      cancel() {
        body?.destroy()
      },
    })
  }

  override async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.bytes()
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
  }

  override async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    const parts: Uint8Array<ArrayBuffer>[] = []
    const reader = this.stream().getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      parts.push(value)
    }
    return new Uint8Array(Buffer.concat(parts))
  }

  override async text() {
    return new TextDecoder().decode(await this.bytes())
  }
}
