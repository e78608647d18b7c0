// Signed, expiring URLs for the local storage driver: whoever holds one may GET (or PUT) one key
// until it expires, without a session. The GPU agent downloads images and uploads weights with them.
// See docs/decisions/005-storage.md.
import crypto from 'node:crypto'

export type SignedMethod = 'GET' | 'PUT'

export type SignedRequest = {
  method: SignedMethod
  key: string
  /** Unix time in seconds after which the URL is refused. */
  expires: number
  /** PUT only: the Content-Type the uploader must send. */
  contentType?: string
}

export type SignatureCheck =
  { valid: true; request: SignedRequest } | { valid: false; reason: 'malformed' | 'bad-signature' | 'expired' | 'wrong-method' }

/** The longest a signed URL may live: S3's limit for presigned URLs, so both drivers agree. */
export const MAX_SIGNED_URL_EXPIRY_S = 7 * 24 * 60 * 60

// The label keeps this key apart from every other use of SESSION_SECRET: a cookie signature
// (HMAC with the raw secret) can never pass as a URL signature, and the reverse.
const KEY_DERIVATION_LABEL = 'trainyard/storage-url-signature/v1'
const SIGNATURE_HEX_LENGTH = 64

export function createUrlSigner(secret: string) {
  const signingKey = Buffer.from(crypto.hkdfSync('sha256', secret, '', KEY_DERIVATION_LABEL, 32))

  function signatureOf(request: SignedRequest) {
    // Newline-separated: none of the parts may contain one (keys are validated, content types checked
    // in assertContentType), so two different requests never produce the same text.
    const text = ['v1', request.method, request.key, String(request.expires), request.contentType ?? ''].join('\n')
    return crypto.createHmac('sha256', signingKey).update(text).digest()
  }

  return {
    /** The query string (without "?") that authorises `request`. */
    sign(request: SignedRequest) {
      if (request.contentType !== undefined) assertContentType(request.contentType)
      const query = new URLSearchParams({ expires: String(request.expires), method: request.method })
      query.set('sig', signatureOf(request).toString('hex'))
      return query.toString()
    },

    /**
     * Checks a request against the query of its URL. The method is checked before the signature: it
     * is in the URL for anyone to read, and "wrong method" tells an uploader more than "invalid".
     */
    verify({
      key,
      query,
      method,
      contentType,
      nowMs = Date.now(),
    }: {
      key: string
      query: URLSearchParams
      method: string
      contentType?: string | null
      nowMs?: number
    }): SignatureCheck {
      const signedMethod = query.get('method')
      const expiresText = query.get('expires') ?? ''
      const sig = query.get('sig') ?? ''
      if (signedMethod !== 'GET' && signedMethod !== 'PUT') return { valid: false, reason: 'malformed' }
      if (!/^\d{1,12}$/.test(expiresText)) return { valid: false, reason: 'malformed' }
      if (sig.length !== SIGNATURE_HEX_LENGTH || !/^[0-9a-f]+$/.test(sig)) return { valid: false, reason: 'malformed' }
      const effectiveMethod = method === 'HEAD' ? 'GET' : method
      if (effectiveMethod !== signedMethod) return { valid: false, reason: 'wrong-method' }
      // A PUT signature covers the content type: an upload that sends another one does not match.
      const request: SignedRequest = {
        method: signedMethod,
        key,
        expires: Number(expiresText),
        ...(signedMethod === 'PUT' ? { contentType: contentType ?? '' } : {}),
      }
      if (!crypto.timingSafeEqual(signatureOf(request), Buffer.from(sig, 'hex'))) {
        return { valid: false, reason: 'bad-signature' }
      }
      if (request.expires * 1000 < nowMs) return { valid: false, reason: 'expired' }
      return { valid: true, request }
    },
  }
}

export type UrlSigner = ReturnType<typeof createUrlSigner>

/** Content types go into the signed text and into a header: no control characters, sane length. */
export function assertContentType(contentType: string) {
  if (!/^[\x20-\x7e]{1,255}$/.test(contentType)) {
    throw new TypeError(`Invalid content type: ${JSON.stringify(contentType).slice(0, 100)}`)
  }
  return contentType
}

/** Expiry in seconds from now, checked like S3 checks it. */
export function expiryFromNow(expiresInS: number, nowMs = Date.now()) {
  if (!Number.isInteger(expiresInS) || expiresInS < 1 || expiresInS > MAX_SIGNED_URL_EXPIRY_S) {
    throw new RangeError(`expiresInS must be a whole number from 1 to ${MAX_SIGNED_URL_EXPIRY_S}`)
  }
  return Math.floor(nowMs / 1000) + expiresInS
}
