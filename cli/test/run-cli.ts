// Runs the command line in the test's own process, with its output captured.
import { Readable, Writable } from 'node:stream'
import { main } from '../main'

function sink() {
  let text = ''
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      text += chunk.toString()
      callback()
    },
  })
  return { stream, text: () => text }
}

export async function runCli(
  argv: string[],
  { env = {}, cwd = process.cwd() }: { env?: Record<string, string>; cwd?: string } = {},
) {
  const stdout = sink()
  const stderr = sink()
  const code = await main(argv, {
    env: env as NodeJS.ProcessEnv,
    cwd,
    stdout: stdout.stream,
    stderr: stderr.stream,
    stdin: Readable.from([]),
  })
  return { code, stdout: stdout.text(), stderr: stderr.text() }
}
