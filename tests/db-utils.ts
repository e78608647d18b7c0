// Helpers for tests that need users and sessions. They write through the app's own Prisma client.
import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import bcrypt from 'bcryptjs'
import { prisma } from '~/utils/db.server'
import { authSessionStorage } from '~/utils/session.server'
import { getSessionExpirationDate } from '~/utils/auth.server'

export function uniqueEmail(prefix = 'user') {
  return `${prefix}-${crypto.randomBytes(5).toString('hex')}@example.test`
}

export const TEST_PASSWORD = 'correct-horse-battery'

/** A user with a password and the given roles (default: the user role). Bcrypt cost 4 keeps it fast. */
export async function createUser({
  email = uniqueEmail(),
  name = 'Test User',
  password = TEST_PASSWORD,
  roles = ['user'],
}: { email?: string; name?: string; password?: string | null; roles?: string[] } = {}) {
  return prisma.user.create({
    select: { id: true, email: true, name: true },
    data: {
      email,
      name,
      ...(password ? { password: { create: { hash: bcrypt.hashSync(password, 4) } } } : {}),
      roles: { connect: roles.map((name) => ({ name })) },
    },
  })
}

/** A real session row and the Cookie header that carries it: log in without typing a password. */
export async function createSessionCookie(userId: string) {
  const session = await prisma.session.create({
    data: { userId, expirationDate: getSessionExpirationDate() },
  })
  const authSession = await authSessionStorage.getSession()
  authSession.set('sessionId', session.id)
  const setCookie = await authSessionStorage.commitSession(authSession)
  return { sessionId: session.id, cookie: setCookie.split(';')[0]! }
}

/** The newest message in the outbox addressed to `to`, or null. */
export async function readEmail(to: string) {
  const dir = path.resolve(process.env.MAIL_OUTBOX_DIR ?? 'data/outbox')
  const files = (await fs.readdir(dir).catch(() => [] as string[]))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .reverse()
  for (const file of files) {
    const email = JSON.parse(await fs.readFile(path.join(dir, file), 'utf8')) as {
      to: string
      subject: string
      text: string
      html: string
    }
    if (email.to === to) return email
  }
  return null
}

/** The 6-digit code in an email's text. */
export function codeFromEmail(email: { text: string } | null) {
  const match = email?.text.match(/\b(\d{6})\b/)
  if (!match) throw new Error(`No 6-digit code in email: ${email?.text}`)
  return match[1]!
}

/** A Request as Remix would pass it to a loader or action. */
export function makeRequest(
  url: string,
  {
    method = 'GET',
    form,
    cookie,
    headers,
  }: { method?: string; form?: Record<string, string | string[]>; cookie?: string; headers?: Record<string, string> } = {},
) {
  const h = new Headers(headers)
  if (cookie) h.set('cookie', cookie)
  let body: FormData | undefined
  if (form) {
    body = new FormData()
    for (const [k, v] of Object.entries(form)) for (const item of [v].flat()) body.append(k, item)
  }
  return new Request(new URL(url, 'http://localhost').toString(), { method: form ? 'POST' : method, headers: h, body })
}

/** Runs a loader or action and returns the Response whether it was returned or thrown. */
export async function callRoute(fn: () => unknown): Promise<Response> {
  try {
    const result = await fn()
    if (result instanceof Response) return result
    throw new Error(`Expected a Response, got ${typeof result}`)
  } catch (error) {
    if (error instanceof Response) return error
    throw error
  }
}

/** Turns a Set-Cookie header into a Cookie header, merging with the cookies we already had. */
export function mergeCookies(previous: string | undefined, response: Response) {
  const jar = new Map<string, string>()
  for (const part of (previous ?? '').split(/;\s*/).filter(Boolean)) {
    const [k, ...v] = part.split('=')
    jar.set(k!, v.join('='))
  }
  for (const setCookie of response.headers.getSetCookie()) {
    const [pair] = setCookie.split(';')
    const [k, ...v] = pair!.split('=')
    const value = v.join('=')
    if (/expires=Thu, 01 Jan 1970/i.test(setCookie) || value === '') jar.delete(k!)
    else jar.set(k!, value)
  }
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
}

export const ctx = { context: { cspNonce: '' }, params: {} }
