// /trainings/:trainingId — the Images tab: upload (the uploader posts to
// resources+/trainings.$trainingId.images.tsx), the grid with captions that save as they are typed,
// bulk caption actions (set, prefix, clear, find-and-replace with undo), deletion, and the dataset
// check. Caption and delete intents are this route's action.
import { parseWithZod } from '@conform-to/zod'
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { useLoaderData, useRouteLoaderData, type ClientActionFunctionArgs } from '@remix-run/react'
import { useCallback, useMemo, useState } from 'react'
import { z } from 'zod'
import { DatasetCheckPanel } from '~/components/dataset-check-panel'
import { GeneralErrorBoundary, trainingNotFound } from '~/components/error-boundary'
import { ImageUploader } from '~/components/image-uploader'
import { StartRunCard } from '~/components/start-run-card'
import { spotPolicyFor } from '~/runs/runs.server'
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
    z.object({
      intent: z.literal('delete'),
      imageId: ImageIds.pipe(z.array(z.string()).min(1, 'Select the images to delete first.')),
    }),
  ],
  { errorMap: () => ({ message: 'Unknown action' }) },
)

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { training, isOwner } = await requireTraining(request, params.trainingId, 'read')
  const images = await datasetImagesOf(training.id)
  const env = getEnv()
  const spot = spotPolicyFor()
  return json({
    training: { id: training.id, name: training.name, triggerWord: training.triggerWord },
    isOwner,
    images,
    resolutionPx: trainingResolutionPx(training.config),
    maxFileMb: env.UPLOAD_MAX_FILE_MB,
    spot,
    ...(await startEstimatesFor(training.id, spot.offered || spot.always)),
  })
}

export async function action({ request, params }: ActionFunctionArgs) {
  const { training } = await requireTraining(request, params.trainingId, 'update')
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
    case 'delete': {
      const deleted = await deleteTrainingImages(training.id, data.imageId)
      if (!deleted)
        return json(formReply(submission, { formErrors: ['These images no longer exist. Reload the page.'] }), { status: 404 })
      return json({ ok: true as const, message: deleted === 1 ? 'Image deleted.' : `${count(deleted, 'image')} deleted.` })
    }
  }
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
  const { training, isOwner, images, resolutionPx, maxFileMb, spot, estimate, spotEstimate } = useLoaderData<typeof loader>()
  const canEdit = userHasPermission(useUser(), isOwner ? 'update:training:own' : 'update:training:any')
  const activeRun = useRouteLoaderData<typeof layoutLoader>('routes/trainings+/$trainingId+/_layout')?.activeRun ?? null
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
          {activeRun || (canEdit && check.ready) ? (
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
