// Rate limits of the auth actions, called from inside each action, so what is counted is the route
// Remix runs, however its path was spelled (`/LOGIN`, `/%6Cogin` and `/login` reach one action and
// spend one budget). Two budgets:
// - per client address and action: AUTH_RATE_LIMIT_PER_MINUTE tries a minute, spent before the body
//   is read, so a flood costs the server no parsing;
// - per account: wrong passwords at login, so a guesser spread over many addresses is still stopped,
//   while one person's typos lock only their own account, not everyone behind the same office NAT.
// A limited request gets a 429 with Retry-After and the app's own sentence as a form error, which the
// page shows with JS and without (a thrown Response would show the error page instead).
//
// The counts live in this process's memory (RateLimiterMemory): with several app processes each has
// its own budgets, and a restart forgets them (docs/deployment.md, docs/decisions/008-scale-out.md).
import type { Submission } from '@conform-to/react'
import { parseWithZod } from '@conform-to/zod'
import { json, type AppLoadContext, type HeadersFunction } from '@remix-run/node'
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible'
import { z } from 'zod'
import { getEnv } from './env.server'
import { formReply, type FormReply } from './forms'

/** One fixed name per rate-limited action: the budget follows the route module, not the URL. */
export type AuthAction =
  | 'login'
  | 'signup'
  | 'verify'
  | 'onboarding'
  | 'forgot-password'
  | 'reset-password'
  | 'auth-github'
  | 'settings-password'
  | 'settings-two-factor'
  | 'settings-hugging-face'

const ADDRESS_WINDOW_S = 60

/**
 * Wrong passwords one account may take in ACCOUNT_WINDOW_S, from all addresses together. Ten leaves a
 * person room for typos and a forgotten caps lock; 10 per 15 minutes holds a guesser to under a
 * thousand guesses a day per account, however many addresses it has.
 */
export const ACCOUNT_FAILURES_PER_WINDOW = 10
/** Long enough to make guessing slow, short enough that a locked-out person just waits a coffee. */
export const ACCOUNT_WINDOW_S = 15 * 60

let addressLimiter: RateLimiterMemory | undefined
function getAddressLimiter() {
  // Made at first use: the budget comes from the validated environment.
  addressLimiter ??= new RateLimiterMemory({
    keyPrefix: 'auth-address',
    points: getEnv().AUTH_RATE_LIMIT_PER_MINUTE,
    duration: ADDRESS_WINDOW_S,
  })
  return addressLimiter
}

const accountLimiter = new RateLimiterMemory({
  keyPrefix: 'login-account',
  points: ACCOUNT_FAILURES_PER_WINDOW,
  duration: ACCOUNT_WINDOW_S,
})

/**
 * Whom the address budget counts. server/index.ts puts the client's key (an IPv4 address, or an IPv6
 * /64) into the load context. Only route tests call an action without it: there each call is a client
 * of its own (tests that are about the limit pass an address), so tests that fire many requests test
 * what they are about. Anywhere else a missing address is one shared "unknown" client: it fails closed.
 */
function addressKey(context: AppLoadContext | undefined): string | null {
  const address = context?.clientAddress
  if (address) return address
  return getEnv().NODE_ENV === 'test' ? null : 'unknown'
}

/** "42 s", or "15 min" for the long waits of a locked account. */
function waitInWords(seconds: number) {
  return seconds < 120 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`
}

export function slowDownMessage(seconds: number) {
  return `Too many attempts. Slow down — try again in ${waitInWords(seconds)}.`
}

/** The 429 of a limited request: the sentence as a form error (what the person typed kept, if read). */
function slowDown(seconds: number, submission: Submission<unknown> = parseWithZod(new FormData(), { schema: z.object({}) })) {
  return json<FormReply>(formReply(submission, { formErrors: [slowDownMessage(seconds)] }), {
    status: 429,
    headers: { 'Retry-After': String(seconds) },
  })
}

/** Spends one point: null, or the seconds until the window ends when none was left. */
async function spend(limiter: RateLimiterMemory, key: string): Promise<number | null> {
  try {
    await limiter.consume(key)
    return null
  } catch (refusal) {
    // RateLimiterMemory rejects with its result when the points are spent; anything else is a bug.
    if (refusal instanceof RateLimiterRes) return Math.max(1, Math.ceil(refusal.msBeforeNext / 1000))
    throw refusal
  }
}

/**
 * Spends one try of this client address at this action: null to go on, or the seconds to wait. Call
 * it before reading the body.
 */
export async function spendAddressTry(action: AuthAction, context: AppLoadContext | undefined) {
  const address = addressKey(context)
  if (address === null) return null
  return spend(getAddressLimiter(), `${action}:${address}`)
}

/**
 * `spendAddressTry` for an action with a form: the 429 answer to return when the budget is spent, or
 * null to go on.
 */
export async function checkAddressLimit(action: AuthAction, context: AppLoadContext | undefined) {
  const wait = await spendAddressTry(action, context)
  return wait === null ? null : slowDown(wait)
}

/**
 * Login, before the password is checked: spends one of the account's tries. The try is spent first
 * (not counted after a wrong password) so parallel guesses cannot all pass the check before any is
 * counted; a right password gives it back with `refundAccountTry`. During a lock even the right
 * password is refused, or the lock would not stop a guesser. Unknown emails are counted the same way,
 * so the answers do not tell which accounts exist.
 */
export async function spendAccountTry(email: string, submission: Submission<unknown>) {
  const wait = await spend(accountLimiter, email.toLowerCase())
  return wait === null ? null : slowDown(wait, submission)
}

/** The password was right: this try was not a failure. */
export async function refundAccountTry(email: string) {
  await accountLimiter.reward(email.toLowerCase())
}

/** The password was just reset through an emailed code: whoever did it owns the email, so the lock ends. */
export async function forgetAccountFailures(email: string) {
  await accountLimiter.delete(email.toLowerCase())
}

/**
 * The `headers` of a route module whose action is limited. A page answer takes its headers from the
 * route's `headers` export, not from the action's response: without this the page of a 429 would lose
 * its Retry-After (a data request, `?_data=`, keeps it either way).
 */
export const retryAfterHeaders: HeadersFunction = ({ actionHeaders, parentHeaders }) => {
  // What a route without a `headers` export gets: its parent's headers.
  const headers = new Headers(parentHeaders)
  const retryAfter = actionHeaders.get('Retry-After')
  if (retryAfter) headers.set('Retry-After', retryAfter)
  return headers
}
