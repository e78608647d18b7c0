// The cost split worked out by hand: one machine; two spot machines with a gap between them and a
// phase that spans both; a phase still running; a free local machine; and cents that add up.
import { describe, expect, test } from 'vitest'
import {
  apportionCents,
  costBreakdown,
  costGroupOf,
  costMachineOf,
  formatShare,
  machineEndText,
  toCents,
  type CostBreakdown,
  type CostMachine,
} from './cost'
import type { PhaseSpan } from './phases'

/** 2026-11-30 at hh:mm UTC. */
function t(hhmm: string) {
  return new Date(`2026-11-30T${hhmm}:00.000Z`)
}
function span(phase: string, from: string, to: string | null): PhaseSpan {
  return { phase, startedAt: t(from).toISOString(), endedAt: to === null ? null : t(to).toISOString() }
}
function machine(over: Partial<CostMachine> & { launchedAt: CostMachine['launchedAt'] }): CostMachine {
  return {
    instanceId: 'i-1',
    instanceType: 'g5.xlarge',
    zone: 'us-east-1a',
    spot: false,
    pricePerHour: 1.2,
    terminatedAt: null,
    endReason: null,
    ...over,
  }
}
const MIN = 60_000
function cents(b: CostBreakdown) {
  return Object.fromEntries(b.groups.filter((g) => g.cents > 0 || g.ms > 0).map((g) => [g.group, g.cents]))
}
function minutes(b: CostBreakdown) {
  return Object.fromEntries(b.groups.filter((g) => g.ms > 0).map((g) => [g.group, g.ms / MIN]))
}
function expectAddsUp(b: CostBreakdown) {
  expect(b.machines.reduce((s, m) => s + m.cents, 0)).toBe(b.totalCents)
  expect(b.groups.reduce((s, g) => s + g.cents, 0)).toBe(b.totalCents)
  expect(b.groups.reduce((s, g) => s + g.ms, 0)).toBe(b.paidMs)
  for (const part of [...b.machines, ...b.groups]) expect(Math.abs(part.cents - part.usd * 100)).toBeLessThan(1)
}

