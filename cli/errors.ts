// What can go wrong in the command line, as values with an exit code, and how each is printed. The exit
// codes are part of the command line's interface (scripts branch on them): `trainyard --help` lists them.
import { clean } from './text'

export const EXIT = {
  ok: 0,
  /** The server or the network failed (after the retries), or something unexpected happened. */
  failed: 1,
  /** Bad arguments: nothing was sent. */
  usage: 2,
  /** Not logged in, or the token was refused (401, 403). */
  auth: 3,
  /** Not found (404): a wrong id, or someone else's. */
  notFound: 4,
  /** The API refused the request (400, 402, 409, 413, 422 …), or some files of an upload were refused. */
  refused: 5,
  /** The run followed ended failed. */
  runFailed: 6,
  /** The run followed was canceled. */
  runCanceled: 7,
  /** Stopped following after --timeout; the run goes on. */
  timeout: 8,
} as const
export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

/** Bad arguments, found before anything is sent. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose help to point at, when known. */
    readonly command?: string,
  ) {
    super(message)
  }
}

/** An error answer of the API: `{ error: { code, message, fields? } }` and its HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: Record<string, string[]> = {},
  ) {
    super(message)
  }
}

/** The server could not be reached at all (refused, reset, DNS, timeout). */
export class NetworkError extends Error {
  constructor(
    readonly url: string,
    readonly causeMessage: string,
  ) {
    super(`Could not reach ${url}: ${causeMessage}`)
  }
}

/** A failure with its own sentence and exit code (a run that failed, a file that exists). */
export class CliFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message)
  }
}

export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof UsageError) return EXIT.usage
  if (error instanceof CliFailure) return error.exitCode
  if (error instanceof ApiError) {
    if (error.status === 401 || error.status === 403) return EXIT.auth
    if (error.status === 404) return EXIT.notFound
    if (error.status >= 400 && error.status < 500 && error.status !== 429) return EXIT.refused
    return EXIT.failed
  }
  return EXIT.failed
}

/**
 * The lines to print on stderr for an error. Everything that came from the server is cleaned of control
 * characters first: a message is shown in a terminal, and escape sequences in it could rewrite the screen.
 */
export function formatError(error: unknown): string {
  if (error instanceof UsageError) {
    return `Error: ${error.message}\nRun \`trainyard ${error.command ? `${error.command} ` : ''}--help\` for the usage.`
  }
  if (error instanceof ApiError) {
    const lines = [`Error: ${clean(error.message)} (${clean(error.code)}, HTTP ${error.status})`]
    for (const [field, messages] of Object.entries(error.fields)) {
      for (const message of messages) lines.push(`  ${field ? clean(field) : '(body)'}: ${clean(message)}`)
    }
    if (error.status === 401) lines.push('Log in again with `trainyard login` (or set TRAINYARD_TOKEN).')
    return lines.join('\n')
  }
  if (error instanceof NetworkError || error instanceof CliFailure) return `Error: ${clean(error.message)}`
  if (error instanceof Error) return `Error: ${clean(error.message)}`
  return `Error: ${clean(String(error))}`
}

/** The error as JSON, for --json: the API's own shape, so a script reads one shape whatever failed. */
export function errorJson(error: unknown) {
  if (error instanceof ApiError) {
    return {
      error: {
        code: error.code,
        message: error.message,
        status: error.status,
        ...(Object.keys(error.fields).length ? { fields: error.fields } : {}),
      },
    }
  }
  const code =
    error instanceof UsageError
      ? 'usage'
      : error instanceof NetworkError
        ? 'network'
        : error instanceof CliFailure
          ? 'failed'
          : 'internal'
  return { error: { code, message: error instanceof Error ? error.message : String(error) } }
}
