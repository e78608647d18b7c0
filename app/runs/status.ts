// The run lifecycle, shared by the supervisor, the pages and the browser: the states in order, which
// are active, and the one rule for moving between them.
//
//   queued → provisioning → booting → preparing → training → uploading → succeeded
//   any active state → failed | canceled
//
// The supervisor owns queued → provisioning (it launched a machine); the agent's messages own booting
// through succeeded/failed; a person (or an admin) owns canceled; the supervisor also fails a run whose
// agent went silent or whose machine vanished.

export const RUN_STATUSES = [
  'queued',
  'provisioning',
  'booting',
  'preparing',
  'training',
  'uploading',
  'succeeded',
  'failed',
  'canceled',
] as const
export type RunStatus = (typeof RUN_STATUSES)[number]

export const ACTIVE_RUN_STATUSES = ['queued', 'provisioning', 'booting', 'preparing', 'training', 'uploading'] as const
export type ActiveRunStatus = (typeof ACTIVE_RUN_STATUSES)[number]
export const TERMINAL_RUN_STATUSES = ['succeeded', 'failed', 'canceled'] as const
export type TerminalRunStatus = (typeof TERMINAL_RUN_STATUSES)[number]

/** What the agent may report (protocol v1): the states after the machine exists. */
export const AGENT_STATUSES = ['booting', 'preparing', 'training', 'uploading', 'succeeded', 'failed'] as const

export function isRunStatus(value: string): value is RunStatus {
  return (RUN_STATUSES as readonly string[]).includes(value)
}

export function isActiveRunStatus(value: string): value is ActiveRunStatus {
  return (ACTIVE_RUN_STATUSES as readonly string[]).includes(value)
}

export function isTerminalRunStatus(value: string): value is TerminalRunStatus {
  return (TERMINAL_RUN_STATUSES as readonly string[]).includes(value)
}

/**
 * The status a run moves to when `next` is reported while it is `current`, or null when the report
 * changes nothing. A terminal run never moves again (a late or duplicate message after cancel cannot
 * revive it); an active run moves forward only (an out-of-order older message cannot move it back);
 * failed and canceled end any active run.
 */
export function advanceRunStatus(current: string, next: string): RunStatus | null {
  if (!isRunStatus(current) || !isRunStatus(next)) return null
  if (isTerminalRunStatus(current)) return null
  if (next === 'failed' || next === 'canceled') return next
  return RUN_STATUSES.indexOf(next) > RUN_STATUSES.indexOf(current) ? next : null
}

export const RUN_STATUS_LABELS: Record<RunStatus, string> = {
  queued: 'Queued',
  provisioning: 'Starting a machine',
  booting: 'Booting',
  preparing: 'Preparing the dataset',
  training: 'Training',
  uploading: 'Uploading the LoRA',
  succeeded: 'Succeeded',
  failed: 'Failed',
  canceled: 'Canceled',
}

/** One state of a run's timeline as the run page shows it (built by buildTimeline in view.server.ts). */
export type TimelineStep = {
  status: RunStatus
  label: string
  /** ISO time the run reached this state, null when it has not (or when that was not recorded). */
  at: string | null
  state: 'done' | 'current' | 'upcoming' | 'skipped'
}

/** The label of a stored status; an unknown one (a newer app wrote it) is shown as is. */
export function runStatusLabel(status: string) {
  return isRunStatus(status) ? RUN_STATUS_LABELS[status] : status
}
