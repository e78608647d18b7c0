// The phases of a run, finer than its status: what the machine is doing right now ("Loading the base
// model", "Caching latents" …), shared by the supervisor (which keeps TrainingRun.phases) and the run
// page (which shows each phase with its duration and its share of the cost). The agent names most
// phases in its messages (`phase`); two are the app's own, because they cost machine time before the
// agent can say anything: `starting-machine` (from the launch to the agent's first message) and
// `booting` (an agent message without a phase while the status is booting). A message without a phase
// (an agent older than phases) gets the phase its status implies, so every run has a timeline.
import { z } from 'zod'

/** The phases the agent reports, in the order a run meets them. */
export const AGENT_PHASES = [
  'checking',
  'installing',
  'preparing',
  'downloading-model',
  'loading-model',
  'quantizing',
  'caching-latents',
  'sampling-baseline',
  'training',
  'saving',
  'sampling',
  'uploading',
] as const
export type AgentPhase = (typeof AGENT_PHASES)[number]

/** The app's own phases, before the agent speaks. */
export const APP_PHASES = ['starting-machine', 'booting'] as const

export const PHASE_LABELS: Record<AgentPhase | (typeof APP_PHASES)[number], string> = {
  'starting-machine': 'Starting the machine',
  booting: 'Booting',
  checking: 'Checking the machine',
  installing: 'Installing ai-toolkit',
  preparing: 'Downloading the images',
  'downloading-model': 'Downloading the base model',
  'loading-model': 'Loading the base model',
  quantizing: 'Quantizing the model',
  'caching-latents': 'Caching latents',
  'sampling-baseline': 'Making baseline samples',
  training: 'Training',
  saving: 'Saving the LoRA',
  sampling: 'Making samples',
  uploading: 'Uploading the results',
}

/** Longest phase name kept: a newer agent may name phases this app does not know; they are shown as sent. */
export const PHASE_NAME_MAX_CHARS = 64
/** The most phases kept on a run: a trainer that flips between two phases must not grow the row forever. */
export const MAX_PHASES = 100

/** A phase's label; an unknown one (a newer agent) is shown as it was sent, dashes as spaces. */
export function phaseLabel(phase: string) {
  return phase in PHASE_LABELS ? PHASE_LABELS[phase as keyof typeof PHASE_LABELS] : phase.replaceAll('-', ' ')
}

/** The phase a message is in: the one it names, or the one its status implies (null for an ending). */
export function phaseOf(message: { status: string; phase?: string | null }): string | null {
  if (message.status === 'succeeded' || message.status === 'failed' || message.status === 'canceled') return null
  const named = message.phase?.trim().slice(0, PHASE_NAME_MAX_CHARS)
  if (named) return named
  switch (message.status) {
    case 'booting':
      return 'booting'
    case 'preparing':
    case 'training':
    case 'uploading':
      return message.status
    default:
      return null
  }
}

export type PhaseSpan = { phase: string; startedAt: string; endedAt: string | null }

const PhaseSpansSchema = z.array(
  z.object({
    phase: z.string().min(1).max(PHASE_NAME_MAX_CHARS),
    startedAt: z.string().datetime({ offset: true }),
    endedAt: z.string().datetime({ offset: true }).nullable(),
  }),
)

/** The stored phases of a run; anything unreadable counts as none (the page still shows the rest). */
export function parsePhases(json: string | null | undefined): PhaseSpan[] {
  if (!json) return []
  try {
    const parsed = PhaseSpansSchema.safeParse(JSON.parse(json))
    return parsed.success ? parsed.data : []
  } catch {
    return []
  }
}

/** The later of two ISO times: machine and app clocks may differ a little, a phase never ends before it starts. */
function notBefore(at: string, start: string) {
  return Date.parse(at) < Date.parse(start) ? start : at
}

/**
 * The phases after these messages (oldest first): a message in a new phase closes the open one and
 * opens its own; a message in the phase already open changes nothing; an ending (succeeded, failed)
 * closes the open phase at its time. Returns a new array.
 */
export function advancePhases(
  spans: readonly PhaseSpan[],
  messages: readonly { status: string; phase?: string | null; at: string }[],
): PhaseSpan[] {
  const out = spans.map((s) => ({ ...s }))
  for (const message of messages) {
    const at = new Date(message.at).toISOString()
    const open = out.at(-1)?.endedAt === null ? out.at(-1)! : null
    const phase = phaseOf(message)
    if (phase === null) {
      if (open) open.endedAt = notBefore(at, open.startedAt)
      continue
    }
    if (open?.phase === phase) continue
    if (open) open.endedAt = notBefore(at, open.startedAt)
    const start = open ? open.endedAt! : at
    out.push({ phase, startedAt: start, endedAt: null })
  }
  // Keeps the first phases and the newest ones; the middle of a very long flip-flop is dropped.
  return out.length > MAX_PHASES ? [...out.slice(0, MAX_PHASES / 2), ...out.slice(out.length - MAX_PHASES / 2)] : out
}

/** Closes the open phase (the run ended at `at`). */
export function closePhases(spans: readonly PhaseSpan[], at: Date): PhaseSpan[] {
  return spans.map((s) => (s.endedAt === null ? { ...s, endedAt: notBefore(at.toISOString(), s.startedAt) } : { ...s }))
}

/** A phase as the run page shows it: what it was, when it began, how long it took, what it cost. */
export type PhaseView = {
  phase: string
  label: string
  startedAt: string
  duration: string
  /**
   * What its time cost, priced per machine by overlap (app/runs/cost.ts: the same split as the run's cost
   * by phase group); null when it cost nothing (a free machine, or time on no machine).
   */
  cost: string | null
  current: boolean
}
