// PLACEHOLDER for the merge: the server part's module replaces this file. Same names and arguments as
// the real functions, so the Images tab builds and its validation and access tests run without them.
import type { CaptionOptions } from './options'

export type CaptionJobView = {
  runId: string
  status: string
  step: number | null
  totalSteps: number | null
  costUsd: number | null
  estimate: { seconds: number; costUsd: number; machine: string } | null
  error: string | null
  startedAt: Date | null
  finishedAt: Date | null
  options: CaptionOptions | null
  changes: { imageId: string; name: string; before: string | null; after: string | null; status: string }[]
  counts: { written: number; kept: number; missing: number; waiting: number; accepted: number; undone: number }
}

function notBuilt(): never {
  throw new Error('Caption jobs are not built yet.')
}

export async function startCaptionJob(_: {
  trainingId: string
  userId: string
  options: CaptionOptions
}): Promise<{ runId: string }> {
  return notBuilt()
}

export async function acceptCaptionJob(_: { runId: string; userId: string }): Promise<void> {
  return notBuilt()
}

export async function undoCaptionJob(_: { runId: string; userId: string }): Promise<{ undone: number; leftAlone: number }> {
  return notBuilt()
}

export async function captionJobView(_trainingId: string): Promise<CaptionJobView | null> {
  return null
}

export async function estimateCaptionJob(_: {
  imageCount: number
  userId?: string
}): Promise<{ seconds: number; costUsd: number; machine: string; parts: { part: string; seconds: number }[] }> {
  return { seconds: 0, costUsd: 0, machine: 'not estimated yet', parts: [] }
}
