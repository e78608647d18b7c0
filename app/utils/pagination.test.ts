import { describe, expect, test } from 'vitest'
import { MAX_PAGE, PageNumberSchema } from './pagination'

describe('PageNumberSchema', () => {
  test('plain numbers from 1 to MAX_PAGE are kept', () => {
    expect(PageNumberSchema.parse('1')).toBe(1)
    expect(PageNumberSchema.parse('02')).toBe(2)
    expect(PageNumberSchema.parse(String(MAX_PAGE))).toBe(MAX_PAGE)
  })
  test.each(['1e20', '1e3', '99999999999999999999', String(MAX_PAGE + 1), '0x10', '2.5', '0', '-1', ' 2', '', 'abc'])(
    '%j is page 1',
    (page) => {
      expect(PageNumberSchema.parse(page)).toBe(1)
    },
  )
  test('a missing or non-string value is page 1', () => {
    expect(PageNumberSchema.parse(undefined)).toBe(1)
    expect(PageNumberSchema.parse(null)).toBe(1)
    expect(PageNumberSchema.parse(5)).toBe(1)
  })
})
