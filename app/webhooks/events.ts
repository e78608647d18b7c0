// The events a webhook endpoint can subscribe to and the body each delivery carries. Shared with the
// browser (the Settings page lists the events), so no server imports here.
//
// Every body is `{ type, timestamp, data }`; `data` always names the run, its training and the run's
// status when the event was recorded, plus the fields of that event.
import { z } from 'zod'

export const RUN_EVENT_TYPES = [
  'run.started',
  'run.phase_changed',
  'run.sample_added',
  'run.checkpoint_added',
  'run.succeeded',
  'run.failed',
  'run.canceled',
] as const
export type RunEventType = (typeof RUN_EVENT_TYPES)[number]

/** Sent by "Send a test event" only: endpoints cannot subscribe to it, every endpoint accepts it. */
export const TEST_EVENT_TYPE = 'webhook.test'
export type WebhookEventType = RunEventType | typeof TEST_EVENT_TYPE

export const EVENT_LABELS: Record<RunEventType, string> = {
  'run.started': 'Run started (queued)',
  'run.phase_changed': 'Phase changed',
  'run.sample_added': 'Sample added',
  'run.checkpoint_added': 'Checkpoint added',
  'run.succeeded': 'Run succeeded',
  'run.failed': 'Run failed',
  'run.canceled': 'Run canceled',
}

export const ALL_EVENTS = '*'

export function isRunEventType(value: string): value is RunEventType {
  return (RUN_EVENT_TYPES as readonly string[]).includes(value)
}

/** The stored form of a subscription ("*" or comma-separated types), as a list. */
export function parseEventList(stored: string): RunEventType[] | [typeof ALL_EVENTS] {
  if (stored.trim() === ALL_EVENTS) return [ALL_EVENTS]
  return stored
    .split(',')
    .map((s) => s.trim())
    .filter(isRunEventType)
}

/** The stored form of a list: "*" when it is empty, "*" or names every event. */
export function serializeEventList(events: readonly string[] | undefined): string {
  const wanted = RUN_EVENT_TYPES.filter((t) => events?.includes(t))
  if (!events || events.length === 0 || events.includes(ALL_EVENTS) || wanted.length === RUN_EVENT_TYPES.length) return ALL_EVENTS
  return wanted.join(',')
}

export function subscribesTo(stored: string, type: WebhookEventType) {
  if (type === TEST_EVENT_TYPE) return true
  const list = parseEventList(stored)
  return list[0] === ALL_EVENTS || (list as string[]).includes(type)
}

/** What a client may send as `events`: run event types, or ["*"]. */
export const EventListSchema = z
  .array(
    z.enum([ALL_EVENTS, ...RUN_EVENT_TYPES], {
      errorMap: () => ({ message: `Events are "*" or any of ${RUN_EVENT_TYPES.join(', ')}` }),
    }),
  )
  .max(RUN_EVENT_TYPES.length + 1)

const RunBase = z.object({ runId: z.string(), trainingId: z.string(), status: z.string() })

/** The `data` of each event type. */
export const EVENT_DATA_SCHEMAS = {
  'run.started': RunBase,
  'run.phase_changed': RunBase.extend({
    phase: z.string().describe('The phase the run entered'),
    previousPhase: z.string().nullable(),
    step: z.number().int().nullable(),
    sequence: z
      .number()
      .int()
      .describe('The number of the run’s status message that began the phase: phases may recur (loading, quantizing, loading)'),
  }),
  'run.sample_added': RunBase.extend({
    step: z.number().int(),
    promptIndex: z.number().int().describe('Which prompt of the config’s sample prompts, from 0'),
  }),
  'run.checkpoint_added': RunBase.extend({ step: z.number().int(), size: z.number().int() }),
  'run.succeeded': RunBase,
  'run.failed': RunBase.extend({ error: z.string().nullable(), errorKind: z.string().nullable() }),
  'run.canceled': RunBase,
  'webhook.test': z.object({ webhookId: z.string(), message: z.string() }),
} satisfies Record<WebhookEventType, z.AnyZodObject>

export type EventData<T extends WebhookEventType> = z.infer<(typeof EVENT_DATA_SCHEMAS)[T]>

/** The fields an event adds to the run's id, training and status. */
export type RunEventFields<T extends RunEventType> = Omit<EventData<T>, 'runId' | 'trainingId' | 'status'>

export const WebhookBodySchema = z.object({
  type: z.enum([...RUN_EVENT_TYPES, TEST_EVENT_TYPE]),
  timestamp: z.string(),
  data: z.record(z.unknown()),
})
export type WebhookBody = z.infer<typeof WebhookBodySchema>
