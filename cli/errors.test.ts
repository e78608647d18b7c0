import { describe, expect, test } from 'vitest'
import { apiErrorFromText } from './client'
import { ApiError, CliFailure, errorJson, EXIT, exitCodeOf, formatError, NetworkError, UsageError } from './errors'
import { clean, table } from './text'

describe('error printing', () => {
  test("the API's error: its message, code and status, and each field's messages", () => {
    const error = apiErrorFromText(
      422,
      'Unprocessable Entity',
      JSON.stringify({
        error: {
          code: 'validation_failed',
          message: 'The request was refused: see fields.',
          fields: { baseModel: ['Choose a base model'], '': ['Bad body'] },
        },
      }),
    )
    expect(formatError(error)).toBe(
      'Error: The request was refused: see fields. (validation_failed, HTTP 422)\n  baseModel: Choose a base model\n  (body): Bad body',
    )
    expect(exitCodeOf(error)).toBe(EXIT.refused)
    expect(errorJson(error)).toEqual({
      error: {
        code: 'validation_failed',
        message: 'The request was refused: see fields.',
        status: 422,
        fields: { baseModel: ['Choose a base model'], '': ['Bad body'] },
      },
    })
  })

  test('a 401 says how to log in again; each status has its exit code', () => {
    const unauthorized = new ApiError(401, 'unauthorized', 'This token is revoked.')
    expect(formatError(unauthorized)).toContain('trainyard login')
    expect(exitCodeOf(unauthorized)).toBe(EXIT.auth)
    expect(exitCodeOf(new ApiError(403, 'insufficient_scope', 'x'))).toBe(EXIT.auth)
    expect(exitCodeOf(new ApiError(404, 'not_found', 'x'))).toBe(EXIT.notFound)
    expect(exitCodeOf(new ApiError(409, 'active_run', 'x'))).toBe(EXIT.refused)
    expect(exitCodeOf(new ApiError(402, 'budget_exceeded', 'x'))).toBe(EXIT.refused)
    expect(exitCodeOf(new ApiError(429, 'rate_limited', 'x'))).toBe(EXIT.failed)
    expect(exitCodeOf(new ApiError(500, 'internal', 'x'))).toBe(EXIT.failed)
    expect(exitCodeOf(new UsageError('x'))).toBe(EXIT.usage)
    expect(exitCodeOf(new NetworkError('http://127.0.0.1:9', 'ECONNREFUSED'))).toBe(EXIT.failed)
    expect(exitCodeOf(new CliFailure('x', EXIT.runFailed))).toBe(EXIT.runFailed)
  })

  test('an answer that is not the API (a proxy page, the wrong server) is a sentence, not a parse error', () => {
    const error = apiErrorFromText(502, 'Bad Gateway', '<html><body>nginx</body></html>')
    expect(error.code).toBe('http_502')
    expect(formatError(error)).toBe(
      'Error: The server answered HTTP 502 Bad Gateway without an API error — the server may be restarting; try again in a moment (http_502, HTTP 502)',
    )
    expect(apiErrorFromText(404, 'Not Found', 'Cannot GET').message).toContain('is the URL the Trainyard server?')
  })

  test("escape sequences in the server's words never reach the terminal", () => {
    const hostile = new ApiError(409, 'conflict\u001b]0;pwned\u0007', 'Training \u001b[2J\u001b[Hcleared\u009b31m')
    const printed = formatError(hostile)
    for (const control of ['\u001b', '\u0007', '\u009b']) expect(printed).not.toContain(control)
    expect(printed).toContain('Training \uFFFD[2J\uFFFD[Hcleared\uFFFD31m')
    expect(clean('tab\tand\nnewline stay')).toBe('tab\tand\nnewline stay')
    expect(table(['A', 'B'], [['x\u001b[1m', 'two\nlines']])).toBe('A      B\nx\uFFFD[1m  two lines')
  })

  test('usage errors point at the help of their command', () => {
    expect(formatError(new UsageError('Give the run id.', 'follow'))).toBe(
      'Error: Give the run id.\nRun `trainyard follow --help` for the usage.',
    )
    expect(errorJson(new UsageError('Give the run id.'))).toEqual({ error: { code: 'usage', message: 'Give the run id.' } })
  })
})
