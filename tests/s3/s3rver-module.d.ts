// s3rver ships no types; this covers what tests/s3/s3rver.ts uses.
declare module 's3rver' {
  import type { IncomingMessage, ServerResponse } from 'node:http'

  type S3rverOptions = {
    directory: string
    silent?: boolean
    configureBuckets?: { name: string; configs?: string[] }[]
    allowMismatchedSignatures?: boolean
  }

  export default class S3rver {
    constructor(options: S3rverOptions)
    configureBuckets(): Promise<void>
    /** The Koa request handler, for a server of our own. */
    callback(): (req: IncomingMessage, res: ServerResponse) => void
    logger: { close(): void }
  }
}
