// What a run's machine time cost, split two ways: by machine (each Gpu row the run used: its minutes,
// its price, why it ended) and by what the machine was doing (phase groups: boot and install, download,
// training, sampling, saving and upload, idle). Pure and shared with the browser: the run page, the
// phase list and the GPU fleet page all price time here, so they cannot disagree.
//
// The rules, which the supervisor's run.costUsd follows too:
// - a machine costs (terminatedAt − launchedAt) × its price per hour; a machine not yet terminated runs
//   until `now`; one never launched costs nothing;
// - a phase is priced per machine by overlap: a phase spanning two machines pays each machine's price
//   for the part on it, and the part on no machine (between a reclaimed spot machine and the next)
//   costs nothing;
// - paid time that no phase covers (before the first phase, between phases, after the run ended
//   and before the machine was gone) is idle, and so is a machine waiting to be reclaimed after a spot
//   notice (the agent's `interrupted` phase): paid, nothing done;
// - the parts add up to the total to the cent: the total is rounded once, and the cents are shared out
//   by largest remainder, so no part is more than a cent from its exact amount.
import { isLiveMachineState } from '../gpu/machine-state'
import { formatDuration, formatUsd } from '../utils/format'
import type { PhaseSpan } from './phases'

const MS_PER_HOUR = 3_600_000

/** What the machines did, in the order a run meets them; `other` holds phases this app does not know. */
export const COST_GROUPS = ['boot', 'download', 'training', 'sampling', 'upload', 'idle', 'other'] as const
export type CostGroup = (typeof COST_GROUPS)[number]

export const COST_GROUP_LABELS: Record<CostGroup, string> = {
  boot: 'Boot and install',
  download: 'Download and preparation',
  training: 'Training',
  sampling: 'Sampling',
  upload: 'Saving and upload',
  idle: 'Idle',
  other: 'Other',
}

const GROUP_OF_PHASE: Record<string, CostGroup> = {
  'starting-machine': 'boot',
  booting: 'boot',
  installing: 'boot',
  checking: 'boot',
  preparing: 'download',
  'downloading-model': 'download',
  'loading-model': 'download',
  quantizing: 'download',
  'caching-latents': 'download',
  training: 'training',
  'sampling-baseline': 'sampling',
  sampling: 'sampling',
  saving: 'upload',
  uploading: 'upload',
  // The spot notice came: the trainer is stopped and the machine waits to be taken away.
  interrupted: 'idle',
}

/** The group a phase's time counts in; a phase a newer agent names and this app does not know is `other`. */
export function costGroupOf(phase: string): CostGroup {
  return Object.hasOwn(GROUP_OF_PHASE, phase) ? GROUP_OF_PHASE[phase]! : 'other'
}

type Time = Date | string

/** A machine as this module prices it: a Gpu row, its end already settled (see costMachineOf). */
export type CostMachine = {
  instanceId: string
  instanceType: string | null
  zone: string | null
  spot: boolean
  /** USD per hour; 0 for a machine that costs nothing (the local provider). */
  pricePerHour: number
  /** null: never launched, so never paid. */
  launchedAt: Time | null
  /** null: still running, paid until `now`. */
  terminatedAt: Time | null
  endReason: string | null
}

/**
 * A Gpu row as a CostMachine. The price is the machine's own (spot machines differ from each other),
 * else the run's. A row marked terminated without a time (the reaper saw it gone) ended at its last
 * update, as the fleet page always counted it, rather than running on forever.
 */
export function costMachineOf(
  gpu: {
    instanceId: string
    instanceType: string | null
    zone: string | null
    spot: boolean
    status: string
    pricePerHour: number | null
    launchedAt: Time | null
    terminatedAt: Time | null
    updatedAt: Time
    endReason: string | null
  },
  runPricePerHour: number | null = null,
): CostMachine {
  return {
    instanceId: gpu.instanceId,
    instanceType: gpu.instanceType,
    zone: gpu.zone,
    spot: gpu.spot,
    pricePerHour: Math.max(0, gpu.pricePerHour ?? runPricePerHour ?? 0),
    launchedAt: gpu.launchedAt,
    terminatedAt: gpu.terminatedAt ?? (isLiveMachineState(gpu.status) ? null : gpu.updatedAt),
    endReason: gpu.endReason,
  }
}

export type MachineCost = {
  machine: CostMachine
  /** Paid milliseconds: launch to termination (or now). */
  ms: number
  usd: number
  /** Its share of the rounded total, in cents (the machine parts add up to totalCents). */
  cents: number
  running: boolean
}

export type GroupCost = { group: CostGroup; ms: number; usd: number; cents: number }

