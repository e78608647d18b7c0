// A person's webhook endpoints: registered with a checked URL and a fresh signing secret (shown once,
// stored sealed), listed, changed, deleted. The Settings page and the API both call these.
import crypto from 'node:crypto'
import type { PrismaClient } from '@prisma/client'
import { prisma as defaultPrisma } from '../utils/db.server'
import { openSecret, sealSecret } from '../utils/secret-box.server'
import { parseEventList, serializeEventList } from './events'
import { MAX_ENDPOINTS_PER_USER } from './schemas'
import { checkWebhookUrl, type GuardOptions } from './url-guard.server'

/** "whsec_" and base64 of 24 random bytes: the form Standard Webhooks libraries take. */
export function newWebhookSecret() {
  return `whsec_${crypto.randomBytes(24).toString('base64')}`
}

const secretBinding = (endpointId: string) => `webhook:${endpointId}:secret`

export function sealWebhookSecret(endpointId: string, secret: string) {
  return sealSecret(secret, secretBinding(endpointId))
}

/** The endpoint's secret, or null when it no longer opens (SESSION_SECRET was changed). */
export function openWebhookSecret(endpointId: string, sealed: string) {
  return openSecret(sealed, secretBinding(endpointId))
}

export const ENDPOINT_SELECT = {
  id: true,
  url: true,
  description: true,
  events: true,
  enabled: true,
  createdAt: true,
} as const

export function endpointView(row: {
  id: string
  url: string
  description: string
  events: string
  enabled: boolean
  createdAt: Date
}) {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    events: parseEventList(row.events) as string[],
    enabled: row.enabled,
    createdAt: row.createdAt.toISOString(),
  }
}

export type EndpointResult<T> = { ok: true; value: T } | { ok: false; field: 'url' | 'form'; message: string }

export async function createEndpoint(
  input: { userId: string; tokenId?: string | null; url: string; events?: readonly string[]; description?: string },
  { prisma = defaultPrisma, guard }: { prisma?: PrismaClient; guard?: GuardOptions } = {},
): Promise<EndpointResult<{ endpoint: ReturnType<typeof endpointView>; secret: string }>> {
  const count = await prisma.webhookEndpoint.count({ where: { userId: input.userId } })
  if (count >= MAX_ENDPOINTS_PER_USER)
    return { ok: false, field: 'form', message: `You have ${MAX_ENDPOINTS_PER_USER} endpoints, the most: delete one first.` }
  const check = await checkWebhookUrl(input.url, guard)
  if (!check.ok) return { ok: false, field: 'url', message: check.reason }
  // The id is made here so the sealed secret can be bound to it.
  const id = `wh${crypto.randomBytes(12).toString('hex')}`
  const secret = newWebhookSecret()
  const row = await prisma.webhookEndpoint.create({
    data: {
      id,
      userId: input.userId,
      tokenId: input.tokenId ?? null,
      url: check.url.href,
      events: serializeEventList(input.events),
      description: input.description ?? '',
      secret: sealWebhookSecret(id, secret),
    },
    select: ENDPOINT_SELECT,
  })
  return { ok: true, value: { endpoint: endpointView(row), secret } }
}

export async function updateEndpoint(
  endpointId: string,
  input: { url?: string; events?: readonly string[]; description?: string; enabled?: boolean },
  { prisma = defaultPrisma, guard }: { prisma?: PrismaClient; guard?: GuardOptions } = {},
): Promise<EndpointResult<ReturnType<typeof endpointView>>> {
  let url: string | undefined
  if (input.url !== undefined) {
    const check = await checkWebhookUrl(input.url, guard)
    if (!check.ok) return { ok: false, field: 'url', message: check.reason }
    url = check.url.href
  }
  const row = await prisma.webhookEndpoint.update({
    where: { id: endpointId },
    data: {
      ...(url !== undefined ? { url } : {}),
      ...(input.events !== undefined ? { events: serializeEventList(input.events) } : {}),
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
    },
    select: ENDPOINT_SELECT,
  })
  return { ok: true, value: endpointView(row) }
}

/** The user's endpoint, or null when there is none of theirs with this id (someone else's is none). */
export async function getOwnEndpoint(userId: string, endpointId: string, prisma: PrismaClient = defaultPrisma) {
  return prisma.webhookEndpoint.findFirst({ where: { id: endpointId, userId }, select: ENDPOINT_SELECT })
}

export function deliveryView(row: {
  id: string
  eventType: string
  status: string
  attempts: number
  lastStatusCode: number | null
  lastResponse: string | null
  createdAt: Date
  deliveredAt: Date | null
  nextAttemptAt: Date
}) {
  return {
    id: row.id,
    eventType: row.eventType,
    status: row.status,
    attempts: row.attempts,
    lastStatusCode: row.lastStatusCode,
    lastResponse: row.lastResponse,
    createdAt: row.createdAt.toISOString(),
    deliveredAt: row.deliveredAt?.toISOString() ?? null,
    // Only a pending delivery has a next attempt.
    nextAttemptAt: row.status === 'pending' ? row.nextAttemptAt.toISOString() : null,
  }
}

export const DELIVERY_SELECT = {
  id: true,
  eventType: true,
  status: true,
  attempts: true,
  lastStatusCode: true,
  lastResponse: true,
  createdAt: true,
  deliveredAt: true,
  nextAttemptAt: true,
} as const
