// Making deliveries: an event becomes one WebhookDelivery row per enabled endpoint of the run's owner
// that subscribes to it, with its body fixed (and later signed) exactly as created. Called once per
// event, where the event is recorded by the one process whose conditional write won (startRun, endRun,
// the first insert of a status message, checkpoint or sample), so an event makes its rows once however
// many processes supervise. Sending is ./deliver.server.ts's job, in a later supervisor cycle.
import crypto from 'node:crypto'
import type { Prisma, PrismaClient } from '@prisma/client'
import { subscribesTo, TEST_EVENT_TYPE, type EventData, type RunEventFields, type RunEventType, type WebhookBody } from './events'
import { parsePhases, phaseOf } from '../runs/phases'

type Db = PrismaClient | Prisma.TransactionClient

/** The webhook-id: "msg_" and 24 random characters, the same on every retry of the delivery. */
export function newMessageId() {
  return `msg_${crypto.randomBytes(18).toString('base64url')}`
}

export type RunEvent = { [T in RunEventType]: { type: T; runId: string; now?: Date } & RunEventFields<T> }[RunEventType]

/**
 * One delivery per matching endpoint; returns how many were made. Throws on a database error (inside a
 * transaction the caller's write and the deliveries stand or fall together).
 */
export async function emitRunEvent(db: Db, event: RunEvent): Promise<number> {
  const { type, runId, now = new Date(), ...fields } = event
  const run = await db.trainingRun.findUnique({
    where: { id: runId },
    select: { trainingId: true, status: true, kind: true, training: { select: { ownerId: true } } },
  })
  // A caption job is a run for the machines, not a training: the run events are about trainings.
  if (!run || run.kind !== 'train') return 0
  const endpoints = await db.webhookEndpoint.findMany({
    where: { userId: run.training.ownerId, enabled: true },
    select: { id: true, events: true },
  })
  const matching = endpoints.filter((e) => subscribesTo(e.events, type))
  if (matching.length === 0) return 0
  const body: WebhookBody = {
    type,
    timestamp: now.toISOString(),
    data: { runId, trainingId: run.trainingId, status: run.status, ...fields },
  }
  const payload = JSON.stringify(body)
  const { count } = await db.webhookDelivery.createMany({
    data: matching.map((e) => ({ id: newMessageId(), endpointId: e.id, eventType: type, payload, runId, nextAttemptAt: now })),
  })
  return count
}

/**
 * emitRunEvent outside a transaction, after the write that recorded the event: a failure is logged and
 * never undoes or interrupts what the supervisor recorded (the event is lost, the run is not).
 */
export async function emitRunEventSafely(db: PrismaClient, event: RunEvent): Promise<number> {
  try {
    return await emitRunEvent(db, event)
  } catch (error) {
    console.error(`webhooks: could not record ${event.type} of run ${event.runId}`, error)
    return 0
  }
}

/** "Send a test event": one delivery to this endpoint, whatever it subscribes to. */
export async function emitTestEvent(db: Db, endpointId: string, now = new Date()) {
  const data: EventData<typeof TEST_EVENT_TYPE> = {
    webhookId: endpointId,
    message: 'This is a test event from Trainyard: your endpoint received and can verify it.',
  }
  const body: WebhookBody = { type: TEST_EVENT_TYPE, timestamp: now.toISOString(), data }
  const id = newMessageId()
  await db.webhookDelivery.create({
    data: { id, endpointId, eventType: TEST_EVENT_TYPE, payload: JSON.stringify(body), nextAttemptAt: now },
  })
  return id
}

/** The event of a run's end (endRun): which one follows from the terminal status. */
export function runEndedEvent(
  runId: string,
  status: 'succeeded' | 'failed' | 'canceled',
  { now, error, errorKind }: { now?: Date; error: string | null; errorKind: string | null },
): RunEvent {
  if (status === 'failed') return { type: 'run.failed', runId, now, error, errorKind }
  return { type: status === 'succeeded' ? 'run.succeeded' : 'run.canceled', runId, now }
}

/**
 * The phase changes among freshly polled messages, as events: a message whose phase differs from the one
 * before it (the run's stored phase for the first) — kept only for the messages this process inserted, so
 * two processes that polled the same messages make each event once.
 */
export function phaseChanges(
  answered: readonly {
    run: { id: string; phases?: string | null }
    fresh: readonly { id: number; status: string; phase?: string | null; step: number | null; at: string }[]
  }[],
  inserted: readonly { runId: string; messageId: number }[],
): RunEvent[] {
  const mine = new Set(inserted.map((r) => `${r.runId}:${r.messageId}`))
  const events: RunEvent[] = []
  for (const { run, fresh } of answered) {
    let previous = parsePhases(run.phases).at(-1)?.phase ?? null
    for (const message of fresh) {
      const phase = phaseOf(message)
      if (phase === null || phase === previous) continue
      if (mine.has(`${run.id}:${message.id}`))
        events.push({
          type: 'run.phase_changed',
          runId: run.id,
          phase,
          previousPhase: previous,
          step: message.step,
          sequence: message.id,
        })
      previous = phase
    }
  }
  return events
}
