// The run actions a person takes on the pages and a script takes through the API, in one place each:
// continuing from a kept checkpoint (a new run through startRun) and canceling an active run. The run
// page's action and app/api/v1/runs.server.ts both call these after their own access check.
import { trainingResolutionPx } from '../images/pipeline.server'
import { checkDataset } from '../trainings/dataset-check'
import { prisma } from '../utils/db.server'
import { parseBaseModel } from '../trainings/base-models'
import { parseConfigText } from '../trainings/config'
import { CANCELED_BY_USER, endRun, startRun, StartRunError, type StartRunResult } from './runs.server'
import { isActiveRunStatus, runStatusLabel } from './status'

/**
 * "Continue from step N": a new run of the training resumed from `runId`'s kept checkpoint at `fromStep`,
 * with a new total of `steps` (startRun checks the checkpoint is kept, the total, and the limits). It runs
 * on the kind of machine the run it continues ran on, unless `spot` says otherwise (where the operator
 * offers the choice).
 */
export async function continueRun({
  trainingId,
  runId,
  userId,
  fromStep,
  steps,
  spot,
}: {
  trainingId: string
  runId: string
  userId: string
  fromStep: number
  steps: number
  spot?: boolean
}): Promise<StartRunResult> {
  const source = await prisma.trainingRun.findUnique({ where: { id: runId }, select: { spot: true } })
  return startRun({
    trainingId,
    startedById: userId,
    continuedFromId: runId,
    resumeStep: fromStep,
    stepsOverride: steps,
    spot: spot ?? source?.spot ?? false,
  })
}

/**
 * The total of steps a continuation trains to when none is given: the training's config as it is now
 * (a run canceled at step 300 of 1,000 continues to 1,000). Refused when that is not past the checkpoint.
 */
export async function defaultContinuationSteps(trainingId: string, fromStep: number) {
  const training = await prisma.training.findUnique({ where: { id: trainingId }, select: { config: true, baseModel: true } })
  const model = training ? parseBaseModel(training.baseModel) : null
  const config = training && model ? parseConfigText(training.config, model) : null
  const steps = config?.success ? config.config.config.process[0]?.train.steps : undefined
  if (steps === undefined) throw new StartRunError('The training config is not valid: fix it in Settings.', 'config')
  if (steps <= fromStep)
    throw new StartRunError(
      `The training’s config trains ${steps.toLocaleString('en-US')} steps, not past step ${fromStep.toLocaleString('en-US')}: give a new total of steps.`,
      'continue',
    )
  return steps
}

export type CancelResult = { ok: true } | { ok: false; status: string; message: string }

/**
 * Cancels an active run as `userId` (the page reads "Canceled by you." to them, and names them to
 * others). `keep`: keep what it trained (its checkpoints and samples), or delete it. Conditional on the
 * run still being active: if it ended meanwhile, that ending stands and the answer says how it ended.
 * The supervisor sees the canceled run on its next cycle and terminates the machine.
 */
export async function cancelRun(run: { id: string; status: string }, { userId, keep }: { userId: string; keep: boolean }) {
  const alreadyEnded = (status: string): CancelResult => ({
    ok: false,
    status,
    message: `This run has already ended (${runStatusLabel(status).toLowerCase()}): there is nothing to cancel.`,
  })
  if (!isActiveRunStatus(run.status)) return alreadyEnded(run.status)
  if (!(await endRun(run.id, 'canceled', { error: CANCELED_BY_USER, canceledById: userId, keep }))) {
    const now = await prisma.trainingRun.findUnique({ where: { id: run.id }, select: { status: true } })
    return alreadyEnded(now?.status ?? run.status)
  }
  return { ok: true } as CancelResult
}

/** The dataset check the Start button waits for (the Runs tab disables it, the API answers 409 not_ready). */
export async function startDatasetCheck(training: { id: string; config: string }) {
  const images = await prisma.trainingImage.findMany({
    where: { trainingId: training.id },
    select: { id: true, name: true, text: true, width: true, height: true, hash: true },
  })
  const check = checkDataset(images, { resolutionPx: trainingResolutionPx(training.config) })
  return { ready: check.ready, problems: check.items.filter((i) => !i.ok).map((i) => i.title) }
}
