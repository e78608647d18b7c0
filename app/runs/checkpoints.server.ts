// Placeholder with the signature the run page calls; the checkpoint helper's module replaces this file.
import { prisma } from '../utils/db.server'

/** Marks the run's kept checkpoint at `step` as its LoRA; false when the run kept none there. */
export async function chooseCheckpoint(runId: string, step: number): Promise<boolean> {
  const checkpoint = await prisma.runCheckpoint.findUnique({ where: { runId_step: { runId, step } }, select: { final: true } })
  if (!checkpoint) return false
  await prisma.trainingRun.update({ where: { id: runId }, data: { chosenStep: checkpoint.final ? null : step } })
  return true
}
