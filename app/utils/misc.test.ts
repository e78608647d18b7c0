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
  test('characters outside printable ASCII are percent-encoded, so a Location header can carry them', () => {
    expect(safeRedirect('/trainings/café?q=日本 x')).toBe('/trainings/caf%C3%A9?q=%E6%97%A5%E6%9C%AC%20x')
    expect(safeRedirect('/a%20b')).toBe('/a%20b')
    expect(safeRedirect('/\uff0fevil.example')).toBe('/%EF%BC%8Fevil.example')
  })
  test('a lone surrogate cannot be encoded and falls back', () => {
    expect(safeRedirect('/x\ud800', '/fallback')).toBe('/fallback')
  })
  test('null and non-strings fall back', () => {
    expect(safeRedirect(null)).toBe('/')
    expect(safeRedirect(undefined, '/x')).toBe('/x')
  })
})
