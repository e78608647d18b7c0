import { describe, expect, test } from 'vitest'
import { locateJsonError } from './json-errors'

const at = (text: string) => {
  const found = locateJsonError(text)
  return found && `${found.line}:${found.column} ${found.message}`
}

describe('locateJsonError', () => {
  test('valid JSON has no error, whatever JSON.parse accepts', () => {
    for (const text of ['{}', ' [1, -2.5e3, "a\\"\\u00e9\\n", true, false, null, {"a": {"b": []}}] ', '0', '"x"']) {
      expect(() => JSON.parse(text)).not.toThrow()
      expect(locateJsonError(text)).toBeNull()
    }
  })

  test.each([
    ['{\n  "a": 1,\n}', '3:1 a comma before "}" is not allowed'],
    ['[1, 2,]', '1:7 a comma before "]" is not allowed'],
    ['{\n  "a": 1,,\n  "b": 2\n}', '2:10 expected a property name in double quotes, found ","'],
    ['{ "a" 1 }', '1:7 expected ":" after the property name, found "1"'],
    ['{ "a": 1 "b": 2 }', '1:10 expected "," or "}" after a property value, found "\\""'],
    ['[1 2]', '1:4 expected "," or "]" after a list item, found "2"'],
    ['{ "job": ', '1:10 unexpected end of the text: a value is missing'],
    ['{ "a": \'x\' }', '1:8 strings need double quotes, not single quotes'],
    ['{ "a": tru }', '1:8 expected a value, found "t"'],
    ['{ "a": "x\ny" }', '1:10 a string cannot span lines (write \\n)'],
    ['{ "a": "x\\q" }', '1:10 "\\\\q" is not a valid escape'],
    ['{ "a": "\\u12" }', '1:9 a \\u escape needs four hex digits'],
    ['{ "a": "never closed }', '1:8 this string is never closed'],
    ['{ "a": - }', '1:8 expected a number, found " " after "-"'],
    ['{} {}', '1:4 unexpected "{" after the end of the JSON'],
    ['', '1:1 unexpected end of the text: a value is missing'],
  ])('%j → %s', (text, expected) => {
    expect(() => JSON.parse(text)).toThrow()
    expect(at(text)).toBe(expected)
  })

  test('line and column count CRLF line breaks as browsers send them', () => {
    expect(at('{\r\n  "a": 1,\r\n}')).toBe('3:1 a comma before "}" is not allowed')
  })

  test('deep nesting is an error, not a stack overflow', () => {
    expect(at('['.repeat(100_000))).toBe('1:202 nested too deeply')
  })
})