describe('costBreakdown', () => {
  test('one machine, $1.20/h for an hour: each phase group at 2 cents a minute, the tail before termination idle', () => {
    const b = costBreakdown({
      machines: [machine({ launchedAt: t('10:00'), terminatedAt: t('11:00') })],
      phases: [
        span('starting-machine', '10:00', '10:03'),
        span('booting', '10:03', '10:04'),
        span('installing', '10:04', '10:10'),
        span('downloading-model', '10:10', '10:20'),
        span('training', '10:20', '10:50'),
        span('sampling', '10:50', '10:53'),
        span('saving', '10:53', '10:54'),
        span('uploading', '10:54', '10:56'),
      ],
      now: t('12:00'),
    })
    expect(b.totalCents).toBe(120)
    expect(b.totalUsd).toBeCloseTo(1.2, 12)
    expect(minutes(b)).toEqual({ boot: 10, download: 10, training: 30, sampling: 3, upload: 3, idle: 4 })
    expect(cents(b)).toEqual({ boot: 20, download: 20, training: 60, sampling: 6, upload: 6, idle: 8 })
    expect(b.machines).toMatchObject([{ ms: 60 * MIN, cents: 120, running: false }])
    expect(b.trainingShare).toBe(0.5)
    expect(b.phaseUsd.map((usd) => Math.round(usd * 100))).toEqual([6, 2, 12, 20, 60, 6, 2, 4])
    expectAddsUp(b)
  })

  test('two spot machines with a 5-minute gap: a phase spanning both pays each its price, the gap costs nothing', () => {
    const a = machine({
      instanceId: 'i-a',
      spot: true,
      pricePerHour: 0.4,
      launchedAt: t('10:00'),
      terminatedAt: t('10:30'),
      endReason: 'spot-interruption',
    })
    const b2 = machine({ instanceId: 'i-b', spot: true, pricePerHour: 0.6, launchedAt: t('10:35'), terminatedAt: t('11:05') })
    const b = costBreakdown({
      machines: [a, b2],
      phases: [
        span('starting-machine', '10:00', '10:02'),
        span('installing', '10:02', '10:05'),
        // Open across the interruption: 25 min on A, 5 on no machine, 5 on B.
        span('training', '10:05', '10:40'),
        span('booting', '10:40', '10:45'),
        span('training', '10:45', '11:00'),
        span('uploading', '11:00', '11:02'),
      ],
      now: t('12:00'),
    })
    // A: 30 min × $0.40/h = $0.20; B: 30 min × $0.60/h = $0.30.
    expect(b.machines.map((m) => [m.ms / MIN, m.cents])).toEqual([
      [30, 20],
      [30, 30],
    ])
    expect(b.totalCents).toBe(50)
    // boot: 5 min on A ($0.0333) + 5 on B ($0.05) = $0.0833; training: 25 on A ($0.1667) + 20 on B ($0.20) =
    // $0.3667; upload 2 on B; idle: B's 3 minutes after the upload. Floors 8+36+2+3 = 49; the cent left goes
    // to training (the largest fraction, .67).
    expect(minutes(b)).toEqual({ boot: 10, training: 45, upload: 2, idle: 3 })
    expect(cents(b)).toEqual({ boot: 8, training: 37, upload: 2, idle: 3 })
    expect(b.phasePaidMs[2]).toBe(30 * MIN)
    expect(b.phaseUsd[2]).toBeCloseTo(0.25 / 1.5 + 0.05, 12)
    expect(b.trainingShare).toBe(0.75)
    expect(machineEndText(b.machines[0]!)).toBe('Reclaimed (spot interruption)')
    expect(machineEndText(b.machines[1]!)).toBe('Ended by Trainyard')
    expectAddsUp(b)
  })

  test('a phase still running on a running machine: both run until now', () => {
    const b = costBreakdown({
      machines: [machine({ pricePerHour: 2, launchedAt: t('10:00') })],
      phases: [span('starting-machine', '10:00', '10:05'), span('training', '10:05', null)],
      now: t('10:30'),
    })
    // $1.00 for 30 min: boot 5 min $0.1667, training 25 min $0.8333; floors 16 + 83, the cent to boot.
    expect(b.totalCents).toBe(100)
    expect(cents(b)).toEqual({ boot: 17, training: 83 })
    expect(b.machines[0]).toMatchObject({ running: true, ms: 30 * MIN })
    expect(machineEndText(b.machines[0]!)).toBe('Running')
    expect(b.trainingShare).toBeCloseTo(25 / 30, 12)
    expectAddsUp(b)
  })

  test('an open phase of a run that ended stops at the run’s end; the machine’s time after it is idle', () => {
    const b = costBreakdown({
      machines: [machine({ pricePerHour: 0.6, launchedAt: t('10:00'), terminatedAt: t('10:20') })],
      phases: [span('training', '10:00', null)],
      now: t('12:00'),
      phasesEndAt: t('10:15'),
    })
    expect(minutes(b)).toEqual({ training: 15, idle: 5 })
    expect(b.totalCents).toBe(20)
  })

  test('a free local machine: minutes and the training share, no money', () => {
    const b = costBreakdown({
      machines: [machine({ instanceType: 'local', pricePerHour: 0, launchedAt: t('10:00'), terminatedAt: t('10:20') })],
      phases: [span('booting', '10:00', '10:05'), span('training', '10:05', '10:20')],
      now: t('12:00'),
    })
    expect(b.totalUsd).toBe(0)
    expect(b.totalCents).toBe(0)
    expect(b.groups.every((g) => g.cents === 0)).toBe(true)
    expect(b.paidMs).toBe(20 * MIN)
    expect(b.trainingShare).toBe(0.75)
    expect(b.phaseUsd).toEqual([0, 0])
  })

  test('no machine launched (or none at all): nothing paid, no share', () => {
    const b = costBreakdown({
      machines: [machine({ launchedAt: null })],
      phases: [span('training', '10:00', '10:05')],
      now: t('12:00'),
    })
    expect(b).toMatchObject({ totalCents: 0, paidMs: 0, trainingShare: null })
    expect(machineEndText(b.machines[0]!)).toBe('Never launched')
    expect(costBreakdown({ machines: [], phases: [], now: t('12:00') }).trainingShare).toBeNull()
    expect(formatShare(null)).toBe('—')
    expect(formatShare(0.754)).toBe('75%')
  })

  test('rounding adds up: three machines of 3⅓ cents make 10 cents, the odd cent to the first', () => {
    const machines = ['i-1', 'i-2', 'i-3'].map((instanceId, i) =>
      machine({ instanceId, pricePerHour: 0.2, launchedAt: t(`1${i}:00`), terminatedAt: t(`1${i}:10`) }),
    )
    const b = costBreakdown({ machines, phases: [], now: t('13:00') })
    expect(b.totalCents).toBe(10)
    expect(b.machines.map((m) => m.cents)).toEqual([4, 3, 3])
    expect(cents(b)).toEqual({ idle: 10 })
    expectAddsUp(b)
  })

  test('rounding adds up on 200 random runs, and the total is the supervisor’s Σ minutes/60 × price', () => {
    let seed = 12345
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    const names = [
      'starting-machine',
      'installing',
      'downloading-model',
      'training',
      'sampling',
      'uploading',
      'interrupted',
      'new-thing',
    ]
    for (let run = 0; run < 200; run++) {
      const base = t('10:00').getTime()
      const machines: CostMachine[] = []
      let at = base
      for (let m = 0; m < 1 + Math.floor(rand() * 3); m++) {
        const start = at + Math.floor(rand() * 10 * MIN)
        const end = start + Math.floor(rand() * 90 * MIN) + 1000
        machines.push(
          machine({
            instanceId: `i-${m}`,
            pricePerHour: Math.round(rand() * 500) / 100,
            launchedAt: new Date(start),
            terminatedAt: new Date(end),
          }),
        )
        at = end
      }
      const phases: PhaseSpan[] = []
      let p = base + Math.floor(rand() * 5 * MIN)
      while (p < at && phases.length < 20) {
        const next = p + Math.floor(rand() * 40 * MIN) + 1
        phases.push({
          phase: names[Math.floor(rand() * names.length)]!,
          startedAt: new Date(p).toISOString(),
          endedAt: new Date(next).toISOString(),
        })
        p = next + (rand() < 0.3 ? Math.floor(rand() * 3 * MIN) : 0)
      }
      const b = costBreakdown({ machines, phases, now: new Date(at + 3_600_000) })
      const supervisor = machines.reduce(
        (s, m) => s + ((new Date(m.terminatedAt!).getTime() - new Date(m.launchedAt!).getTime()) / 60_000 / 60) * m.pricePerHour,
        0,
      )
      expect(b.totalUsd).toBeCloseTo(supervisor, 9)
      expect(b.totalCents).toBe(toCents(supervisor))
      expectAddsUp(b)
    }
  })

  test('overlapping phases count once (for the later one); unknown phases are "other"; interrupted is idle', () => {
    const b = costBreakdown({
      machines: [machine({ pricePerHour: 0.6, launchedAt: t('10:00'), terminatedAt: t('10:30') })],
      phases: [span('training', '10:00', '10:20'), span('new-thing', '10:10', '10:25'), span('interrupted', '10:25', '10:30')],
      now: t('12:00'),
    })
    expect(minutes(b)).toEqual({ training: 10, other: 15, idle: 5 })
    expect(costGroupOf('caching-latents')).toBe('download')
    expect(costGroupOf('sampling-baseline')).toBe('sampling')
    expect(costGroupOf('toString')).toBe('other')
    expectAddsUp(b)
  })
})

