// Personal API tokens: "ty_" and 40 random URL-safe characters (240 bits), shown once. Only a SHA-256 of
// the token is stored — a fast hash is enough for a random secret of this length (nothing to guess), and
// it lets a request be matched with one indexed lookup. A token acts as its user, narrowed to its scopes
// (app/api/scopes.ts), until it expires or is revoked.
import crypto from 'node:crypto'
import { prisma } from '~/utils/db.server'
import { escapeHtml, sendEmail } from '~/utils/email.server'
import { getEnv } from '~/utils/env.server'
import { formatUtc } from '~/utils/format'
import { parseScopes, SCOPE_LABELS, type ApiScope } from './scopes'

export const TOKEN_PREFIX = 'ty_'
const TOKEN_SHAPE = /^ty_[A-Za-z0-9_-]{40}$/
/** How much of the token the list shows, to recognise it: "ty_" and four characters. */
const SHOWN_CHARS = 7
/** lastUsedAt is written at most this often per token, not on every request. */
const LAST_USED_RESOLUTION_MS = 60_000
/**
 * Live tokens (neither revoked nor expired) a person may hold at once: far more than scripts need, and
 * a bound on what a stolen session can mint.
 */
export const MAX_LIVE_TOKENS_PER_USER = 50

export function hashApiToken(token: string) {
  return crypto.createHash('sha256').update(token).digest('hex')
}

export function generateApiToken() {
  return `${TOKEN_PREFIX}${crypto.randomBytes(30).toString('base64url')}`
}

export type NewApiToken = { userId: string; name: string; scopes: ApiScope[]; expiresAt: Date | null }

/** Creates a token and returns it with its row: the only time the token itself exists outside the client. */
export async function createApiToken(token: NewApiToken) {
  const secret = generateApiToken()
  const row = await prisma.apiToken.create({ data: tokenRow(token, secret), select: TOKEN_CREATED_SELECT })
  return { token: secret, row }
}

const TOKEN_CREATED_SELECT = { id: true, name: true, prefix: true, scopes: true, expiresAt: true, createdAt: true } as const

function tokenRow({ userId, name, scopes, expiresAt }: NewApiToken, secret: string) {
  return { userId, name, scopes: scopes.join(','), expiresAt, hash: hashApiToken(secret), prefix: secret.slice(0, SHOWN_CHARS) }
}

/** A token the user may still use: not revoked and not expired. */
function liveTokenWhere(userId: string, now: Date) {
  return { userId, revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] }
}

/**
 * Whether the user holds some "any" permission: only such a person may give a token the admin scope
 * (it would carry nothing otherwise, and offering it would mislead).
 */
export async function mayHoldAdminScope(userId: string) {
  const user = await prisma.user.findFirst({
    select: { id: true },
    where: { id: userId, roles: { some: { permissions: { some: { access: 'any' } } } } },
  })
  return Boolean(user)
}

export type IssuedApiToken =
  | { ok: true; token: string; row: Awaited<ReturnType<typeof createApiToken>>['row'] }
  | { ok: false; reason: 'limit' | 'admin_scope' }

/**
 * Creates a token for Settings, within the rules: the admin scope only for a person holding an "any"
 * permission, at most MAX_LIVE_TOKENS_PER_USER live tokens. The count and the insert happen while the
 * user's row is held (as Start does for budgets), so parallel requests cannot pass the limit together.
 */
export async function issueApiToken(token: NewApiToken, now = new Date()): Promise<IssuedApiToken> {
  if (token.scopes.includes('admin') && !(await mayHoldAdminScope(token.userId))) return { ok: false, reason: 'admin_scope' }
  const secret = generateApiToken()
  return prisma.$transaction(async (tx) => {
    // A no-op write that takes the user's row (PostgreSQL) or the database's write lock (SQLite) first.
    await tx.$executeRaw`UPDATE "User" SET "updatedAt" = "updatedAt" WHERE "id" = ${token.userId}`
    const live = await tx.apiToken.count({ where: liveTokenWhere(token.userId, now) })
    if (live >= MAX_LIVE_TOKENS_PER_USER) return { ok: false as const, reason: 'limit' as const }
    const row = await tx.apiToken.create({ data: tokenRow(token, secret), select: TOKEN_CREATED_SELECT })
    return { ok: true as const, token: secret, row }
  })
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

/**
 * Tells the owner a token was created, as GitHub does: a session someone else has (a shared computer, a
 * stolen cookie) could mint a token that outlives it, and this is how the owner finds out. The token
 * itself is never in it. A mail server that fails does not undo the creation; it is logged.
 */
export async function sendApiTokenCreatedEmail({
  email,
  name,
  prefix,
  scopes,
  expiresAt,
}: {
  email: string
  name: string
  prefix: string
  scopes: readonly ApiScope[]
  expiresAt: Date | null
}) {
  const settings = `${getEnv().APP_URL}/settings/api-tokens`
  const scopeText = scopes.map((scope) => SCOPE_LABELS[scope]).join('; ')
  const expiry = expiresAt ? `It expires on ${formatUtc(expiresAt)}.` : 'It never expires.'
  const advice = 'If this was not you, revoke it in Settings at once, then change your password and sign out your other sessions.'
  const text = [
    `A new API token was created for your Trainyard account: "${name}" (${prefix}…), with the scopes: ${scopeText}. ${expiry}`,
    advice,
    settings,
  ].join('\n\n')
  const html = [
    `<p>A new API token was created for your Trainyard account: <strong>${escapeHtml(name)}</strong> (<code>${escapeHtml(prefix)}…</code>), with the scopes: ${escapeHtml(scopeText)}. ${escapeHtml(expiry)}</p>`,
    `<p>${escapeHtml(advice)}</p>`,
    `<p><a href="${escapeHtml(settings)}">${escapeHtml(settings)}</a></p>`,
  ].join('')
  try {
    await sendEmail({ to: email, subject: 'A new API token was created for your Trainyard account', text, html })
  } catch (error) {
    console.error('Could not send the new-token email', error)
  }
}
