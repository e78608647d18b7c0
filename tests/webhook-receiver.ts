// A local webhook receiver for the tests: an HTTP server on 127.0.0.1 that records every POST (headers and
// raw body) and answers as told — a status and body per request in turn, or a hang (no answer at all).
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export type ReceivedWebhook = { path: string; headers: Record<string, string>; body: string; at: number }
export type ReceiverAnswer = { status: number; body?: string } | 'hang'

export async function startWebhookReceiver({
  answers = [] as ReceiverAnswer[],
  fallback = { status: 204 } as ReceiverAnswer,
} = {}) {
  const received: ReceivedWebhook[] = []
  const queue = [...answers]
  const hanging = new Set<http.ServerResponse>()
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]),
      )
      received.push({ path: req.url ?? '/', headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() })
      const answer = queue.shift() ?? fallback
      if (answer === 'hang') {
        hanging.add(res)
        return
      }
      res.writeHead(answer.status, { 'content-type': 'text/plain' })
      res.end(answer.body ?? '')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    /** What later requests are answered (in turn, then the fallback). */
    answer(...more: ReceiverAnswer[]) {
      queue.push(...more)
    },
    async close() {
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
export type WebhookReceiver = Awaited<ReturnType<typeof startWebhookReceiver>>
