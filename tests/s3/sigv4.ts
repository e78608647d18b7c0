// A check of AWS Signature Version 4 presigned URLs (query-string auth), written from the AWS docs
// rather than with the SDK, so it can catch a URL the SDK signed wrongly. s3rver itself accepts any V4
// signature ("V4 signatures have incomplete support"), so tests/s3/s3rver.ts runs this in front of it.
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
import crypto from 'node:crypto'

type PresignedRequest = {
  method: string
  /** The request target as sent: path and query, still percent-encoded. */
  url: string
  headers: Record<string, string | string[] | undefined>
}

export type SigV4Result = { ok: true } | { ok: false; code: string; message: string }

export function isPresigned(url: string) {
  return new URL(url, 'http://x').searchParams.has('X-Amz-Signature')
}

export function verifyPresignedV4(request: PresignedRequest, secrets: Record<string, string>): SigV4Result {
  const url = new URL(request.url, 'http://x')
  const query = url.searchParams
  const algorithm = query.get('X-Amz-Algorithm')
  const credential = query.get('X-Amz-Credential') ?? ''
  const amzDate = query.get('X-Amz-Date') ?? ''
  const signedHeaders = query.get('X-Amz-SignedHeaders') ?? ''
  const signature = query.get('X-Amz-Signature') ?? ''
  if (algorithm !== 'AWS4-HMAC-SHA256') return denied('AuthorizationQueryParametersError', 'Unsupported algorithm')
  const [accessKeyId, date, region, service, terminator] = credential.split('/')
  const secret = accessKeyId ? secrets[accessKeyId] : undefined
  if (!secret || !date || !region || !service || terminator !== 'aws4_request') {
    return denied('InvalidAccessKeyId', 'Unknown access key or malformed credential')
  }

  const canonicalQuery = [...query]
    .filter(([name]) => name !== 'X-Amz-Signature')
    .map(([name, value]) => [encodeRfc3986(name), encodeRfc3986(value)] as const)
    .sort(([a, av], [b, bv]) => (a === b ? compare(av, bv) : compare(a, b)))
    .map(([name, value]) => `${name}=${value}`)
    .join('&')
  const headerNames = signedHeaders.split(';')
  const canonicalHeaders = headerNames.map((name) => `${name}:${headerValue(request.headers[name])}\n`).join('')
  const canonicalRequest = [
    request.method,
    // S3 does not encode the path a second time: it is signed as sent.
    url.pathname,
    canonicalQuery,
    canonicalHeaders,
    signedHeaders,
    query.get('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD',
  ].join('\n')
  const scope = `${date}/${region}/${service}/aws4_request`
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n')
  let key = hmac(`AWS4${secret}`, date)
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part)
  const expected = hmac(key, stringToSign).toString('hex')
  const matches = expected.length === signature.length && crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(signature))
  return matches
    ? { ok: true }
    : denied('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.')
}

function denied(code: string, message: string): SigV4Result {
  return { ok: false, code, message }
}

function headerValue(value: string | string[] | undefined) {
  return [value ?? ''].flat().join(',').trim().replace(/\s+/g, ' ')
}

function encodeRfc3986(text: string) {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

function compare(a: string, b: string) {
  return a < b ? -1 : a > b ? 1 : 0
}

function sha256(text: string) {
  return crypto.createHash('sha256').update(text).digest('hex')
}

function hmac(key: string | Buffer, text: string) {
  return crypto.createHmac('sha256', key).update(text).digest()
}
