// Following a run: polls GET /runs/{runId} until the run ends or --timeout passes, with a progress bar
// (phase, step/total, loss, time left, cost) on a terminal and a line per change otherwise (CI logs).
import cliProgress from 'cli-progress'
import { type FollowFlags } from './args'
import { type ApiClient } from './client'
import { CliFailure, EXIT } from './errors'
import { onInterrupt } from './interrupt'
import { type Io } from './io'
import { cleanLine, formatDuration, formatUsd } from './text'
import { TERMINAL_STATUSES, type Run } from './types'

/** Without a terminal, a change of step alone is printed at most this often (phase changes at once). */
const LINE_EVERY_MS = 15_000

export function isTerminal(run: Run) {
  return (TERMINAL_STATUSES as readonly string[]).includes(run.status)
}

/** What the run is doing, in a few words: "training · step 40/100 · loss 0.1234 · 1m20s left · $0.020". */
export function describeRun(run: Run) {
  const parts = [cleanLine(run.phase ?? run.status)]
  if (run.totalSteps) parts.push(`step ${run.step ?? 0}/${run.totalSteps}`)
  if (run.loss !== null && run.loss !== undefined) parts.push(`loss ${run.loss.toFixed(4)}`)
  if (run.etaSeconds !== null && run.etaSeconds !== undefined && !isTerminal(run))
    parts.push(`${formatDuration(run.etaSeconds)} left`)
  parts.push(formatUsd(run.costUsd))
  return parts.join(' · ')
}

type Display = { update(run: Run): void; stop(): void }

function barDisplay(io: Io): Display {
  const bar = new cliProgress.SingleBar(
    {
      stream: io.stderr,
      format: '{phase} |{bar}| {value}/{total} steps · loss {loss} · ETA {runEta} · {cost}',
      hideCursor: true,
      barsize: 24,
      // Unknown totals (before the trainer reports) show an empty bar rather than 0/0 at 100 %.
      forceRedraw: true,
    },
    cliProgress.Presets.shades_classic,
  )
  let started = false
  return {
    update(run) {
      const payload = {
        phase: cleanLine(run.phase ?? run.status).padEnd(12),
        loss: run.loss === null ? '–' : run.loss.toFixed(4),
        runEta: formatDuration(run.etaSeconds),
        cost: formatUsd(run.costUsd),
      }
      const total = run.totalSteps ?? 0
      const value = Math.min(run.step ?? 0, total)
      if (!started) {
        bar.start(total, value, payload)
        started = true
      } else {
        bar.setTotal(total)
        bar.update(value, payload)
      }
    },
    stop() {
      if (started) bar.stop()
      started = false
    },
  }
}

function lineDisplay(io: Io, now: () => number): Display {
  let last: { status: string; phase: string | null; step: number | null; at: number } | null = null
  return {
    update(run) {
      const changedState = !last || last.status !== run.status || last.phase !== run.phase
      const changedStep = !last || last.step !== run.step
      if (changedState || (changedStep && now() - last!.at >= LINE_EVERY_MS)) {
        io.stderr.write(`${describeRun(run)}\n`)
        last = { status: run.status, phase: run.phase, step: run.step, at: now() }
      }
    },
    stop() {},
  }
}

/** Polls until the run ends; throws CliFailure(timeout) after `timeoutMs` (the run goes on). */
export async function followRun(client: ApiClient, runId: string, flags: FollowFlags, io: Io): Promise<Run> {
  const now = () => Date.now()
  const display = io.stderr.isTTY ? barDisplay(io) : lineDisplay(io, now)
  const deadline = now() + flags.timeoutMs
  const forget = onInterrupt(() => {
    display.stop()
    io.stderr.write(`\nStopped following run ${runId}; it goes on. Follow it again with \`trainyard follow ${runId}\`.\n`)
  })
  try {
    // Bounded by the deadline: every pass waits intervalMs, and the client's retries are bounded too.
    for (;;) {
      const run = await client.json<Run>('GET', `/runs/${encodeURIComponent(runId)}`)
      display.update(run)
      if (isTerminal(run)) return run
      if (now() + flags.intervalMs > deadline) {
        throw new CliFailure(
          `Stopped following run ${runId} after ${formatDuration(flags.timeoutMs / 1000)}: it is ${cleanLine(run.status)} and goes on. Follow it again with \`trainyard follow ${runId}\`.`,
          EXIT.timeout,
        )
      }
      await new Promise((resolve) => setTimeout(resolve, flags.intervalMs))
    }
  } finally {
    forget()
    display.stop()
  }
}

/** The exit code and the sentence of a run that ended. */
export function outcomeOf(run: Run): { exitCode: number; message: string } {
  const took =
    run.startedAt && run.finishedAt
      ? ` in ${formatDuration((Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000)}`
      : ''
  if (run.status === 'succeeded') {
    return {
      exitCode: EXIT.ok,
      message: `Run ${run.id} succeeded${took}, ${formatUsd(run.costUsd)}. Download the LoRA: trainyard download ${run.id}`,
    }
  }
  const reason = run.error ? `: ${cleanLine(run.error)}` : ''
  const kind = run.errorKind ? ` (${cleanLine(run.errorKind)})` : ''
  if (run.status === 'failed') return { exitCode: EXIT.runFailed, message: `Run ${run.id} failed${took}${reason}${kind}` }
  return { exitCode: EXIT.runCanceled, message: `Run ${run.id} was canceled${reason}${kind}` }
}
