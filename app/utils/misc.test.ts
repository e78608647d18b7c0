import { describe, expect, test } from 'vitest'
import { safeRedirect } from './misc'

describe('safeRedirect', () => {
  test('keeps paths on this site', () => {
    expect(safeRedirect('/settings')).toBe('/settings')
    expect(safeRedirect('/admin/users?page=2')).toBe('/admin/users?page=2')
  })
  test.each([
    '//evil.example',
    'https://evil.example',
    '/\\evil.example',
    'javascript:alert(1)',
    ' //evil.example',
    '/\t/evil.example',
    'evil',
    '',
  ])('refuses %j', (to) => {
    expect(safeRedirect(to, '/fallback')).toBe('/fallback')
  })
  test('null and non-strings fall back', () => {
    expect(safeRedirect(null)).toBe('/')
    expect(safeRedirect(undefined, '/x')).toBe('/x')
  })
})
