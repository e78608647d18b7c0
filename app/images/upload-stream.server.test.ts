import { describe, expect, test } from 'vitest'
import { MAX_FILE_NAME_CHARS, sanitizeFileName } from './upload-stream.server'

describe('sanitizeFileName', () => {
  test('keeps the last path segment, either slash', () => {
    expect(sanitizeFileName('../../etc/passwd.jpg')).toBe('passwd.jpg')
    expect(sanitizeFileName('C:\\Users\\ada\\Pictures\\me.png')).toBe('me.png')
    expect(sanitizeFileName('/abs/path/x.webp')).toBe('x.webp')
  })

  test('removes NUL and other control characters', () => {
    expect(sanitizeFileName('a\u0000b\u0007c\u001b\u007f\u0085.jpg')).toBe('abc.jpg')
  })

  test('never empty, never a dot name', () => {
    for (const raw of ['', '..', '.', '../', '   ', '\u0000', undefined, null]) expect(sanitizeFileName(raw)).toBe('image')
    expect(sanitizeFileName('.hidden.jpg')).toBe('hidden.jpg')
  })

  test('at most 200 characters, the extension kept', () => {
    const name = sanitizeFileName(`${'é'.repeat(300)}.jpeg`)
    expect(Array.from(name)).toHaveLength(MAX_FILE_NAME_CHARS)
    expect(name.endsWith('é.jpeg')).toBe(true)
  })

  test('decomposed (macOS) names come out composed', () => {
    expect(sanitizeFileName('Cafe\u0301.jpg')).toBe('Café.jpg')
  })
})
