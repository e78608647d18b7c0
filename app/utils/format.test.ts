// The text the pages, failure reasons and emails are built from: durations, money, sizes, ETA, counts.
import { expect, test } from 'vitest'
import {
  countOf,
  durationInWords,
  formatBytes,
  formatClock,
  formatDate,
  formatDateTime,
  formatDuration,
  formatEta,
  formatUsd,
  formatUtc,
} from './format'

test('durations, money, sizes and ETA read like a person would say them', () => {
  expect([0, 45_000, 60_000, 185_000, 3_600_000, 7_440_000, 3 * 86_400_000].map(formatDuration)).toEqual([
    '0 s',
    '45 s',
    '1 min 00 s',
    '3 min 05 s',
    '1 h 00 min',
    '2 h 04 min',
    '3 days',
  ])
  expect([0, 0.001, 0.005, 1.234, 12].map(formatUsd)).toEqual(['$0.00', '< $0.01', '$0.01', '$1.23', '$12.00'])
  expect([10, 2048, 1_572_864].map(formatBytes)).toEqual(['10 B', '2.0 KB', '1.5 MB'])
  expect([null, -1, 30, 150, 3600].map(formatEta)).toEqual([
    null,
    null,
    'less than a minute left',
    'about 3 min left',
    'about 1 h 00 min left',
  ])
})

test('money: two decimals and no thousands separator, the text it had before Intl.NumberFormat', () => {
  expect([1.5, 0.85, 1234.5].map(formatUsd)).toEqual(['$1.50', '$0.85', '$1234.50'])
})

test('a setting’s length in words, singular and plural', () => {
  expect([600_000, 60_000, 90_000, 45_000, 1000, 1500].map(durationInWords)).toEqual([
    '10 minutes',
    '1 minute',
    '1.5 minutes',
    '45 seconds',
    '1 second',
    '1.5 seconds',
  ])
})

test('counts take the word English gives them', () => {
  expect([0, 1, 2].map((n) => countOf(n, 'run', 'runs'))).toEqual(['0 runs', '1 run', '2 runs'])
})

test("dates and clocks are in the reader's zone, UTC by default and said so", () => {
  const date = new Date('2026-11-27T14:05:09.500Z')
  expect(formatDateTime(date)).toBe('2026-11-27 14:05 UTC')
  expect(formatClock(date)).toBe('14:05:09')
  expect(formatDate(date)).toBe('2026-11-27')
  // New York is UTC-5 in November; Tokyo is UTC+9, already the next day at midnight.
  expect(formatDateTime(date, 'America/New_York')).toBe('2026-11-27 09:05')
  expect(formatClock(date, 'America/New_York')).toBe('09:05:09')
  expect(formatDateTime(new Date('2026-11-27T15:00:00Z'), 'Asia/Tokyo')).toBe('2026-11-28 00:00')
  expect(formatDate(new Date('2026-11-27T15:00:00Z'), 'Asia/Tokyo')).toBe('2026-11-28')
  // The tooltip: the exact time in UTC whatever the reader's zone.
  expect(formatUtc(date)).toBe('2026-11-27 14:05 UTC')
  expect(formatUtc(date, { seconds: true })).toBe('2026-11-27 14:05:09 UTC')
})
