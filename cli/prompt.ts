// Asking on the terminal, with the token's answer unseen (nothing echoed, so it is not on screen or in
// a terminal recording).
import readline from 'node:readline'
import { Writable } from 'node:stream'
import { UsageError } from './errors'
import { type Io } from './io'

export async function ask(io: Io, question: string, { hidden }: { hidden: boolean }) {
  if (!io.stdin.isTTY) {
    throw new UsageError(
      'Give --url and --token, or set TRAINYARD_URL and TRAINYARD_TOKEN: there is no terminal to ask on.',
      'login',
    )
  }
  let muted = false
  const output = new Writable({
    write(chunk, _encoding, callback) {
      if (!muted) io.stderr.write(chunk)
      callback()
    },
  })
  const rl = readline.createInterface({ input: io.stdin, output, terminal: true })
  try {
    return await new Promise<string>((resolve, reject) => {
      rl.question(question, (answer) => resolve(answer.trim()))
      muted = hidden
      rl.once('close', () => reject(new UsageError('Nothing was entered.', 'login')))
    })
  } finally {
    if (hidden) io.stderr.write('\n')
    rl.close()
  }
}