export type CostBreakdown = {
  /** Σ machines (ms × price): the run's costUsd, unrounded. */
  totalUsd: number
  totalCents: number
  paidMs: number
  trainingMs: number
  /** Training time over paid time; null when nothing was paid for. */
  trainingShare: number | null
  machines: MachineCost[]
  /** Every group, in COST_GROUPS order (zeros included, so a table has stable rows). */
  groups: GroupCost[]
  /** Each phase span's cost (same order as the spans given), priced per machine by overlap. */
  phaseUsd: number[]
  /** Each phase span's paid milliseconds (time on no machine is not paid). */
  phasePaidMs: number[]
}

function ms(t: Time) {
  return typeof t === 'string' ? Date.parse(t) : t.getTime()
}

/**
 * Shares `totalCents` among parts in proportion to `amounts` (USD), by largest remainder: each part
 * gets its amount's whole cents, and the cents left go to the parts with the largest fractions. Float
 * dust (the parts' sum a hair off the total) is settled on the parts nearest a cent boundary, never
 * below zero.
 */
export function apportionCents(amounts: readonly number[], totalCents: number): number[] {
  const exact = amounts.map((a) => Math.max(0, a) * 100)
  const cents = exact.map((c) => Math.floor(c + 1e-9))
  let left = totalCents - cents.reduce((s, c) => s + c, 0)
  const byFraction = exact.map((c, i) => ({ i, f: c - cents[i]! }))
  if (left > 0) {
    byFraction.sort((a, b) => b.f - a.f || a.i - b.i)
    // Bounded: at most one pass adds a cent to each part, then the largest parts take the rest.
    for (let k = 0; left > 0 && k < byFraction.length; k++, left--) cents[byFraction[k]!.i]!++
    for (let k = 0; left > 0 && cents.length > 0; left--, k = (k + 1) % cents.length) cents[k]!++
  } else if (left < 0) {
    byFraction.sort((a, b) => a.f - b.f || b.i - a.i)
    for (let k = 0; left < 0 && k < byFraction.length * 2; k++) {
      const i = byFraction[k % byFraction.length]!.i
      if (cents[i]! > 0) {
        cents[i]!--
        left++
      }
    }
  }
  return cents
}

/** USD rounded to whole cents once (to 12 significant digits first, so 0.145 is not 0.14499…). */
export function toCents(usd: number) {
  return Math.round(Number((Math.max(0, usd) * 100).toPrecision(12)))
}

/**
 * The split. `phasesEndAt` is where a phase still open ends: now while the run is active, the run's
 * end otherwise. Phases are expected one after another (app/runs/phases.ts keeps them so); should two
 * overlap, the time counts once, for the one that began later.
 */
export function costBreakdown({
  machines,
  phases,
  now,
  phasesEndAt = now,
}: {
  machines: readonly CostMachine[]
  phases: readonly PhaseSpan[]
  now: Date
  phasesEndAt?: Date
}): CostBreakdown {
  const spans = phases.map((p) => {
    const start = ms(p.startedAt)
    const end = p.endedAt ? ms(p.endedAt) : phasesEndAt.getTime()
    return { start, end: Math.max(start, end), group: costGroupOf(p.phase) }
  })
  const phaseUsd = spans.map(() => 0)
  const phasePaidMs = spans.map(() => 0)
  const groupMs = new Map<CostGroup, number>(COST_GROUPS.map((g) => [g, 0]))
  const groupUsd = new Map<CostGroup, number>(COST_GROUPS.map((g) => [g, 0]))

  const machineCosts = machines.map((machine) => {
    const running = machine.launchedAt !== null && machine.terminatedAt === null
    if (machine.launchedAt === null) return { machine, ms: 0, usd: 0, cents: 0, running: false }
    const a = ms(machine.launchedAt)
    const b = Math.max(a, machine.terminatedAt === null ? now.getTime() : ms(machine.terminatedAt))
    const perMs = machine.pricePerHour / MS_PER_HOUR
    // Sweep the machine's time over every boundary inside it; each piece goes to the phase covering it.
    const cuts = new Set([a, b])
    for (const s of spans) {
      if (s.start > a && s.start < b) cuts.add(s.start)
      if (s.end > a && s.end < b) cuts.add(s.end)
    }
    const points = [...cuts].sort((x, y) => x - y)
    for (let k = 0; k + 1 < points.length; k++) {
      const x = points[k]!
      const y = points[k + 1]!
      let owner = -1
      spans.forEach((s, i) => {
        if (s.start <= x && s.end >= y && (owner < 0 || s.start >= spans[owner]!.start)) owner = i
      })
      const piece = y - x
      const group = owner < 0 ? 'idle' : spans[owner]!.group
      groupMs.set(group, groupMs.get(group)! + piece)
      groupUsd.set(group, groupUsd.get(group)! + piece * perMs)
      if (owner >= 0) {
        phasePaidMs[owner]! += piece
        phaseUsd[owner]! += piece * perMs
      }
    }
    return { machine, ms: b - a, usd: (b - a) * perMs, cents: 0, running }
  })

  const totalUsd = machineCosts.reduce((s, m) => s + m.usd, 0)
  const totalCents = toCents(totalUsd)
  const machineCents = apportionCents(
    machineCosts.map((m) => m.usd),
    totalCents,
  )
  machineCosts.forEach((m, i) => (m.cents = machineCents[i]!))
  const groupCents = apportionCents(
    COST_GROUPS.map((g) => groupUsd.get(g)!),
    totalCents,
  )
  const paidMs = machineCosts.reduce((s, m) => s + m.ms, 0)
  const trainingMs = groupMs.get('training')!
  return {
    totalUsd,
    totalCents,
    paidMs,
    trainingMs,
    trainingShare: paidMs > 0 ? trainingMs / paidMs : null,
    machines: machineCosts,
    groups: COST_GROUPS.map((group, i) => ({ group, ms: groupMs.get(group)!, usd: groupUsd.get(group)!, cents: groupCents[i]! })),
    phaseUsd,
    phasePaidMs,
  }
}

