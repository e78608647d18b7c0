import { describe, expect, test } from 'vitest'
import { DECODE_BUDGET_BYTES, estimateDecodeBytes, withDecodeBudget } from './decode-budget.server'

const MB = 1024 * 1024

function deferred() {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

/** Starts a job that runs until its `finish` is called; `started` says whether it got its turn. */
function job(bytes: number) {
  const gate = deferred()
  const state = { started: false, finish: gate.resolve, done: Promise.resolve() }
  state.done = withDecodeBudget(bytes, async () => {
    state.started = true
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
    await expect(withDecodeBudget(DECODE_BUDGET_BYTES, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom')
    const next = job(DECODE_BUDGET_BYTES)
    await tick()
    expect(next.started).toBe(true)
    next.finish()
    await next.done
  })
})
