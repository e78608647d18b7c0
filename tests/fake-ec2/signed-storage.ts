// The app's signed-URL route, in miniature, for tests of the ec2 provider without the app: a real
// LocalStorage in a temporary folder whose signed GET URLs point here, checked with the storage's own
// signature check before the file is served. What the machines of the fake EC2 fetch at boot (the agent,
// the stand-in trainer, a stored job) comes from here, as it would come from the app or S3.
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { LocalStorage, SIGNED_URL_PATH } from '../../app/storage/local.server'

export type SignedStorage = {
  storage: LocalStorage
  /** Every key served, in order (a refused request is not listed). */
  served: () => string[]
  stop: () => Promise<void>
}

export async function startSignedStorage(): Promise<SignedStorage> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signed-storage-'))
  const served: string[] = []
  let storage: LocalStorage | null = null
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://storage')
      const key = url.pathname.startsWith(SIGNED_URL_PATH) ? url.pathname.slice(SIGNED_URL_PATH.length) : ''
      const check = storage?.verifySignedRequest({ key, query: url.searchParams, method: req.method ?? 'GET' })
      if (req.method !== 'GET' || !check?.valid) return res.writeHead(403).end('refused')
      const object = await storage!.get(key)
      if (!object) return res.writeHead(404).end('not found')
      served.push(key)
      res.writeHead(200, { 'content-type': object.contentType ?? 'application/octet-stream' })
      object.body.pipe(res)
    })().catch(() => res.writeHead(500).end())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  storage = new LocalStorage({ dir, appUrl: `http://127.0.0.1:${port}`, secret: crypto.randomBytes(32).toString('hex') })
  return {
    storage,
    served: () => [...served],
    async stop() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}
