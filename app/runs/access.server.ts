// The access checks for a run: through its training (app/trainings/access.server.ts), so someone
// else's run is the same 404 as someone else's training.
import { json } from '@remix-run/node'
import { requireUserId } from '../utils/auth.server'
import { prisma } from '../utils/db.server'
import type { Action } from '../utils/permissions'
import { requireTraining } from '../trainings/access.server'
import { RUN_SELECT } from './view.server'

const notFound = () => json({ error: 'Not found' }, { status: 404 })

/** A run of the training named in the URL; a run of another training (or none) is a 404. */
export async function requireRun(request: Request, trainingId: string | undefined, runId: string | undefined, action: Action) {
  const access = await requireTraining(request, trainingId, action)
  const run = runId
    ? await prisma.trainingRun.findFirst({ where: { id: runId, trainingId: access.training.id }, select: RUN_SELECT })
    : null
  if (!run) throw notFound()
  return { ...access, run }
}

/** A run named only by its id (the download routes, the API): access through its training, checked first. */
export async function requireRunById(request: Request, runId: string | undefined, action: Action) {
  // A caption job has nothing to download and no API of its own: only a training's runs are found here.
  const run = runId ? await prisma.trainingRun.findFirst({ where: { id: runId, kind: 'train' }, select: RUN_SELECT }) : null
  if (!run) {
    // Anonymous visitors log in first, as for every other page; then they learn it does not exist.
    await requireUserId(request)
    throw notFound()
  }
  const access = await requireTraining(request, run.trainingId, action)
  return { ...access, run }
}
