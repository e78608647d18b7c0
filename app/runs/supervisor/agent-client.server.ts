// The supervisor's side of agent protocol v1 (scripts/agent/README.md): one poll of
// `GET /status?after=N`. Whatever the network or the agent does, the answer is a value, never a throw:
// the supervisor turns repeated problems into a failed run with a reason people can read. The bearer
// token never appears in a result, an error or a log line.
import { z } from 'zod'
import { AGENT_STATUSES } from '../status'
import { UploadedSchema } from '../checkpoints.server'

/** Longer than any honest answer: 1,000 messages of ≤ 8 KB text would be 8 MB, but the agent sends ~0.5 KB each. */
export const AGENT_ANSWER_MAX_BYTES = 2 * 1024 * 1024
/** From request to the end of the body. An agent on a busy machine answers in milliseconds. */
export const AGENT_POLL_TIMEOUT_MS = 5000

const AgentMessageSchema = z.object({
  id: z.number().int().min(1),
  status: z.enum(AGENT_STATUSES),
  step: z.number().int().min(0).nullable().optional().default(null),
  totalSteps: z.number().int().min(0).nullable().optional().default(null),
  loss: z.number().finite().nullable().optional().default(null),
  text: z.string().max(64_000).nullable().optional().default(null),
  at: z.string().datetime({ offset: true }),
  // Finer than the status, and what a failure was and the trainer's raw output behind it: free strings,
  // bounded, so a newer agent's phase or kind is kept rather than refusing the whole answer.
  phase: z.string().max(64).nullable().optional().default(null),
  kind: z.string().max(64).nullable().optional().default(null),
  detail: z.string().max(64_000).nullable().optional().default(null),
  // The succeeded message: one entry per uploaded sample, in upload order (which prompt, at which step).
  samples: z
    .array(z.object({ prompt: z.number().int().min(0), step: z.number().int().min(0).nullable().optional().default(null) }))
    .max(100)
    .nullable()
    .optional()
    .default(null),
  // What the agent finished uploading since its previous message (step saves, samples, optimizer state).
  uploaded: UploadedSchema,
  // A caption job: the captions finished since the previous message, each image once (the agent caps the
  // text at 2,000 characters; more is refused here as a wrong answer would be).
  captions: z
    .array(z.object({ imageId: z.string().min(1).max(64), text: z.string().max(8000) }))
    .max(1000)
    .nullable()
    .optional(),
  // A spot machine's interruption notice came (phase `interrupted`): the newest checkpoint uploaded with
  // its optimizer state, or null before the first. Absent on every other message.
  interrupted: z
    .object({ step: z.number().int().min(0).nullable().optional().default(null) })
    .nullable()
    .optional(),
})
export type AgentMessage = z.infer<typeof AgentMessageSchema>

const AgentAnswerSchema = z.object({ messages: z.array(AgentMessageSchema).max(10_000) })

export type AgentProblemKind = 'unreachable' | 'unauthorized' | 'bad-answer'

export type AgentPollResult = { ok: true; messages: AgentMessage[] } | { ok: false; kind: AgentProblemKind; detail: string }

/** How a problem reads in a run's error ("last problem: wrong token"). */
export function describeAgentProblem(problem: { kind: AgentProblemKind; detail: string }) {
  switch (problem.kind) {
    case 'unauthorized':
      return 'wrong token'
    case 'unreachable':
      return `unreachable: ${problem.detail}`
    case 'bad-answer':
      return `bad answer: ${problem.detail}`
  }
}

/**
 * Asks the agent for the messages after `after`. Messages with an id ≤ `after` are dropped (an agent that
 * ignores `after` repeats itself; a repeat changes nothing), so every returned id is > `after`.
 */
export async function fetchAgentMessages(
  agentUrl: string,
  token: string,
  after: number,
  {
    timeoutMs = AGENT_POLL_TIMEOUT_MS,
    signal,
    maxBytes = AGENT_ANSWER_MAX_BYTES,
  }: { timeoutMs?: number; signal?: AbortSignal; maxBytes?: number } = {},
): Promise<AgentPollResult> {
  let url: URL
  try {
    url = new URL('/status', agentUrl)
  } catch {
    return { ok: false, kind: 'unreachable', detail: 'the machine has no valid address' }
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, kind: 'unreachable', detail: 'the machine has no valid address' }
  }
  url.searchParams.set('after', String(after))

  const timeout = AbortSignal.timeout(timeoutMs)
  const combined = signal ? AbortSignal.any([timeout, signal]) : timeout
  let text: string
  try {
    const response = await fetch(url, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      signal: combined,
      redirect: 'error',
    })
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel().catch(() => {})
      return { ok: false, kind: 'unauthorized', detail: `HTTP ${response.status}` }
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => {})
      return { ok: false, kind: 'bad-answer', detail: `HTTP ${response.status}` }
    }
    const body = await readLimited(response, maxBytes)
    if (body === null) return { ok: false, kind: 'bad-answer', detail: `the answer is larger than ${maxBytes} bytes` }
    text = body
  } catch (error) {
    if (timeout.aborted) return { ok: false, kind: 'unreachable', detail: `no answer within ${formatSeconds(timeoutMs)}` }
    if (signal?.aborted) return { ok: false, kind: 'unreachable', detail: 'the poll was stopped' }
    return { ok: false, kind: 'unreachable', detail: networkDetail(error) }
  }

  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { ok: false, kind: 'bad-answer', detail: 'the answer is not JSON' }
  }
  const parsed = AgentAnswerSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue?.path.length ? issue.path.join('.') : 'the answer'
    return { ok: false, kind: 'bad-answer', detail: `${where}: ${issue?.message ?? 'wrong shape'}`.slice(0, 300) }
  }
  return { ok: true, messages: parsed.data.messages.filter((m) => m.id > after) }
}

/** The body as text, or null once it passes maxBytes (the rest is not read). */
async function readLimited(response: Response, maxBytes: number): Promise<string | null> {
  const declared = Number(response.headers.get('content-length'))
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => {})
    return null
  }
  if (!response.body) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > maxBytes) {
      await reader.cancel().catch(() => {})
      return null
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** The cause's code (ECONNREFUSED, ENOTFOUND …) when fetch gives one: "fetch failed" alone says nothing. */
function networkDetail(error: unknown) {
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined
  if (cause && typeof cause.code === 'string') return cause.code === 'ECONNREFUSED' ? 'connection refused' : cause.code
  if (cause && typeof cause.message === 'string') return cause.message.slice(0, 200)
  return error instanceof Error ? error.message.slice(0, 200) : 'network error'
}

function formatSeconds(ms: number) {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`
}
