import { describe, expect, test } from 'vitest'
import { DECODE_BUDGET_BYTES, estimateDecodeBytes, withDecodeBudget } from './decode-budget.server'

const MB = 1024 * 1024

function deferred() {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

/** Starts a job that runs until its `finish` is called; `started` says whether it got its turn. */
function job(bytes: number, owner = 'ada', onStart?: () => void) {
  const gate = deferred()
  const state = { started: false, finish: gate.resolve, done: Promise.resolve() }
  state.done = withDecodeBudget(owner, bytes, async () => {
    state.started = true
    onStart?.()
    await gate.promise
  })
  return state
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0))

describe('the decode budget', () => {
  test('a rotated 12-MP photo costs its decoded size; a streamed one a fixed amount', () => {
    const photo = { width: 4000, height: 3000, channels: 3, format: 'jpeg' }
    expect(estimateDecodeBytes({ ...photo, orientation: 6 })).toBe(16 * MB + 36_000_000)
    expect(estimateDecodeBytes(photo)).toBe(24 * MB)
    expect(estimateDecodeBytes({ ...photo, format: 'webp' })).toBeGreaterThan(36_000_000)
  })

  test('jobs run together while they fit, the next waits for room, one too big runs alone', async () => {
    const a = job(DECODE_BUDGET_BYTES / 2)
    const b = job(DECODE_BUDGET_BYTES / 2)
    const c = job(DECODE_BUDGET_BYTES / 4)
    await tick()
    expect([a.started, b.started, c.started]).toEqual([true, true, false])
    a.finish()
    await a.done
    await tick()
    expect(c.started).toBe(true)
    const huge = job(DECODE_BUDGET_BYTES * 3)
    await tick()
    expect(huge.started).toBe(false)
    b.finish()
    c.finish()
    await Promise.all([b.done, c.done])
    await tick()
    expect(huge.started).toBe(true)
    const after = job(1)
    await tick()
    expect(after.started).toBe(false)
    huge.finish()
    await huge.done
    await tick()
    expect(after.started).toBe(true)
    after.finish()
    await after.done
  })

  test('a failing job gives its room back', async () => {
    await expect(withDecodeBudget('ada', DECODE_BUDGET_BYTES, async () => Promise.reject(new Error('boom')))).rejects.toThrow(
      'boom',
    )
    const next = job(DECODE_BUDGET_BYTES)
    await tick()
    expect(next.started).toBe(true)
    next.finish()
    await next.done
  })

  test('owners take turns: 40 large jobs of one owner delay another owner’s single small job by one decode', async () => {
    const order: string[] = []
    // Each of Ada's jobs takes the whole budget, so they run one at a time, as large WebPs do.
    const ada = Array.from({ length: 40 }, (_, i) => job(DECODE_BUDGET_BYTES, 'ada', () => order.push(`ada-${i}`)))
    await tick()
    const bob = job(24 * MB, 'bob', () => order.push('bob'))
    await tick()
    expect(order).toEqual(['ada-0'])
    ada[0]!.finish()
    await ada[0]!.done
    await tick()
    expect(order).toEqual(['ada-0', 'bob'])
    bob.finish()
    await bob.done
    for (const [i, a] of ada.entries()) {
      if (i === 0) continue
      await tick()
      expect(a.started).toBe(true)
      a.finish()
      await a.done
    }
    // Ada's own jobs kept their order.
    expect(order).toEqual(['ada-0', 'bob', ...Array.from({ length: 39 }, (_, i) => `ada-${i + 1}`)])
  })

  test('three owners with queued jobs are served in turn', async () => {
    const order: string[] = []
    const jobs: Array<ReturnType<typeof job>> = []
    for (let i = 0; i < 3; i++)
      for (const owner of ['ada', 'bob', 'cy']) jobs.push(job(DECODE_BUDGET_BYTES, owner, () => order.push(owner)))
    const finished = new Set<ReturnType<typeof job>>()
    for (let i = 0; i < jobs.length; i++) {
      await tick()
      const current = jobs.filter((j) => j.started && !finished.has(j))
      expect(current).toHaveLength(1)
      finished.add(current[0]!)
      current[0]!.finish()
      await current[0]!.done
    }
    expect(order).toEqual(['ada', 'bob', 'cy', 'ada', 'bob', 'cy', 'ada', 'bob', 'cy'])
  })
})
