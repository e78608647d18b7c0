// The agent client against a tiny HTTP server on 127.0.0.1 that answers each way an agent (or whatever
// sits at its address) might: a good answer, garbage, the wrong shape, 401, 500, silence, a huge body.
import http from 'node:http'
import type net from 'node:net'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { freePort } from '../../../tests/app-process'
import { AGENT_ANSWER_MAX_BYTES, describeAgentProblem, fetchAgentMessages } from './agent-client.server'

const TOKEN = 'agent-client-test-token'
const AT = '2026-11-27T10:00:00.000Z'

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void
let handler: Handler = (_req, res) => res.writeHead(404).end()
let server: http.Server
let baseUrl = ''
const seen: { url: string; authorization: string | undefined }[] = []

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', authorization: req.headers.authorization })
    handler(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  baseUrl = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

function json(body: unknown, status = 200): Handler {
  return (_req, res) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

const message = (id: number, status = 'training') => ({
  id,
  status,
  step: id,
  totalSteps: 10,
  loss: 0.5,
  text: 'Training',
  at: AT,
})

describe('fetchAgentMessages', () => {
  test('a good answer: the messages after `after`, with the token sent as a bearer', async () => {
    handler = json({ messages: [message(3), message(4, 'uploading')] })
    const result = await fetchAgentMessages(baseUrl, TOKEN, 2)
    // The newer fields (phase, a failure's kind and detail, the samples) that a message leaves out are null.
    const unset = { phase: null, kind: null, detail: null, samples: null, uploaded: null }
    expect(result).toEqual({
      ok: true,
      messages: [
        { ...message(3), ...unset },
        { ...message(4), status: 'uploading', ...unset },
      ],
    })
    expect(seen.at(-1)).toEqual({ url: '/status?after=2', authorization: `Bearer ${TOKEN}` })
  })

  test('missing optional fields default to null; repeats at or below `after` are dropped', async () => {
    handler = json({
      messages: [
        { id: 1, status: 'booting', at: AT },
        { id: 2, status: 'preparing', at: AT, extra: true },
      ],
    })
    const result = await fetchAgentMessages(baseUrl, TOKEN, 1)
    expect(result).toEqual({
      ok: true,
      messages: [
        {
          id: 2,
          status: 'preparing',
          step: null,
          totalSteps: null,
          loss: null,
          text: null,
          at: AT,
          phase: null,
          kind: null,
          detail: null,
          samples: null,
          uploaded: null,
        },
      ],
    })
  })

  test('what the agent uploaded is parsed; a malformed `uploaded` is dropped, not the whole answer', async () => {
    const uploaded = {
      checkpoints: [{ step: 250, bytes: 9437312 }],
      samples: [{ step: 250, prompt: 0 }],
      optimizer: { step: 250 },
    }
    handler = json({
      messages: [
        { id: 1, status: 'training', at: AT, uploaded },
        { id: 2, status: 'training', at: AT, uploaded: 'garbage' },
      ],
    })
    const result = await fetchAgentMessages(baseUrl, TOKEN, 0)
    expect(result.ok && result.messages.map((m) => m.uploaded)).toEqual([uploaded, null])
  })

  test('garbage is a bad answer', async () => {
    handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"messages": [')
    expect(await fetchAgentMessages(baseUrl, TOKEN, 0)).toEqual({
      ok: false,
      kind: 'bad-answer',
      detail: 'the answer is not JSON',
    })
  })

  test.each([
    ['no messages list', { hello: 'world' }],
    ['an unknown status', { messages: [{ ...message(1), status: 'exploded' }] }],
    ['a fractional id', { messages: [{ ...message(1), id: 1.5 }] }],
    ['a date that is not one', { messages: [{ ...message(1), at: 'yesterday' }] }],
  ])('the wrong shape (%s) is a bad answer', async (_name, body) => {
    handler = json(body)
    const result = await fetchAgentMessages(baseUrl, TOKEN, 0)
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.kind).toBe('bad-answer')
  })

  test('401 (a wrong token) is unauthorized, and the token appears nowhere in the result', async () => {
    handler = (_req, res) => res.writeHead(401).end()
    const result = await fetchAgentMessages(baseUrl, TOKEN, 0)
    expect(result).toEqual({ ok: false, kind: 'unauthorized', detail: 'HTTP 401' })
    expect(describeAgentProblem(result as { kind: 'unauthorized'; detail: string })).toBe('wrong token')
    expect(JSON.stringify(result)).not.toContain(TOKEN)
  })

  test('500 is a bad answer', async () => {
    handler = (_req, res) => res.writeHead(500).end('oops')
    expect(await fetchAgentMessages(baseUrl, TOKEN, 0)).toEqual({ ok: false, kind: 'bad-answer', detail: 'HTTP 500' })
  })

  test('an agent that never answers times out as unreachable', async () => {
    handler = () => {} // holds the request open
    const started = Date.now()
    const result = await fetchAgentMessages(baseUrl, TOKEN, 0, { timeoutMs: 300 })
    expect(result).toEqual({ ok: false, kind: 'unreachable', detail: 'no answer within 0.3 s' })
    expect(Date.now() - started).toBeLessThan(3000)
  })

  test('a body that stops half way times out too', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"messages": [')
    }
    const result = await fetchAgentMessages(baseUrl, TOKEN, 0, { timeoutMs: 300 })
    expect(result).toMatchObject({ ok: false, kind: 'unreachable' })
  })

  test('connection refused is unreachable', async () => {
    const port = await freePort()
    expect(await fetchAgentMessages(`http://127.0.0.1:${port}`, TOKEN, 0)).toEqual({
      ok: false,
      kind: 'unreachable',
      detail: 'connection refused',
    })
  })

  test('an oversized body is a bad answer, declared or streamed', async () => {
    const big = Buffer.alloc(AGENT_ANSWER_MAX_BYTES + 10, 0x20)
    handler = (_req, res) => res.writeHead(200, { 'content-length': String(big.length) }).end(big)
    expect(await fetchAgentMessages(baseUrl, TOKEN, 0)).toMatchObject({
      ok: false,
      kind: 'bad-answer',
      detail: expect.stringContaining('larger than'),
    })
    handler = (_req, res) => {
      res.writeHead(200) // chunked: no length to refuse up front
      res.end(big)
    }
    expect(await fetchAgentMessages(baseUrl, TOKEN, 0, { maxBytes: 1024 })).toMatchObject({ ok: false, kind: 'bad-answer' })
  })

  test('an address that is not http is refused without a request', async () => {
    const before = seen.length
    expect(await fetchAgentMessages('file:///etc/passwd', TOKEN, 0)).toMatchObject({ ok: false, kind: 'unreachable' })
    expect(seen.length).toBe(before)
  })
})