/** Why a machine stopped, for people. */
export function machineEndText(m: { running: boolean; machine: { launchedAt: Time | null; endReason: string | null } }) {
  if (m.machine.launchedAt === null) return 'Never launched'
  if (m.running) return 'Running'
  if (m.machine.endReason === 'spot-interruption') return 'Reclaimed (spot interruption)'
  return m.machine.endReason ? m.machine.endReason.replaceAll('-', ' ') : 'Ended by Trainyard'
}

/** "72%" (whole percent); "—" when nothing was paid. */
export function formatShare(share: number | null) {
  return share === null ? '—' : `${Math.round(share * 100)}%`
}

/** "$0.37" from cents; a part that cost something but rounds to no cent reads "< $0.01", not free. */
export function centsText(cents: number, usd: number) {
  return cents === 0 && usd > 0 ? '< $0.01' : formatUsd(cents / 100)
}

/** "$1.01/h"; "free" for a machine that costs nothing. */
function priceText(pricePerHour: number) {
  return pricePerHour > 0 ? `${formatUsd(pricePerHour)}/h` : 'free'
}

/** The split in words, as the RunCost component shows it. */
export type RunCostView = {
  /** "$0.50", or the provider's words for a free machine ("$0.00 (local machine)"). */
  total: string
  paid: string
  trainingShare: string
  machines: Array<{
    key: string
    instanceId: string
    instanceType: string
    zone: string | null
    spot: boolean
    price: string
    time: string
    cost: string
    ended: string
    interrupted: boolean
    running: boolean
  }>
  groups: Array<{ group: CostGroup; label: string; time: string; cost: string; percent: number }>
  /** Each stored phase's cost, one for one with the run's phases; null where it cost nothing. */
  phaseCosts: Array<string | null>
}

/**
 * The split in words. `freeText` is what the provider calls a machine that costs nothing (the local
 * provider's "$0.00 (local machine)"), shown as the total when nothing was paid.
 */
export function costViewOf(b: CostBreakdown, freeText: string | null = null): RunCostView {
  return {
    total: b.totalCents === 0 && b.totalUsd === 0 && freeText ? freeText : centsText(b.totalCents, b.totalUsd),
    paid: formatDuration(b.paidMs),
    trainingShare: formatShare(b.trainingShare),
    machines: b.machines.map((m, i) => ({
      key: `${m.machine.instanceId}-${i}`,
      instanceId: m.machine.instanceId,
      instanceType: m.machine.instanceType ?? '—',
      zone: m.machine.zone,
      spot: m.machine.spot,
      price: priceText(m.machine.pricePerHour),
      time: formatDuration(m.ms),
      cost: centsText(m.cents, m.usd),
      ended: machineEndText(m),
      interrupted: m.machine.endReason === 'spot-interruption',
      running: m.running,
    })),
    // Groups with no paid time are left out: a short run shows only what it did.
    groups: b.groups
      .filter((g) => g.ms > 0)
      .map((g) => ({
        group: g.group,
        label: COST_GROUP_LABELS[g.group],
        time: formatDuration(g.ms),
        cost: centsText(g.cents, g.usd),
        percent: b.paidMs > 0 ? (g.ms / b.paidMs) * 100 : 0,
      })),
    phaseCosts: b.phaseUsd.map((usd) => (usd > 0 ? formatUsd(usd) : null)),
  }
}
