// Helpers of the signed-URL route (storage.$.tsx beside it), kept apart so tests can use a small cap.

/** A signed PUT may carry up to this much: weights are big, unlike the images of the upload form. */
export const MAX_SIGNED_PUT_BYTES = 2 * 1024 * 1024 * 1024

export class PayloadTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`The body is larger than ${maxBytes} bytes`)
    this.name = 'PayloadTooLargeError'
  }
}

/** The request body failed while being read: the uploader went away. Not the server's fault. */
export class UploadInterruptedError extends Error {
  constructor(cause: unknown) {
    super('The upload was interrupted', { cause })
    this.name = 'UploadInterruptedError'
  }
}

/**
 * Passes a request body through, failing as soon as more than `maxBytes` have gone by, and marking a
 * failure of the body itself as an interruption (so storage errors stay distinguishable from it).
 */
export async function* readBody(source: AsyncIterable<Uint8Array>, maxBytes: number): AsyncGenerator<Uint8Array, void> {
  const iterator = source[Symbol.asyncIterator]()
  let total = 0
  let finished = false
  try {
    while (true) {
      let next: IteratorResult<Uint8Array>
      try {
        next = await iterator.next()
      } catch (error) {
        finished = true
        throw new UploadInterruptedError(error)
      }
      if (next.done) {
        finished = true
        return
      }
      total += next.value.byteLength
      if (total > maxBytes) throw new PayloadTooLargeError(maxBytes)
      yield next.value
    }
  } finally {
    // Stopped early (too large, or storage failed): stop reading the body too.
    if (!finished) await iterator.return?.()
  }
}
