// /trainings/:trainingId — the Images tab: upload (the uploader posts to
// resources+/trainings.$trainingId.images.tsx), the grid with captions that save as they are typed,
// bulk caption actions (set, prefix, clear, find-and-replace with undo), deletion, the dataset
// check, and "Caption with AI": a caption job (a run of kind caption) started, followed live, canceled,
// and reviewed here. Caption, delete and caption-job intents are this route's action.
import { parseWithZod } from '@conform-to/zod'
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { useLoaderData, useRouteLoaderData, type ClientActionFunctionArgs } from '@remix-run/react'
import { useCallback, useMemo, useState } from 'react'
import { z } from 'zod'
import { acceptCaptionJob, captionJobView, estimateCaptionJob, startCaptionJob, undoCaptionJob } from '~/captions/jobs.server'
import { CaptionJobCard, CaptionJobIntentSchemas, CaptionStartSchema } from '~/components/caption-job-card'
import { CaptionReview } from '~/components/caption-review'
import { useRevalidateWhile } from '~/components/live-revalidation'
import { DatasetCheckPanel } from '~/components/dataset-check-panel'
import { GeneralErrorBoundary, trainingNotFound } from '~/components/error-boundary'
import { ImageUploader } from '~/components/image-uploader'
import { StartRunCard } from '~/components/start-run-card'
import { spotPolicyFor, StartRunError } from '~/runs/runs.server'
import { cancelRun } from '~/runs/start.server'
import { isActiveRunStatus, runStatusLabel } from '~/runs/status'
import { startEstimatesFor } from '~/runs/estimate.server'
import {
  BulkActions,
  BulkCaptionsSchema,
  CaptionFormSchema,
  FindReplaceCaptions,
  ImageCard,
  ReplaceCaptionsSchema,
  RestoreCaptionsSchema,
  UnsavedCaptionsGuard,
} from '~/components/training-images'
import { planCaptionReplace } from '~/trainings/captions'
import { CAPTION_MAX_CHARS, checkDataset, isSmallImage, TRIGGER_TOKEN } from '~/trainings/dataset-check'
import { prisma } from '~/utils/db.server'
import { formReply } from '~/utils/forms'
import { getEnv } from '~/utils/env.server'
import { captionIs, datasetImagesOf, PERSON_CAPTION, saveCaption } from '~/images/images.server'
import { deleteTrainingImages, trainingResolutionPx } from '~/images/pipeline.server'
import { userHasPermission } from '~/utils/permissions'
import { requireTraining } from '~/trainings/access.server'
import { useUser } from '~/utils/user'
import type { loader as layoutLoader } from './_layout'

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: `Images · ${data?.training.name ?? 'Training'} · Trainyard` },
]

const numbers = new Intl.NumberFormat('en-US')
const pluralRules = new Intl.PluralRules('en-US')
/** "1 image", "3 images", "1,200 captions". */
const count = (n: number, one: string, many = `${one}s`) => `${numbers.format(n)} ${pluralRules.select(n) === 'one' ? one : many}`

const ImageIds = z.preprocess(
  (v) => (v === undefined ? [] : [v].flat()),
  z.array(z.string().min(1).max(100)).max(1000, 'Too many images at once'),
)

