// Toasts: a one-shot message carried by a flash cookie across a redirect, shown by the root.
import { createCookieSessionStorage, redirect } from '@remix-run/node'
import { z } from 'zod'
import { cookieOptions } from './session.server'

const ToastSchema = z.object({
  id: z.string().default(() => Math.random().toString(36).slice(2)),
  type: z.enum(['success', 'error', 'message']).default('message'),
  title: z.string().optional(),
  description: z.string(),
})
export type ToastInput = z.input<typeof ToastSchema>

const TOAST_KEY = 'toast'

function storage() {
  return createCookieSessionStorage({
    // The same options as the session cookies, `secure` under https included: a toast can name
    // an email address, and it must not travel over plain http when the site is served over TLS.
    cookie: cookieOptions('toast'),
  })
}

export async function createToastHeaders(toast: ToastInput) {
  const s = storage()
  const session = await s.getSession()
  session.flash(TOAST_KEY, ToastSchema.parse(toast))
  return new Headers({ 'set-cookie': await s.commitSession(session) })
}

export async function redirectWithToast(url: string, toast: ToastInput, init?: ResponseInit) {
  const headers = new Headers(init?.headers)
  for (const cookie of (await createToastHeaders(toast)).getSetCookie()) headers.append('set-cookie', cookie)
  return redirect(url, { ...init, headers })
}

export async function getToast(request: Request) {
  const s = storage()
  const session = await s.getSession(request.headers.get('cookie'))
  const parsed = ToastSchema.safeParse(session.get(TOAST_KEY))
  return {
    toast: parsed.success ? parsed.data : null,
    headers: parsed.success ? new Headers({ 'set-cookie': await s.destroySession(session) }) : null,
  }
}
