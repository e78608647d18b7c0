// Personal API tokens: "ty_" and 40 random URL-safe characters (240 bits), shown once. Only a SHA-256 of
// the token is stored — a fast hash is enough for a random secret of this length (nothing to guess), and
// it lets a request be matched with one indexed lookup. A token acts as its user, narrowed to its scopes
// (app/api/scopes.ts), until it expires or is revoked.
import crypto from 'node:crypto'
import { prisma } from '~/utils/db.server'
import { parseScopes, type ApiScope } from './scopes'

export const TOKEN_PREFIX = 'ty_'
const TOKEN_SHAPE = /^ty_[A-Za-z0-9_-]{40}$/
/** How much of the token the list shows, to recognise it: "ty_" and four characters. */
const SHOWN_CHARS = 7
/** lastUsedAt is written at most this often per token, not on every request. */
const LAST_USED_RESOLUTION_MS = 60_000

export function hashApiToken(token: string) {
  return crypto.createHash('sha256').update(token).digest('hex')
}

export function generateApiToken() {
  return `${TOKEN_PREFIX}${crypto.randomBytes(30).toString('base64url')}`
}

export type NewApiToken = { userId: string; name: string; scopes: ApiScope[]; expiresAt: Date | null }

/** Creates a token and returns it with its row: the only time the token itself exists outside the client. */
export async function createApiToken({ userId, name, scopes, expiresAt }: NewApiToken) {
  const token = generateApiToken()
  const row = await prisma.apiToken.create({
    data: { userId, name, scopes: scopes.join(','), expiresAt, hash: hashApiToken(token), prefix: token.slice(0, SHOWN_CHARS) },
    select: { id: true, name: true, prefix: true, scopes: true, expiresAt: true, createdAt: true },
  })
  return { token, row }
}

export type TokenCheck =
  | { ok: true; userId: string; tokenId: string; scopes: ApiScope[] }
  | { ok: false; reason: 'missing' | 'malformed' | 'unknown' | 'revoked' | 'expired' }

/** The token in an `Authorization: Bearer …` header, or why there is none that may be used. */
export async function authenticateApiToken(authorization: string | null, now = new Date()): Promise<TokenCheck> {
  if (!authorization) return { ok: false, reason: 'missing' }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
  if (!match || !TOKEN_SHAPE.test(match[1]!)) return { ok: false, reason: 'malformed' }
  const row = await prisma.apiToken.findUnique({
    where: { hash: hashApiToken(match[1]!) },
    select: { id: true, userId: true, scopes: true, expiresAt: true, revokedAt: true, lastUsedAt: true },
  })
  if (!row) return { ok: false, reason: 'unknown' }
  if (row.revokedAt) return { ok: false, reason: 'revoked' }
  if (row.expiresAt && row.expiresAt <= now) return { ok: false, reason: 'expired' }
  if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    // Not awaited by the caller's answer time much: one indexed write a minute per token at most.
    await prisma.apiToken.updateMany({ where: { id: row.id }, data: { lastUsedAt: now } })
  }
  return { ok: true, userId: row.userId, tokenId: row.id, scopes: parseScopes(row.scopes) }
}

/** A user's tokens, newest first, revoked ones included (the list says so). */
export function listApiTokens(userId: string) {
  return prisma.apiToken.findMany({
    where: { userId },
    orderBy: { createdAt: 'desc' },
    select: {
      id: true,
      name: true,
      prefix: true,
      scopes: true,
      expiresAt: true,
      lastUsedAt: true,
      revokedAt: true,
      createdAt: true,
    },
  })
}

/** Revokes one of the user's tokens; false when it is not theirs or was already revoked. */
export async function revokeApiToken(userId: string, tokenId: string, now = new Date()) {
  const { count } = await prisma.apiToken.updateMany({
    where: { id: tokenId, userId, revokedAt: null },
    data: { revokedAt: now },
  })
  return count === 1
}
