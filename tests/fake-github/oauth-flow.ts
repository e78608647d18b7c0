// Drives a whole GitHub sign-in in a vitest test, through the real code: the auth.github action
// (the strategy sets its state cookie and redirects), the stand-in's authorize page (fetched and
// its form submitted, as a person would), the callback loader with the code, state and cookies, and
// the confirm page a connect ends on.
// Import it only from a file that has started the stand-in (see ./vitest.ts).
import { expect } from 'vitest'
import { action as startGitHubLogin } from '~/routes/_auth+/auth.github'
import { loader as gitHubCallback } from '~/routes/_auth+/auth.github_.callback'
import { action as confirmAction } from '~/routes/settings+/connections_.confirm'
import { getUserId } from '~/utils/auth.server'
import { getToast } from '~/utils/toast.server'
import { callRoute, ctx, makeRequest, mergeCookies } from '../db-utils'

export type GitHubAccountInput = {
  login: string
  name?: string
  email?: string
  /** Whether GitHub has verified the email (the stand-in's checkbox); default true. */
  verified?: boolean
}

type DanceInput = {
  account: GitHubAccountInput
  /** The browser's cookies before pressing the button (a logged-in session for "connect"). */
  cookie?: string
  redirectTo?: string
  decision?: 'authorize' | 'cancel'
}

export async function signInWithGitHub(input: DanceInput) {
  const dance = await authorizeAtGitHub(input)
  const response = await callCallback(`${dance.callbackUrl.pathname}${dance.callbackUrl.search}`, dance.jar)
  return { ...dance, ...response }
}

/**
 * Everything up to GitHub's answer: the start and the authorize page. Returns the callback URL
 * (with the code and state) and the browser's cookies at that moment, without calling the callback.
 */
export async function authorizeAtGitHub({ account, cookie, redirectTo, decision = 'authorize' }: DanceInput) {
  const start = await callRoute(() =>
    startGitHubLogin({ request: makeRequest('/auth/github', { form: redirectTo ? { redirectTo } : {}, cookie }), ...ctx }),
  )
  expect(start.status).toBe(302)
  const authorizeUrl = start.headers.get('location')!
  const jar = mergeCookies(cookie, start)

  const page = await fetch(authorizeUrl)
  const html = await page.text()
  expect(page.status, html).toBe(200)
  expect(html).toContain('Sign in to GitHub (local stand-in)')
  const form = new URLSearchParams(hiddenInputs(html))
  form.set('login', account.login)
  form.set('name', account.name ?? '')
  form.set('email', account.email ?? '')
  if (account.verified !== false) form.set('verified', 'on')
  form.set('decision', decision)
  const answer = await fetch(new URL('/login/oauth/authorize', authorizeUrl), { method: 'POST', body: form, redirect: 'manual' })
  expect(answer.status, await answer.clone().text()).toBe(302)
  const callbackUrl = new URL(answer.headers.get('location')!)
  expect(callbackUrl.pathname).toBe('/auth/github/callback')
  return { start, authorizeUrl, callbackUrl, jar }
}

/** Calls the callback loader as the browser would, and reads what it left behind. */
export async function callCallback(pathAndQuery: string, cookie: string | undefined) {
  const response = await callRoute(() => gitHubCallback({ request: makeRequest(pathAndQuery, { cookie }), ...ctx }))
  const jar = mergeCookies(cookie, response)
  return {
    response,
    location: response.headers.get('location'),
    cookie: jar,
    toast: (await getToast(makeRequest('/', { cookie: jar }))).toast,
  }
}

/** Presses Connect or Cancel on /settings/connections/confirm. */
export async function confirmConnection(cookie: string, intent: 'connect' | 'cancel' | undefined) {
  const form: Record<string, string> = intent ? { intent } : {}
  const response = await callRoute(() =>
    confirmAction({ request: makeRequest('/settings/connections/confirm', { form, cookie }), ...ctx }),
  )
  const jar = mergeCookies(cookie, response)
  return {
    response,
    location: response.headers.get('location'),
    cookie: jar,
    toast: (await getToast(makeRequest('/', { cookie: jar }))).toast,
  }
}

/** The Cookie header a Set-Cookie list would give a browser that had no cookies. */
export function cookiesOf(response: Response) {
  return mergeCookies(undefined, response)
}

/** The user the cookies log in, or null. */
export function loggedInUserId(cookie: string) {
  return getUserId(makeRequest('/', { cookie }))
}

function hiddenInputs(html: string) {
  const unescape = (s: string) =>
    s.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e]!)
  return [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map(
    (m) => [m[1]!, unescape(m[2]!)] as [string, string],
  )
}
