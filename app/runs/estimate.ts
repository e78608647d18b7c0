// What a run is expected to take and cost before it starts: the shape every page, the budget check and
// the run page share. Shared with the browser (no secrets: the price per hour is shown to people anyway).
// How the numbers are made is in ./estimate.server.ts.

export const ESTIMATE_PARTS = ['boot', 'download', 'loading', 'training', 'sampling', 'upload'] as const
export type EstimatePart = (typeof ESTIMATE_PARTS)[number]

export type RunEstimate = {
  /** The GPU provider and the machine the run would get: "g5.xlarge (NVIDIA A10G)". */
  provider: string
  instanceType: string
  machine: string
  spot: boolean
  /** USD per hour; 0 for a machine that costs nothing (the local provider). */
  pricePerHour: number
  /** aws: asked of AWS (cached); table: the built-in price table (AWS could not be asked); free. */
  priceSource: 'aws' | 'table' | 'free'
  /** The steps this run trains (a continuation: those after its resume step). */
  steps: number
  /** Seconds per part, in the order they happen. */
  parts: { part: EstimatePart; seconds: number }[]
  seconds: number
  costUsd: number
  /** measured: from this installation's finished runs of the same model and machine; table: the starting table. */
  speedSource: 'measured' | 'table'
  measuredRuns: number
}

/** The stored estimate (TrainingRun.estimate), or null when absent or not one. */
export function parseEstimate(json: string | null | undefined): RunEstimate | null {
  if (!json) return null
  try {
    const value = JSON.parse(json) as Partial<RunEstimate> | null
    return value && typeof value.seconds === 'number' && typeof value.costUsd === 'number' && Array.isArray(value.parts)
      ? (value as RunEstimate)
      : null
  } catch {
    return null
  }
}
