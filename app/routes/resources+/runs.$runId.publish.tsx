// GET/POST /resources/runs/:runId/publish — the run page's "Publish to Hugging Face" panel
// (app/components/publish-to-hub.tsx): the loader says what the panel shows (the viewer's Hub token
// state, the suggested repository name, the kept checkpoints, the run's publications, each uploading
// one revalidated by the panel); the action starts a publication (app/hub/publish.server.ts) and
// answers 202 at once while the upload runs in the background. Someone else's run is a 404.
import { parseWithZod } from '@conform-to/zod'
import { json, type ActionFunctionArgs, type LoaderFunctionArgs } from '@remix-run/node'
import type { PublishPanelData } from '~/components/publish-to-hub'
import { listPublications, PublishError, repoUrl, startPublication } from '~/hub/publish.server'
import { defaultRepoName, PublishFormSchema } from '~/hub/publish-schema'
import { requireRunById } from '~/runs/access.server'
import { offeredCheckpoint } from '~/runs/checkpoints.server'
import { prisma } from '~/utils/db.server'
import { formReply } from '~/utils/forms'
import { getUserHuggingFaceToken } from '~/utils/huggingface.server'

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { training, run, userId } = await requireRunById(request, params.runId, 'read')
  const [saved, checkpoints, offered, publications] = await Promise.all([
    getUserHuggingFaceToken(userId),
    prisma.runCheckpoint.findMany({ where: { runId: run.id }, orderBy: { step: 'asc' }, select: { step: true, final: true } }),
    offeredCheckpoint(run),
    listPublications(run.id),
  ])
  const data: PublishPanelData = {
    canPublish: run.status === 'succeeded',
    token: saved.state,
    defaultRepo: defaultRepoName(training.name),
    checkpoints: checkpoints.map((c) => ({ ...c, chosen: offered?.step === c.step })),
    publications: publications.map((p) => ({ ...p, repoUrl: repoUrl(p.repo) })),
  }
  return json(data, { headers: { 'cache-control': 'no-store' } })
}

export async function action({ request, params }: ActionFunctionArgs) {
  const { run, userId } = await requireRunById(request, params.runId, 'update')
  const submission = parseWithZod(await request.formData(), { schema: PublishFormSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  const { repo, visibility, step } = submission.value
  try {
    const { publication } = await startPublication({ runId: run.id, userId, repo, private: visibility === 'private', step })
    return json({ ...submission.reply({ resetForm: true }), publication }, { status: 202 })
  } catch (error) {
    if (!(error instanceof PublishError)) throw error
    const reply = error.field
      ? formReply(submission, { fieldErrors: { [error.field]: [error.message] } })
      : formReply(submission, { formErrors: [error.message] })
    return json(reply, { status: error.status })
  }
}