// The caption intents' schemas are the forms' own (training-images.tsx), so the browser checks the same.
const ActionSchema = z.discriminatedUnion(
  'intent',
  [
    CaptionFormSchema,
    ...BulkCaptionsSchema.options,
    ReplaceCaptionsSchema,
    RestoreCaptionsSchema,
    CaptionStartSchema,
    ...CaptionJobIntentSchemas,
    z.object({
      intent: z.literal('delete'),
      imageId: ImageIds.pipe(z.array(z.string()).min(1, 'Select the images to delete first.')),
    }),
  ],
  { errorMap: () => ({ message: 'Unknown action' }) },
)

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { training, isOwner, userId } = await requireTraining(request, params.trainingId, 'read')
  const [rows, modelWritten, captionJob] = await Promise.all([
    datasetImagesOf(training.id),
    // Which captions a caption job wrote and nobody has edited since: the grid marks them "AI".
    prisma.trainingImage.findMany({ where: { trainingId: training.id, captionSource: 'model' }, select: { id: true } }),
    captionJobView(training.id),
  ])
  const fromModel = new Set(modelWritten.map((i) => i.id))
  const images = rows.map((i) => ({ ...i, captionSource: fromModel.has(i.id) ? ('model' as const) : null }))
  const uncaptionedCount = images.filter((i) => !i.text?.trim()).length
  // Both scopes' estimates, so the form switches between them without asking the server again.
  const [uncaptionedEstimate, allEstimate] = await Promise.all(
    [uncaptionedCount, images.length].map((imageCount) => (imageCount ? estimateCaptionJob({ imageCount, userId }) : null)),
  )
  const env = getEnv()
  const spot = spotPolicyFor()
  return json({
    training: { id: training.id, name: training.name, triggerWord: training.triggerWord },
    isOwner,
    images,
    uncaptionedCount,
    // While the job runs the page asks again every two seconds, and the grid already shows each caption
    // as it is written: the before/after list (up to 200 pairs) is sent once the job has ended.
    captionJob: captionJob && isActiveRunStatus(captionJob.status) ? { ...captionJob, changes: [] } : captionJob,
    captionEstimates: { uncaptioned: uncaptionedEstimate ?? null, all: allEstimate ?? null },
    resolutionPx: trainingResolutionPx(training.config),
    maxFileMb: env.UPLOAD_MAX_FILE_MB,
    spot,
    ...(await startEstimatesFor(training.id, spot.offered || spot.always)),
  })
}

