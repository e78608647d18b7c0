// Sending deliveries: one step of every supervisor cycle (../runs/supervisor/cycle.server.ts), in every
// process that supervises. A process claims a due delivery with one conditional write (a lease:
// lockedBy/lockedUntil, as runs are leased), so each attempt is made by one process; signs the stored body
// the Standard Webhooks way (the standardwebhooks library); checks the URL again and connects to the
// address it checked; POSTs with a timeout and never follows a redirect; and records the answer. A 2xx is
// delivered; anything else is tried again after the next wait of the schedule, then given up (failed).
//
// A process that dies while sending leaves its lease, which runs out: another process sends again, with
// the same webhook-id, so a receiver that drops repeated ids sees the event once.
import http from 'node:http'
import https from 'node:https'
import type { LookupFunction } from 'node:net'
import type { PrismaClient } from '@prisma/client'
import { Webhook } from 'standardwebhooks'
import { prisma as defaultPrisma } from '../utils/db.server'
import { forEachLimit } from '../utils/concurrency'
import { openWebhookSecret } from './endpoints.server'
import { checkWebhookUrl, type GuardOptions, type ResolvedAddress } from './url-guard.server'

const SECOND_MS = 1000
const MINUTE_MS = 60 * SECOND_MS
const HOUR_MS = 60 * MINUTE_MS
/** The waits after each failed attempt, as Standard Webhooks' own service retries; then the delivery fails. */
export const DEFAULT_RETRY_DELAYS_MS = [
  5 * SECOND_MS,
  5 * MINUTE_MS,
  30 * MINUTE_MS,
  2 * HOUR_MS,
  5 * HOUR_MS,
  10 * HOUR_MS,
  10 * HOUR_MS,
]
export const DEFAULT_TIMEOUT_MS = 10 * SECOND_MS
/** Deliveries one process claims per cycle, and sends at once: a backlog cannot stall the supervisor. */
export const DEFAULT_BATCH_SIZE = 25
export const DEFAULT_CONCURRENCY = 8
/** The start of the receiver's answer that is kept for the delivery log. */
export const RESPONSE_KEEP_BYTES = 1024
/** A disabled endpoint's pending deliveries wait this long before they are looked at again. */
const DISABLED_RECHECK_MS = 5 * MINUTE_MS

export type DeliverOptions = {
  prisma?: PrismaClient
  workerId: string
  now?: () => Date
  retryDelaysMs?: readonly number[]
  timeoutMs?: number
  batchSize?: number
  concurrency?: number
  guard?: GuardOptions
}

export type DeliverStats = { claimed: number; delivered: number; retrying: number; failed: number; problems: string[] }

export async function deliverDueWebhooks(options: DeliverOptions): Promise<DeliverStats> {
  const prisma = options.prisma ?? defaultPrisma
  const clock = options.now ?? (() => new Date())
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  // The lease outlasts the longest attempt (its timeout), with room for a slow database.
  const leaseMs = timeoutMs + 30 * SECOND_MS
  const stats: DeliverStats = { claimed: 0, delivered: 0, retrying: 0, failed: 0, problems: [] }
  const now = clock()
  const due = await prisma.webhookDelivery.findMany({
    where: { status: 'pending', nextAttemptAt: { lte: now }, OR: [{ lockedUntil: null }, { lockedUntil: { lt: now } }] },
    orderBy: [{ nextAttemptAt: 'asc' }, { id: 'asc' }],
    take: options.batchSize ?? DEFAULT_BATCH_SIZE,
    select: { id: true },
  })
  const claimed: string[] = []
  for (const { id } of due) {
    const { count } = await prisma.webhookDelivery.updateMany({
      where: { id, status: 'pending', OR: [{ lockedUntil: null }, { lockedUntil: { lt: now } }] },
      data: { lockedBy: options.workerId, lockedUntil: new Date(now.getTime() + leaseMs) },
    })
    if (count === 1) claimed.push(id)
  }
  stats.claimed = claimed.length
  await forEachLimit(claimed, options.concurrency ?? DEFAULT_CONCURRENCY, async (id) => {
    try {
      const outcome = await deliverOne(prisma, id, { ...options, clock, timeoutMs })
      if (outcome) stats[outcome]++
    } catch (error) {
      // The database: the lease runs out and a later cycle tries again.
      stats.problems.push(`webhook delivery ${id}: ${error instanceof Error ? error.message : String(error)}`)
    }
  })
  return stats
}

