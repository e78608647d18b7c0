import { describe, expect, test } from 'vitest'
import { parseCommandLine } from './args'
import { UsageError } from './errors'

function usageError(argv: string[]) {
  try {
    parseCommandLine(argv)
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError)
    return error as UsageError
  }
  throw new Error(`parsed without an error: ${argv.join(' ')}`)
}

describe('parseCommandLine', () => {
  test('each command becomes one typed value, flags and defaults included', () => {
    expect(
      parseCommandLine(['create', './photos', '--name', 'Ada', '--trigger', 'ohwx', '--base-model', 'flux-dev', '--json']),
    ).toEqual({
      command: {
        name: 'create',
        folder: './photos',
        trainingName: 'Ada',
        trigger: 'ohwx',
        baseModel: 'flux-dev',
        preset: undefined,
        batchSize: 10,
      },
      global: { json: true, url: undefined, token: undefined },
    })
    expect(parseCommandLine(['start', 'tr1', '--follow', '--continue-from', 'run_9:500', '--interval', '0.5']).command).toEqual({
      name: 'start',
      trainingId: 'tr1',
      follow: true,
      continueFrom: { runId: 'run_9', step: 500 },
      idempotencyKey: undefined,
      intervalMs: 500,
      timeoutMs: 48 * 3600 * 1000,
    })
    expect(parseCommandLine(['download', 'r1', '--step', '250', '-o', 'out/'])).toMatchObject({
      command: { name: 'download', runId: 'r1', step: 250, output: 'out/', force: false },
    })
    expect(parseCommandLine(['runs']).command).toEqual({ name: 'runs', trainingId: undefined, limit: 20 })
    expect(parseCommandLine(['cancel', 'r1', '--discard']).command).toEqual({ name: 'cancel', runId: 'r1', discard: true })
    expect(parseCommandLine(['login', '--url', 'http://x', '--token', 't']).command).toEqual({
      name: 'login',
      url: 'http://x',
      token: 't',
    })
  })

  test('help: none, --help, help <command>, <command> --help', () => {
    expect(parseCommandLine([]).command).toEqual({ name: 'help', topic: undefined })
    expect(parseCommandLine(['--help']).command).toEqual({ name: 'help', topic: undefined })
    expect(parseCommandLine(['help', 'create']).command).toEqual({ name: 'help', topic: 'create' })
    expect(parseCommandLine(['follow', '-h']).command).toEqual({ name: 'help', topic: 'follow' })
  })

  test('bad arguments are a sentence naming the command, never a guess', () => {
    expect(usageError(['trian']).message).toBe('Unknown command "trian".')
    expect(usageError(['--json']).message).toContain('Give a command first')
    const unknownFlag = usageError(['create', 'x', '--nmae', 'Ada'])
    expect(unknownFlag.message).toContain("'--nmae'")
    expect(unknownFlag.command).toBe('create')
    expect(usageError(['create', 'x', '--trigger', 't', '--base-model', 'b']).message).toBe('--name is required.')
    expect(usageError(['create', '--name', 'n', '--trigger', 't', '--base-model', 'b']).message).toBe(
      'Give the folder of images.',
    )
    expect(usageError(['follow']).message).toBe('Give the run id.')
    expect(usageError(['follow', 'r1', 'r2']).message).toBe('Too many arguments: "r2".')
    expect(usageError(['start', 't1', '--continue-from', 'r1']).message).toContain('RUN:STEP')
    expect(usageError(['download', 'r1', '--step', '-3']).message).toMatch(/--step|argument/)
    expect(usageError(['download', 'r1', '--step', 'ten']).message).toBe(
      '--step must be a whole number from 0 to 10000000 (got "ten").',
    )
    expect(usageError(['follow', 'r1', '--interval', '0']).message).toContain('--interval')
    expect(usageError(['trainings', '--limit', '0']).message).toContain('--limit')
    expect(usageError(['start', 't1', '--idempotency-key', 'a b']).message).toContain('visible ASCII')
  })

  test('an id that would climb out of its URL path is refused before anything is sent', () => {
    for (const bad of ['..', '../me', 'a/b', 'a?b=1', 'a#b', '%2e%2e', '']) {
      expect(usageError(['follow', bad]).message, bad).toContain('is not a run id')
    }
    expect(usageError(['start', 't1', '--continue-from', '../x:5']).message).toContain('is not a run id')
    expect(usageError(['runs', '..']).message).toContain('is not a training id')
  })
})
