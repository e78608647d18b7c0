// A second process on the test's database, for tests of what the database enforces across processes
// (the monthly budget: app/runs/budget.server.test.ts). It reads one JSON command per line from stdin
// and answers one line of JSON:
// - `{"start":{trainingId,startedById,provider}}`: presses Start → `{"runId","created"}` or `{"error","reason"}`;
// - `{"hold":{ownerId,trainingId,estimatedSeconds,ms}}`: as a Start of another of the owner's trainings
//   would, takes the owner's row in a transaction and inserts an active run with that estimate, answers
//   `{"held":runId}`, keeps the transaction open `ms` milliseconds, commits and answers `{"committed":runId}`.
// It says `ready` once its modules are loaded.
import readline from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { prisma } from '~/utils/db.server'
import { lockOwnerForStart } from '~/runs/budget.server'
import { newRunId, startRun, StartRunError } from '~/runs/runs.server'
import type { ProviderName } from '~/gpu/provider-env'

type Command =
  | { start: { trainingId: string; startedById: string; provider: ProviderName } }
  | { hold: { ownerId: string; trainingId: string; estimatedSeconds: number; ms: number } }

const say = (value: unknown) => process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value)}\n`)

const lines = readline.createInterface({ input: process.stdin })
say('ready')
for await (const line of lines) {
  const command = JSON.parse(line) as Command
  if ('start' in command) {
    const { trainingId, startedById, provider } = command.start
    say(
      await startRun({ trainingId, startedById }, { provider }).then(
        (result) => result,
        (error: unknown) =>
          error instanceof StartRunError
            ? { error: error.message, reason: error.reason }
            : { error: String(error), reason: 'crash' },
      ),
    )
  } else {
    const { ownerId, trainingId, estimatedSeconds, ms } = command.hold
    const id = newRunId()
    await prisma.$transaction(
      async (tx) => {
        await lockOwnerForStart(tx, ownerId)
        await tx.trainingRun.create({
          data: {
            id,
            trainingId,
            status: 'queued',
            activeTrainingId: trainingId,
            activeUserSlot: `${ownerId}:held`,
            estimatedSeconds,
          },
        })
        say({ held: id })
        await sleep(ms)
      },
      { timeout: ms + 10_000 },
    )
    say({ committed: id })
  }
}
