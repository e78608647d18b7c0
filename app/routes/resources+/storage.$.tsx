// /resources/storage/<key>?expires=…&method=GET|PUT&sig=… — the signed URLs of the local storage
// driver. No session: the signature is the permission (the GPU agent has no account). With S3 the
// signed URLs point at S3 itself, so this route answers 404. See docs/decisions/005-storage.md.
import { Readable } from 'node:stream'
import type { ReadableStream as NodeReadableStream } from 'node:stream/web'
import { createReadableStreamFromReadable, type ActionFunctionArgs, type LoaderFunctionArgs } from '@remix-run/node'
import { invariantResponse } from '@epic-web/invariant'
import { LocalStorage } from '~/storage/local.server'
import type { SignatureCheck } from '~/storage/signing.server'
import { assertValidKey, InvalidStorageKeyError } from '~/storage/keys'
import { getStorage } from '~/storage/storage.server'
import { MAX_SIGNED_PUT_BYTES, PayloadTooLargeError, readBody, UploadInterruptedError } from './storage.server'

/** The server does not buffer this body (server/body-limit.ts): it is streamed to a file, up to MAX_SIGNED_PUT_BYTES. */
export const handle = { body: 'streamed' }

const REFUSALS: Record<Exclude<SignatureCheck, { valid: true }>['reason'], string> = {
  malformed: 'Missing or malformed signature',
  'bad-signature': 'Invalid signature',
  expired: 'This link has expired',
  'wrong-method': 'This link does not allow this method',
}

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { storage, key } = await requireSignedRequest(request, params)
  const object = await storage.get(key)
  if (!object) return plainText(404, 'Not found')
  // X-Content-Type-Options: nosniff comes from the server's security headers, on every response
  // (the adapter appends headers: setting it here too would send it twice).
  const headers = new Headers({
    'content-type': object.contentType ?? 'application/octet-stream',
    // no-transform: stored bytes go out as stored. The server's compression would otherwise gzip
    // weights (application/octet-stream counts as compressible) at a few MB/s.
    'cache-control': 'private, no-transform',
  })
  if (object.size !== null) headers.set('content-length', String(object.size))
  if (request.method === 'HEAD') {
    object.body.destroy()
    return new Response(null, { headers })
  }
  return new Response(createReadableStreamFromReadable(object.body), { headers })
}

export async function action({ request, params }: ActionFunctionArgs) {
  const { storage, key } = await requireSignedRequest(request, params)
  const declaredLength = request.headers.get('content-length')
  const contentLength = declaredLength && /^\d+$/.test(declaredLength) ? Number(declaredLength) : undefined
  if (contentLength !== undefined && contentLength > MAX_SIGNED_PUT_BYTES) return tooLarge()

  const existed = await storage.exists(key)
  // Streamed to a temporary file and renamed into place: never whole in memory, and a body that is
  // cut off or too large leaves nothing behind (nor harms the object already there).
  // The cast: TypeScript's DOM and Node typings of ReadableStream differ; at run time it is Node's.
  const body = request.body
    ? Readable.from(readBody(Readable.fromWeb(request.body as NodeReadableStream<Uint8Array>), MAX_SIGNED_PUT_BYTES))
    : Buffer.alloc(0)
  try {
    await storage.put(key, body, {
      contentType: request.headers.get('content-type') ?? 'application/octet-stream',
      ...(contentLength !== undefined ? { contentLength } : {}),
    })
  } catch (error) {
    if (error instanceof PayloadTooLargeError) return tooLarge()
    // The uploader went away: nothing was stored, and there is likely no one left to answer.
    if (error instanceof UploadInterruptedError || request.signal.aborted) return plainText(400, 'Upload interrupted')
    throw error
  }
  return plainText(existed ? 200 : 201, existed ? 'Replaced' : 'Created')
}

async function requireSignedRequest(request: Request, params: LoaderFunctionArgs['params']) {
  const storage = await getStorage()
  invariantResponse(storage instanceof LocalStorage, 'Not found', { status: 404, headers: PLAIN_TEXT })
  const key = params['*'] ?? ''
  try {
    assertValidKey(key)
  } catch (error) {
    if (error instanceof InvalidStorageKeyError) throw plainText(403, 'Invalid storage key')
    throw error
  }
  const check = storage.verifySignedRequest({
    key,
    query: new URL(request.url).searchParams,
    method: request.method,
    contentType: request.headers.get('content-type'),
  })
  if (!check.valid) {
    const hint =
      check.reason === 'bad-signature' && request.method === 'PUT' ? ' (a PUT must send the Content-Type it was signed for)' : ''
    throw plainText(403, REFUSALS[check.reason] + hint)
  }
  return { storage, key }
}

function tooLarge() {
  return plainText(413, `Too large: a signed upload may carry at most ${MAX_SIGNED_PUT_BYTES / 1024 ** 3} GB`)
}

const PLAIN_TEXT = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }

function plainText(status: number, text: string) {
  return new Response(text, { status, headers: PLAIN_TEXT })
}
