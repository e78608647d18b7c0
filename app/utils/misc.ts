// Helpers shared by the server and the browser.
import { useFormAction, useNavigation } from '@remix-run/react'

/**
 * Where to go after logging in: only ever a path on this site. Anything else ("//evil.com",
 * "https://evil.com", "/\\evil.com", a javascript: URL) falls back to `fallback`.
 *
 * Ours rather than a library's on purpose: it is the whole defence against open redirects after
 * login, so every case it refuses is spelled out here and tested beside it (misc.test.ts), the
 * backslash and control-character tricks included; a dependency could loosen it in an update.
 */
export function safeRedirect(to: FormDataEntryValue | string | null | undefined, fallback = '/') {
  if (!to || typeof to !== 'string') return fallback
  const trimmed = to.trim()
  if (!trimmed.startsWith('/') || trimmed.startsWith('//') || trimmed.startsWith('/\\')) return fallback
  // Control characters and backslashes are folded into "//" by some browsers.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\\]/.test(trimmed)) return fallback
  return encodeNonAscii(trimmed) ?? fallback
}

/**
 * A Location header carries bytes, not text: a path with characters outside printable ASCII ("/é",
 * "?q=日本") made `redirect()` throw (a 500, for sign-up after the account was created). So they
 * are percent-encoded as UTF-8, the way a browser sends them; what is already `%XX` stays as it is.
 * A lone surrogate cannot be encoded: null, and the caller falls back.
 */
function encodeNonAscii(path: string) {
  try {
    return path.replace(/[^\u0021-\u007e]+/g, (run) => encodeURIComponent(run))
  } catch {
    return null
  }
}

export function getErrorMessage(error: unknown) {
  if (typeof error === 'string') return error
  if (error && typeof error === 'object' && 'message' in error && typeof error.message === 'string') {
    return error.message
  }
  return 'Unknown error'
}

/** The path and query of the current URL, to come back to after logging in. */
export function getReturnTo(request: Request) {
  const url = new URL(request.url)
  return `${url.pathname}${url.search}`
}

/**
 * Whether this route's form is on its way (submitted, or its answer's redirect loading), so its
 * submit button can say so. Another form on the page (GitHub's, a different action) does not count.
 */
export function useIsPending({ formAction, formMethod = 'POST' }: { formAction?: string; formMethod?: 'POST' | 'GET' } = {}) {
  const contextualFormAction = useFormAction()
  const navigation = useNavigation()
  return (
    navigation.state !== 'idle' &&
    navigation.formAction === (formAction ?? contextualFormAction) &&
    navigation.formMethod === formMethod
  )
}
