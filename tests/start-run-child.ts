// A second process that presses Start, for tests of what the database enforces across processes (the
// monthly budget: app/runs/budget.server.test.ts). It reads one line per Start from stdin —
// `{"trainingId":…,"startedById":…,"provider":…}` — and answers one line of JSON:
// `{"runId":…,"created":…}` or `{"error":…,"reason":…}`. It says `ready` once its modules are loaded, so
// the test can press Start in both processes at the same moment.
import readline from 'node:readline'
import { startRun, StartRunError } from '~/runs/runs.server'
import type { ProviderName } from '~/gpu/provider-env'

const lines = readline.createInterface({ input: process.stdin })
process.stdout.write('ready\n')
for await (const line of lines) {
  const { trainingId, startedById, provider } = JSON.parse(line) as {
    trainingId: string
    startedById: string
    provider: ProviderName
  }
  const answer = await startRun({ trainingId, startedById }, { provider }).then(
    (result) => result,
    (error: unknown) =>
      error instanceof StartRunError ? { error: error.message, reason: error.reason } : { error: String(error), reason: 'crash' },
  )
  process.stdout.write(`${JSON.stringify(answer)}\n`)
}
