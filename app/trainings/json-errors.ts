// Where JSON text goes wrong, and why, in the same words on the server and in every browser.
// JSON.parse cannot tell us: Node 20 gives a character offset, Chromium quotes a snippet with no
// position at all, Firefox gives a line and column. So when JSON.parse fails, this small scanner
// walks the text to the first error. Shared with the browser.

export type JsonErrorLocation = { offset: number; line: number; column: number; message: string }

/** Deeper than any config; also keeps the scanner's recursion far from the stack limit. */
const MAX_DEPTH = 200
const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y
const HEX4 = /[0-9a-fA-F]{4}/y

class JsonSyntaxError {
  constructor(
    readonly offset: number,
    readonly message: string,
  ) {}
}

const show = (ch: string | undefined) => (ch === undefined ? 'the end of the text' : JSON.stringify(ch))

/** The first syntax error in `text`, or null when it is valid JSON. */
export function locateJsonError(text: string): JsonErrorLocation | null {
  let i = 0
  const fail = (message: string, at = i): never => {
    throw new JsonSyntaxError(at, message)
  }
  const skipSpace = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++
  }

  function value(depth: number): void {
    if (depth > MAX_DEPTH) fail('nested too deeply')
    skipSpace()
    const ch = text[i]
    if (ch === '{') return object(depth)
    if (ch === '[') return array(depth)
    if (ch === '"') return string()
    if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) return number()
    for (const literal of ['true', 'false', 'null']) {
      if (text.startsWith(literal, i)) {
        i += literal.length
        return
      }
    }
    if (ch === undefined) fail('unexpected end of the text: a value is missing')
    if (ch === "'") fail('strings need double quotes, not single quotes')
    fail(`expected a value, found ${show(ch)}`)
  }

  function object(depth: number) {
    i++ // {
    skipSpace()
    if (text[i] === '}') {
      i++
      return
    }
    for (;;) {
      skipSpace()
      if (text[i] === '}') fail('a comma before "}" is not allowed')
      if (text[i] !== '"') fail(`expected a property name in double quotes, found ${show(text[i])}`)
      string()
      skipSpace()
      if (text[i] !== ':') fail(`expected ":" after the property name, found ${show(text[i])}`)
      i++
      value(depth + 1)
      skipSpace()
      if (text[i] === ',') i++
      else if (text[i] === '}') {
        i++
        return
      } else fail(`expected "," or "}" after a property value, found ${show(text[i])}`)
    }
  }

  function array(depth: number) {
    i++ // [
    skipSpace()
    if (text[i] === ']') {
      i++
      return
    }
    for (;;) {
      skipSpace()
      if (text[i] === ']') fail('a comma before "]" is not allowed')
      value(depth + 1)
      skipSpace()
      if (text[i] === ',') i++
      else if (text[i] === ']') {
        i++
        return
      } else fail(`expected "," or "]" after a list item, found ${show(text[i])}`)
    }
  }

  function string() {
    const start = i
    i++ // "
    while (i < text.length) {
      const ch = text[i]!
      if (ch === '"') {
        i++
        return
      }
      if (ch === '\\') {
        const next = text[i + 1]
        if (next === 'u') {
          HEX4.lastIndex = i + 2
          if (!HEX4.test(text)) fail('a \\u escape needs four hex digits')
          i += 6
          continue
        }
        if (next === undefined || !'"\\/bfnrt'.includes(next)) fail(`${show(`\\${next ?? ''}`)} is not a valid escape`)
        i += 2
        continue
      }
      if (ch < ' ')
        fail(ch === '\n' || ch === '\r' ? 'a string cannot span lines (write \\n)' : 'a string cannot hold a control character')
      i++
    }
    fail('this string is never closed', start)
  }

  function number() {
    NUMBER.lastIndex = i
    const match = NUMBER.exec(text)
    if (!match) fail(`expected a number, found ${show(text[i + 1])} after "-"`)
    i += match![0].length
  }

  try {
    value(0)
    skipSpace()
    if (i < text.length) fail(`unexpected ${show(text[i])} after the end of the JSON`)
    return null
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error
    const before = text.slice(0, error.offset)
    return {
      offset: error.offset,
      line: before.split('\n').length,
      column: before.length - before.lastIndexOf('\n'),
      message: error.message,
    }
  }
}
