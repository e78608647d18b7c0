// The shapes the command line reads from the API, as the API's contract states them. Written here, not
// imported from the app, so the command line depends on nothing but HTTP and could ship on its own.

export type Page<T> = { data: T[]; nextCursor: string | null }

export type Me = { id: string; email: string; name: string | null; token: { id: string; scopes: string[] } }

export type Training = {
  id: string
  name: string
  triggerWord: string
  baseModel: string
  imageCount: number
  captionedCount: number
  activeRunId: string | null
  createdAt: string
  updatedAt: string
}

export type Image = { id: string; name: string; caption: string | null; width: number; height: number; size: number }

export type UploadResult =
  { name: string; ok: true; image: Image; warnings?: string[] } | { name: string; ok: false; error: string }

export type UploadAnswer = { results?: UploadResult[]; error?: string }

/** Blockers and advice are sentences, or objects carrying one. */
export type DatasetCheck = { ready: boolean; blockers: unknown[]; advice: unknown[] }

export const TERMINAL_STATUSES = ['succeeded', 'failed', 'canceled'] as const

export type Run = {
  id: string
  trainingId: string
  status: string
  phase: string | null
  step: number | null
  totalSteps: number | null
  loss: number | null
  etaSeconds: number | null
  costUsd: number
  gpuMinutes: number
  estimate: { seconds: number; costUsd: number } | null
  error: string | null
  errorKind: string | null
  continuedFrom: { runId: string; step: number } | null
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  loraReady: boolean
}

export type Estimate = {
  machine?: string
  provider?: string
  instanceType?: string
  spot?: boolean
  pricePerHour?: number
  steps?: number
  seconds: number
  costUsd: number
  speedSource?: string
}