export async function action({ request, params }: ActionFunctionArgs) {
  const { training, userId } = await requireTraining(request, params.trainingId, 'update')
  const formData = await request.formData()
  const submission = parseWithZod(formData, { schema: ActionSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  const data = submission.value
  const where = { trainingId: training.id }
  const touch = prisma.training.update({ where: { id: training.id }, data: { updatedAt: new Date() } })

  switch (data.intent) {
    case 'caption': {
      const saved = await saveCaption(training.id, data.imageId, data.text, data.previous)
      if (saved.kind === 'saved') return json({ ok: true as const, message: 'Caption saved.', text: data.text })
      if (saved.kind === 'missing')
        return json(formReply(submission, { formErrors: ['This image no longer exists. Reload the page.'] }), { status: 404 })
      const message =
        'This caption was changed elsewhere (another tab or a bulk action) since you started typing, so yours was not saved. Retry to save yours over it.'
      return json({ ...formReply(submission, { formErrors: [message] }), current: saved.current }, { status: 409 })
    }
    case 'replace-captions': {
      const images = await prisma.trainingImage.findMany({ where, select: { id: true, text: true } })
      const { changes, tooLong } = planCaptionReplace(images, data)
      if (tooLong) {
        const message = `${count(tooLong, 'caption')} would be longer than ${numbers.format(CAPTION_MAX_CHARS)} characters after the replacement: shorten ${tooLong === 1 ? 'it' : 'them'} first. Nothing was changed.`
        return json(formReply(submission, { formErrors: [message] }), { status: 400 })
      }
      if (!changes.length) return json({ ok: true as const, message: `No caption contains “${data.find}”.`, changes })
      // Each row only if it still holds what was read: a caption saved meanwhile is left as it is.
      const results = await prisma.$transaction([
        ...changes.map((c) =>
          prisma.trainingImage.updateMany({
            where: { ...where, id: c.id, ...captionIs(c.from) },
            data: { text: c.to || null, ...PERSON_CAPTION },
          }),
        ),
        touch,
      ])
      const applied = changes.filter((_, i) => (results[i] as { count: number }).count > 0)
      return json({ ok: true as const, message: `Replaced in ${count(applied.length, 'caption')}.`, changes: applied })
    }
    case 'restore-captions': {
      const results = await prisma.$transaction([
        ...data.changes.map((c) =>
          prisma.trainingImage.updateMany({
            where: { ...where, id: c.id, ...captionIs(c.to) },
            data: { text: c.from || null, ...PERSON_CAPTION },
          }),
        ),
        touch,
      ])
      const restored = data.changes.filter((_, i) => (results[i] as { count: number }).count > 0).length
      const skipped = data.changes.length - restored
      return json({
        ok: true as const,
        message:
          `Restored ${count(restored, 'caption')}.` +
          (skipped
            ? ` ${count(skipped, 'caption')} changed since and ${skipped === 1 ? 'was' : 'were'} left as ${skipped === 1 ? 'it is' : 'they are'}.`
            : ''),
      })
    }
    case 'caption-all': {
      const [{ count: updated }] = await prisma.$transaction([
        prisma.trainingImage.updateMany({ where, data: { text: data.text, ...PERSON_CAPTION } }),
        touch,
      ])
      return json({ ok: true as const, message: `Caption set on ${count(updated, 'image')}.` })
    }
    case 'clear-captions': {
      const [{ count: cleared }] = await prisma.$transaction([
        prisma.trainingImage.updateMany({ where, data: { text: null, ...PERSON_CAPTION } }),
        touch,
      ])
      return json({ ok: true as const, message: `Captions cleared on ${count(cleared, 'image')}.` })
    }
    case 'prefix-trigger': {
      const images = await prisma.trainingImage.findMany({ where, select: { id: true, text: true } })
      // Idempotent: a caption that already starts with the token is left as it is.
      const changes = images
        .filter((i) => !(i.text ?? '').trimStart().startsWith(TRIGGER_TOKEN))
        .map((i) => ({ id: i.id, text: i.text?.trim() ? `${TRIGGER_TOKEN} ${i.text.trim()}` : TRIGGER_TOKEN }))
      const tooLong = changes.filter((c) => c.text.length > CAPTION_MAX_CHARS).length
      if (tooLong) {
        const message = `${count(tooLong, 'caption')} would be longer than ${numbers.format(CAPTION_MAX_CHARS)} characters with the prefix: shorten ${tooLong === 1 ? 'it' : 'them'} first. Nothing was changed.`
        return json(formReply(submission, { formErrors: [message] }), { status: 400 })
      }
      await prisma.$transaction([
        ...changes.map((c) => prisma.trainingImage.update({ where: { id: c.id }, data: { text: c.text, ...PERSON_CAPTION } })),
        touch,
      ])
      return json({
        ok: true as const,
        message: changes.length
          ? `${TRIGGER_TOKEN} added to ${count(changes.length, 'caption')}.`
          : `Every caption already starts with ${TRIGGER_TOKEN}.`,
      })
    }
    case 'caption-start': {
      const { intent: _, ...options } = data
      try {
        await startCaptionJob({ trainingId: training.id, userId, options })
      } catch (error) {
        // A sentence for people (nothing to caption, a run going, a limit or the budget reached):
        // shown above the button, the options kept.
        if (error instanceof StartRunError) return json(formReply(submission, { formErrors: [error.message] }), { status: 400 })
        throw error
      }
      return json({ ok: true as const, message: 'Caption job queued: a GPU machine is being started for it.' })
    }
    case 'caption-cancel':
    case 'caption-accept':
    case 'caption-undo':
      return handleCaptionJob(submission, { trainingId: training.id, userId, intent: data.intent, runId: data.runId })
    case 'delete': {
      const deleted = await deleteTrainingImages(training.id, data.imageId)
      if (!deleted)
        return json(formReply(submission, { formErrors: ['These images no longer exist. Reload the page.'] }), { status: 404 })
      return json({ ok: true as const, message: deleted === 1 ? 'Image deleted.' : `${count(deleted, 'image')} deleted.` })
    }
  }
}

type Submission = Parameters<typeof formReply>[0]

/**
 * Cancel, accept or undo one caption job of this training. The run is looked up within the training and
 * kind, so a run id of another training (or a training run) is "no longer exists", never acted on.
 * Cancel is the run page's cancel, keeping what was written; accept and undo wait for the job to end.
 */
async function handleCaptionJob(
  submission: Submission,
  {
    trainingId,
    userId,
    intent,
    runId,
  }: { trainingId: string; userId: string; intent: 'caption-cancel' | 'caption-accept' | 'caption-undo'; runId: string },
) {
  const run = await prisma.trainingRun.findFirst({
    where: { id: runId, trainingId, kind: 'caption' },
    select: { id: true, status: true },
  })
  if (!run)
    return json(formReply(submission, { formErrors: ['This caption job no longer exists. Reload the page.'] }), { status: 404 })
  if (intent === 'caption-cancel') {
    const canceled = await cancelRun(run, { userId, keep: true })
    if (!canceled.ok) {
      const message = `This caption job has already ended (${runStatusLabel(canceled.status).toLowerCase()}): there is nothing to cancel.`
      return json(formReply(submission, { formErrors: [message] }), { status: 409 })
    }
    return json({
      ok: true as const,
      message: 'Canceled — the machine is being shut down. The captions written so far are kept.',
    })
  }
  if (isActiveRunStatus(run.status)) {
    const message = 'The caption job is still running: wait for it to end (or cancel it) before you accept or undo its captions.'
    return json(formReply(submission, { formErrors: [message] }), { status: 409 })
  }
  if (intent === 'caption-accept') {
    await acceptCaptionJob({ runId: run.id, userId })
    return json({ ok: true as const, message: 'Accepted: the captions stay as the model wrote them until you edit them.' })
  }
  const { undone, leftAlone } = await undoCaptionJob({ runId: run.id, userId })
  return json({
    ok: true as const,
    message:
      `Put back ${count(undone, 'caption')} as ${undone === 1 ? 'it was' : 'they were'} before the job.` +
      (leftAlone
        ? ` ${count(leftAlone, 'caption')} edited since ${leftAlone === 1 ? 'was' : 'were'} left as ${leftAlone === 1 ? 'it is' : 'they are'}.`
        : ''),
  })
}

/**
 * The browser's side of the action: a request that never reached the server (offline, a dropped
 * connection) is answered like a refused form, so the caption box says "Not saved" and offers Retry
 * with the text still in it, instead of the page turning into an error page and losing it.
 */
export async function clientAction({ serverAction }: ClientActionFunctionArgs) {
  try {
    return await serverAction<typeof action>()
  } catch (error) {
    // fetch() rejects with a TypeError only when there was no answer; answers (403, 404) go on.
    if (!(error instanceof TypeError)) throw error
    const message = 'The server could not be reached: check the connection and retry.'
    return { status: 'error' as const, formErrors: [message], fieldErrors: {}, values: {}, error: { '': [message] } }
  }
}

export default function TrainingImages() {
  const {
    training,
    isOwner,
    images,
    resolutionPx,
    maxFileMb,
    spot,
    estimate,
    spotEstimate,
    uncaptionedCount,
    captionJob,
    captionEstimates,
  } = useLoaderData<typeof loader>()
  const canEdit = userHasPermission(useUser(), isOwner ? 'update:training:own' : 'update:training:any')
  const layoutRun = useRouteLoaderData<typeof layoutLoader>('routes/trainings+/$trainingId+/_layout')?.activeRun ?? null
  const captioning = captionJob !== null && isActiveRunStatus(captionJob.status)
  // The caption job is a run too, but its card shows it: Start shows only a training run.
  const activeRun = layoutRun && layoutRun.id !== captionJob?.runId ? layoutRun : null
  // The grid's captions fill in as the job writes them.
  useRevalidateWhile(captioning)
  const check = useMemo(() => checkDataset(images, { resolutionPx }), [images, resolutionPx])
  const [selection, setSelection] = useState<ReadonlySet<string>>(new Set())
  // Only images still there: one deleted by its own button leaves the selection.
  const selectedIds = images.filter((i) => selection.has(i.id)).map((i) => i.id)
  const clearSelection = useCallback(() => setSelection(new Set()), [])
  const [unsaved, setUnsaved] = useState<ReadonlySet<string>>(new Set())
  const onUnsavedChange = useCallback(
    (imageId: string, isUnsaved: boolean) =>
      setUnsaved((current) => {
        if (current.has(imageId) === isUnsaved) return current
        const next = new Set(current)
        if (isUnsaved) next.add(imageId)
        else next.delete(imageId)
        return next
      }),
    [],
  )
  const unsavedCount = images.filter((i) => unsaved.has(i.id)).length

  return (
    <div className="flex flex-col gap-6">
      {/* On a phone (one column) the check and Start come first, before the upload and caption
          tools; from lg up they sit in the right-hand column. Order only: the markup is not repeated. */}
      <div className="grid gap-6 lg:grid-cols-[1fr_20rem]">
        <div className="flex min-w-0 flex-col gap-6">
          {/* The job's captions wait for a decision: first in the page's main column. */}
          {canEdit && captionJob && !captioning && captionJob.counts.written > 0 ? <CaptionReview job={captionJob} /> : null}
          {canEdit ? <ImageUploader trainingId={training.id} maxFileMb={maxFileMb} isEmpty={images.length === 0} /> : null}
          {canEdit && images.length ? (
            <BulkActions
              imageCount={images.length}
              triggerWord={training.triggerWord}
              selectedIds={selectedIds}
              onSelectAll={(all) => setSelection(new Set(all ? images.map((i) => i.id) : []))}
              onDeleted={clearSelection}
            >
              <FindReplaceCaptions images={images} />
            </BulkActions>
          ) : null}
        </div>
        <div className="order-first flex flex-col gap-4 lg:order-none" data-testid="dataset-side">
          <DatasetCheckPanel check={check} />
          {canEdit || captioning ? (
            <CaptionJobCard
              job={captionJob}
              imageCount={images.length}
              uncaptionedCount={uncaptionedCount}
              estimates={captionEstimates}
              otherRunActive={activeRun !== null}
              canEdit={canEdit}
            />
          ) : null}
          {activeRun || (canEdit && check.ready && !captioning) ? (
            <StartRunCard
              trainingId={training.id}
              activeRun={activeRun}
              spot={spot}
              estimate={estimate}
              spotEstimate={spotEstimate}
            />
          ) : null}
        </div>
      </div>
      <UnsavedCaptionsGuard count={unsavedCount} />

      {images.length ? (
        <a
          href={`/resources/trainings/${training.id}/dataset.zip`}
          download
          className="self-start text-sm font-medium text-brand-600 underline-offset-2 hover:underline"
        >
          Download dataset (.zip)
        </a>
      ) : null}
      {images.length ? (
        <ul aria-label="Images" className="grid grid-cols-2 gap-3 sm:gap-4 md:grid-cols-3 xl:grid-cols-4">
          {images.map((image) => (
            <ImageCard
              key={image.id}
              image={image}
              duplicateOf={check.duplicateOf[image.id]}
              small={isSmallImage(image, resolutionPx)}
              canEdit={canEdit}
              selected={selection.has(image.id)}
              onSelect={(selected) =>
                setSelection((current) => {
                  const next = new Set(current)
                  if (selected) next.add(image.id)
                  else next.delete(image.id)
                  return next
                })
              }
              onUnsavedChange={onUnsavedChange}
            />
          ))}
        </ul>
      ) : !canEdit ? (
        <p className="text-sm text-slate-600">No images yet.</p>
      ) : null}
    </div>
  )
}

export function ErrorBoundary() {
  return (
    <GeneralErrorBoundary
      statusHandlers={{
        404: trainingNotFound,
        403: () => <p>Your account may not change the images of this training; ask an admin.</p>,
      }}
    />
  )
}
