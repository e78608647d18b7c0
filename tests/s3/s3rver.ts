// s3rver, the S3 stand-in of the tests, on 127.0.0.1 and a free port, in a temporary folder.
// It runs behind a server of our own that checks presigned URLs (tests/s3/sigv4.ts): s3rver checks
// their expiry but not their signature, and the tests must see a forged URL refused.
import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import S3rver from 's3rver'
import { tmpDir } from '../setup/paths'
import { isPresigned, verifyPresignedV4 } from './sigv4'

/** s3rver's built-in account; point the SDK's default credential chain at it. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }

export async function start({ bucket }: { bucket: string }) {
  const directory = path.join(tmpDir, `s3rver-${crypto.randomBytes(4).toString('hex')}`)
  await fs.mkdir(directory, { recursive: true })
  const s3rver = new S3rver({ directory, silent: true, configureBuckets: [{ name: bucket }] })
  await s3rver.configureBuckets()
  const handle = s3rver.callback()
  const secrets = { [S3RVER_CREDENTIALS.accessKeyId]: S3RVER_CREDENTIALS.secretAccessKey }

  const server = http.createServer((req, res) => {
    const request = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers }
    if (isPresigned(request.url)) {
      const result = verifyPresignedV4(request, secrets)
      if (!result.ok) {
        req.resume()
        res.writeHead(403, { 'content-type': 'application/xml' })
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${result.code}</Code><Message>${result.message}</Message></Error>`,
        )
        return
      }
    }
    handle(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    endpoint: `http://127.0.0.1:${port}`,
    directory,
    async stop() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      s3rver.logger.close()
      await fs.rm(directory, { recursive: true, force: true })
    },
  }
}