async function deliverOne(
  prisma: PrismaClient,
  id: string,
  options: DeliverOptions & { clock: () => Date; timeoutMs: number },
): Promise<'delivered' | 'retrying' | 'failed' | null> {
  const delivery = await prisma.webhookDelivery.findUnique({
    where: { id },
    select: {
      id: true,
      payload: true,
      attempts: true,
      endpoint: { select: { id: true, url: true, secret: true, enabled: true } },
    },
  })
  if (!delivery) return null
  const mine = { id, lockedBy: options.workerId }
  if (!delivery.endpoint.enabled) {
    await prisma.webhookDelivery.updateMany({
      where: mine,
      data: { lockedBy: null, lockedUntil: null, nextAttemptAt: new Date(options.clock().getTime() + DISABLED_RECHECK_MS) },
    })
    return null
  }
  const attemptAt = options.clock()
  const result = await attempt(delivery, options)
  const attempts = delivery.attempts + 1
  const ok = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300
  const delays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS
  const giveUp = !ok && attempts > delays.length
  const done = options.clock()
  await prisma.webhookDelivery.updateMany({
    where: mine,
    data: {
      attempts,
      lastStatusCode: result.statusCode,
      lastResponse: result.response,
      lastAttemptAt: attemptAt,
      lockedBy: null,
      lockedUntil: null,
      ...(ok
        ? { status: 'delivered', deliveredAt: done }
        : giveUp
          ? { status: 'failed' }
          : { nextAttemptAt: new Date(done.getTime() + delays[attempts - 1]!) }),
    },
  })
  return ok ? 'delivered' : giveUp ? 'failed' : 'retrying'
}

type AttemptResult = { statusCode: number | null; response: string }

async function attempt(
  delivery: { id: string; payload: string; endpoint: { id: string; url: string; secret: string } },
  options: DeliverOptions & { clock: () => Date; timeoutMs: number },
): Promise<AttemptResult> {
  const secret = openWebhookSecret(delivery.endpoint.id, delivery.endpoint.secret)
  if (!secret)
    return {
      statusCode: null,
      response:
        'Not sent: the signing secret can no longer be read (the server’s secret was changed). Delete this endpoint and add it again.',
    }
  // Checked at every attempt: the name may point somewhere else since the endpoint was registered.
  const check = await checkWebhookUrl(delivery.endpoint.url, options.guard)
  if (!check.ok) return { statusCode: null, response: `Not sent: ${check.reason}` }
  const timestamp = options.clock()
  const signature = new Webhook(secret).sign(delivery.id, timestamp, delivery.payload)
  return post(check.url, check.addresses[0]!, {
    body: delivery.payload,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'Trainyard-Webhooks/1',
      'webhook-id': delivery.id,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': signature,
    },
    timeoutMs: options.timeoutMs,
  })
}

/**
 * One POST to the URL, connected to `address` whatever DNS says now (the lookup answers only it), never
 * following a redirect (node's http does not), ended after `timeoutMs` whole, keeping the answer's first
 * RESPONSE_KEEP_BYTES.
 */
export function post(
  url: URL,
  address: ResolvedAddress,
  { body, headers, timeoutMs }: { body: string; headers: Record<string, string>; timeoutMs: number },
): Promise<AttemptResult> {
  const pinned: LookupFunction = (_hostname, lookupOptions, callback) => {
    // With `all` (Node's happy-eyeballs connect asks so) the answer is a list.
    if ((lookupOptions as { all?: boolean }).all)
      (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [address])
    else callback(null, address.address, address.family)
  }
  const client = url.protocol === 'https:' ? https : http
  return new Promise((resolve) => {
    let settled = false
    const finish = (result: AttemptResult) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      request.destroy()
      resolve(result)
    }
    const request = client.request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup: pinned,
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = []
        let kept = 0
        const done = () =>
          finish({
            statusCode: response.statusCode ?? null,
            response: Buffer.concat(chunks).toString('utf8').slice(0, RESPONSE_KEEP_BYTES),
          })
        response.on('data', (chunk: Buffer) => {
          if (kept < RESPONSE_KEEP_BYTES) {
            chunks.push(chunk.subarray(0, RESPONSE_KEEP_BYTES - kept))
            kept += Math.min(chunk.length, RESPONSE_KEEP_BYTES - kept)
          }
          // Enough read: the rest of a large answer is not waited for.
          if (kept >= RESPONSE_KEEP_BYTES) done()
        })
        response.on('end', done)
        response.on('error', done)
      },
    )
    const timer = setTimeout(
      () => finish({ statusCode: null, response: `No answer within ${Number((timeoutMs / 1000).toFixed(1))} s (timed out).` }),
      timeoutMs,
    )
    request.on('error', (error) =>
      finish({ statusCode: null, response: `Could not deliver: ${error.message}`.slice(0, RESPONSE_KEEP_BYTES) }),
    )
    request.end(body)
  })
}