describe('apportionCents and toCents', () => {
  test('largest remainder; float dust above or below the total is settled without going negative', () => {
    expect(apportionCents([0.0125, 0.0125, 0.025], 5)).toEqual([1, 1, 3])
    expect(apportionCents([0.019999999999, 0], 2)).toEqual([2, 0])
    expect(apportionCents([0.0200000001, 0.01], 3)).toEqual([2, 1])
    expect(apportionCents([0.0200000001, 0.0099999999], 3)).toEqual([2, 1])
    expect(apportionCents([0.01, 0.02], 2)).toEqual([1, 1])
    expect(apportionCents([0, 0.01], 0)).toEqual([0, 0])
    expect(apportionCents([], 0)).toEqual([])
    expect(toCents(0.145)).toBe(15)
    expect(toCents(1.005)).toBe(101)
    expect(toCents(-1)).toBe(0)
  })
})

describe('costMachineOf', () => {
  const row = {
    instanceId: 'i-9',
    instanceType: 'g5.xlarge',
    zone: null,
    spot: false,
    status: 'terminated',
    pricePerHour: null,
    launchedAt: t('10:00'),
    terminatedAt: null,
    updatedAt: t('10:40'),
    endReason: null,
  }
  test('the machine’s own price, else the run’s; a terminated row without a time ended at its last update', () => {
    expect(costMachineOf(row, 1.5)).toMatchObject({ pricePerHour: 1.5, terminatedAt: t('10:40') })
    expect(costMachineOf({ ...row, pricePerHour: 0.7 }, 1.5).pricePerHour).toBe(0.7)
    expect(costMachineOf({ ...row, status: 'running' }).terminatedAt).toBeNull()
    expect(costMachineOf({ ...row, terminatedAt: t('10:30') }).terminatedAt).toEqual(t('10:30'))
  })
})
