import { describe, expect, test } from 'vitest'
import { advanceRunStatus, isActiveRunStatus, runStatusLabel } from './status'

describe('advanceRunStatus', () => {
  test('moves forward through the lifecycle, skipping states the agent did not report', () => {
    expect(advanceRunStatus('queued', 'provisioning')).toBe('provisioning')
    expect(advanceRunStatus('provisioning', 'booting')).toBe('booting')
    expect(advanceRunStatus('booting', 'training')).toBe('training')
    expect(advanceRunStatus('uploading', 'succeeded')).toBe('succeeded')
  })

  test('never moves back: an out-of-order or repeated message changes nothing', () => {
    expect(advanceRunStatus('training', 'preparing')).toBeNull()
    expect(advanceRunStatus('training', 'training')).toBeNull()
    expect(advanceRunStatus('uploading', 'booting')).toBeNull()
  })

  test('failed and canceled end any active run', () => {
    for (const from of ['queued', 'provisioning', 'booting', 'preparing', 'training', 'uploading']) {
      expect(advanceRunStatus(from, 'failed')).toBe('failed')
      expect(advanceRunStatus(from, 'canceled')).toBe('canceled')
    }
  })

  test('a terminal run never moves again (a late message after cancel cannot revive or fail it)', () => {
    for (const from of ['succeeded', 'failed', 'canceled']) {
      for (const to of ['training', 'succeeded', 'failed', 'canceled']) expect(advanceRunStatus(from, to)).toBeNull()
    }
  })

  test('unknown statuses change nothing', () => {
    expect(advanceRunStatus('training', 'exploded')).toBeNull()
    expect(advanceRunStatus('mystery', 'training')).toBeNull()
  })
})

test('labels and the active set', () => {
  expect(runStatusLabel('provisioning')).toBe('Starting a machine')
  expect(runStatusLabel('from-the-future')).toBe('from-the-future')
  expect(isActiveRunStatus('uploading')).toBe(true)
  expect(isActiveRunStatus('succeeded')).toBe(false)
})
