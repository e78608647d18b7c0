// The grid of a training's images with their captions, and the bulk caption and delete actions.
// Every change goes through a fetcher to the Images tab's action, so the page never reloads and a
// caption being typed elsewhere in the grid is not lost.
import { getFormProps, useForm } from '@conform-to/react'
import { parseWithZod } from '@conform-to/zod'
import { useFetcher } from '@remix-run/react'
import { useEffect, useId, useState } from 'react'
import { z } from 'zod'
import { CAPTION_MAX_CHARS, TRIGGER_TOKEN } from '~/trainings/dataset-check'
import type { FormReply } from '~/utils/forms'
import { cn } from './ui/cn'
import { ConfirmButton } from './confirm-button'
import { ErrorList } from './forms'
import { buttonVariants } from './ui/button'
import { StatusButton } from './ui/status-button'

export type GridImage = {
  id: string
  name: string
  text: string | null
  width: number | null
  height: number | null
}

const pluralRules = new Intl.PluralRules('en-US')
const numbers = new Intl.NumberFormat('en-US')

// The caption forms' schemas, shared by the Images tab's action and these forms, so the browser
// refuses what the server would before anything is sent.

/** A caption as typed: surrounding space trimmed; a long one refused with its length, not cut. */
const CaptionSchema = z
  .string()
  .default('')
  .transform((v) => v.trim())
  .superRefine((v, ctx) => {
    if (v.length > CAPTION_MAX_CHARS) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `A caption can be at most ${numbers.format(CAPTION_MAX_CHARS)} characters; this one has ${numbers.format(v.length)}.`,
      })
    }
  })

/** One image's caption; an empty one clears it. */
export const CaptionFormSchema = z.object({ intent: z.literal('caption'), imageId: z.string().min(1), text: CaptionSchema })

/** The bulk caption actions: set all (to a caption that is not empty), prefix all, clear all. */
export const BulkCaptionsSchema = z.discriminatedUnion('intent', [
  z.object({
    intent: z.literal('caption-all'),
    // A refinement, not .pipe(z.string().min(1)): Conform would read the trimmed '' as a missing value.
    text: CaptionSchema.refine(Boolean, 'Write the caption to give every image (to remove them all, use “Clear all captions”).'),
  }),
  z.object({ intent: z.literal('prefix-trigger') }),
  z.object({ intent: z.literal('clear-captions') }),
])

/** What the Images tab's action answers: a sentence, or what was refused (Conform's reply with the errors by name). */
export type ImagesActionResult = { ok: true; message: string } | FormReply

function failure(data: ImagesActionResult | undefined) {
  return data && 'formErrors' in data ? data : undefined
}

/** "1 image", "3 images", "1,200 images". */
function plural(n: number, one: string, many = `${one}s`) {
  return `${numbers.format(n)} ${pluralRules.select(n) === 'one' ? one : many}`
}

export function CaptionEditor({ image, canEdit }: { image: GridImage; canEdit: boolean }) {
  const fetcher = useFetcher<ImagesActionResult>({ key: `caption-${image.id}` })
  const saved = image.text ?? ''
  const [value, setValue] = useState(saved)
  const id = useId()
  // A bulk action or another tab changed the stored caption: show it (the editor follows the store).
  useEffect(() => setValue(saved), [saved])
  // No constraint attributes: a maxlength would cut what is pasted instead of saying how long it is.
  const [form, fields] = useForm({
    id: `caption-form-${image.id}`,
    lastResult: failure(fetcher.data),
    onValidate: ({ formData }) => parseWithZod(formData, { schema: CaptionFormSchema }),
    // After the first submit, checked as one types: revalidating on blur would take a fixed error's
    // message away between the press and the release of the submit button, moving the button from
    // under the pointer so the click is lost.
    shouldRevalidate: 'onInput',
  })

  if (!canEdit) {
    return (
      <p className="whitespace-pre-wrap break-words text-sm text-slate-700">
        {saved || <em className="text-slate-400">No caption</em>}
      </p>
    )
  }
  const errors = [...(fields.text.errors ?? []), ...(form.errors ?? [])]
  const saving = fetcher.state !== 'idle'
  const dirty = value !== saved
  const over = value.length > CAPTION_MAX_CHARS
  const errorId = errors.length && !saving ? `${id}-error` : undefined
  return (
    <fetcher.Form method="POST" className="flex flex-col gap-1" {...getFormProps(form)}>
      <input type="hidden" name="imageId" value={image.id} />
      <label htmlFor={id} className="text-xs font-medium text-slate-600">
        Caption<span className="sr-only"> for {image.name}</span>
      </label>
      <textarea
        id={id}
        name="text"
        rows={3}
        className="input text-sm"
        value={value}
        onChange={(event) => setValue(event.target.value)}
        placeholder="No caption yet"
        aria-invalid={errorId || over ? true : undefined}
        aria-describedby={errorId}
      />
      <div className="flex flex-wrap items-center justify-between gap-2">
        <span className={cn('text-xs', over ? 'font-medium text-red-700' : 'text-slate-500')} aria-live="polite">
          {saving ? 'Saving…' : dirty ? 'Not saved yet' : fetcher.data && 'ok' in fetcher.data ? 'Saved' : ''}
          {over ? ` · ${numbers.format(value.length)} / ${numbers.format(CAPTION_MAX_CHARS)} characters` : ''}
        </span>
        <StatusButton
          name="intent"
          value="caption"
          variant="secondary"
          size="sm"
          status={saving ? 'pending' : 'idle'}
          disabled={!dirty}
        >
          Save caption
        </StatusButton>
      </div>
      {errorId ? <ErrorList id={errorId} errors={[...errors, 'The saved caption is unchanged.']} /> : null}
    </fetcher.Form>
  )
}

export function ImageCard({
  image,
  duplicateOf,
  small,
  canEdit,
  selected,
  onSelect,
}: {
  image: GridImage
  duplicateOf: string | undefined
  small: boolean
  canEdit: boolean
  selected: boolean
  onSelect: (selected: boolean) => void
}) {
  const remove = useFetcher<ImagesActionResult>({ key: `delete-${image.id}` })
  const removeError = failure(remove.data)
  return (
    <li
      className={cn('card flex min-w-0 flex-col gap-2 p-2 sm:p-3', selected && 'ring-2 ring-brand-500')}
      data-testid="image-card"
      aria-label={image.name}
    >
      <div className="relative">
        <img
          src={`/resources/images/${image.id}/thumb`}
          alt={image.name}
          loading="lazy"
          className="aspect-square w-full rounded-md bg-slate-100 object-cover"
        />
        {canEdit ? (
          <label className="absolute left-2 top-2 flex items-center gap-1.5 rounded bg-white/90 px-2 py-1 text-xs font-medium shadow-sm">
            <input type="checkbox" className="h-4 w-4" checked={selected} onChange={(event) => onSelect(event.target.checked)} />
            Select<span className="sr-only"> {image.name}</span>
          </label>
        ) : null}
      </div>
      <div className="flex items-baseline justify-between gap-2 text-xs text-slate-500">
        <a
          href={`/resources/images/${image.id}/original`}
          className="min-w-0 truncate font-medium text-slate-700 hover:underline"
          title={`Open the original of ${image.name}`}
        >
          {image.name}
        </a>
        {image.width && image.height ? (
          <span className="shrink-0">
            {image.width} × {image.height}
          </span>
        ) : null}
      </div>
      {duplicateOf || small ? (
        <div className="flex flex-wrap gap-1">
          {duplicateOf ? (
            <span className="rounded bg-amber-100 px-1.5 py-0.5 text-xs font-medium text-amber-800">
              Duplicate of {duplicateOf}
            </span>
          ) : null}
          {small ? (
            <span className="rounded bg-amber-100 px-1.5 py-0.5 text-xs font-medium text-amber-800">Small: will be upscaled</span>
          ) : null}
        </div>
      ) : null}
      <CaptionEditor image={image} canEdit={canEdit} />
      {canEdit ? (
        <remove.Form method="POST" className="flex flex-col">
          <input type="hidden" name="imageId" value={image.id} />
          <ConfirmButton
            label={
              <>
                Delete<span className="sr-only"> {image.name}</span>
              </>
            }
            question={`Delete ${image.name}?`}
            confirmLabel="Delete image"
            value="delete"
            pending={remove.state !== 'idle'}
            className={cn(buttonVariants({ variant: 'secondary', size: 'sm' }), 'self-start')}
          />
          <ErrorList errors={removeError?.formErrors} />
        </remove.Form>
      ) : null}
    </li>
  )
}

/** Set all, prefix all with [trigger], clear all; and delete the selection. */
export function BulkActions({
  imageCount,
  triggerWord,
  selectedIds,
  onSelectAll,
  onDeleted,
}: {
  imageCount: number
  triggerWord: string
  selectedIds: string[]
  onSelectAll: (all: boolean) => void
  onDeleted: () => void
}) {
  const fetcher = useFetcher<ImagesActionResult>({ key: 'bulk-captions' })
  const deleter = useFetcher<ImagesActionResult>({ key: 'bulk-delete' })
  const id = useId()
  const busyIntent = fetcher.state !== 'idle' ? String(fetcher.formData?.get('intent') ?? '') : null
  const [form, fields] = useForm({
    id: `${id}-bulk`,
    lastResult: failure(fetcher.data),
    onValidate: ({ formData }) => parseWithZod(formData, { schema: BulkCaptionsSchema }),
    // After the first submit, checked as one types: revalidating on blur would take a fixed error's
    // message away between the press and the release of the submit button, moving the button from
    // under the pointer so the click is lost.
    shouldRevalidate: 'onInput',
  })
  const deleted = deleter.state === 'idle' && deleter.data && 'ok' in deleter.data
  useEffect(() => {
    if (deleted) onDeleted()
  }, [deleted, onDeleted])
  const allSelected = selectedIds.length === imageCount && imageCount > 0
  const errorId = fields.text.errors?.length ? `${id}-error` : undefined

  return (
    <section aria-labelledby={`${id}-title`} className="card flex flex-col gap-4 p-4">
      <h2 id={`${id}-title`} className="font-semibold">
        Captions
      </h2>
      <p className="text-sm text-slate-600">
        Write <code className="rounded bg-slate-100 px-1">{TRIGGER_TOKEN}</code> where the subject goes: it becomes “{triggerWord}
        ” when the dataset is sent to the GPU.
      </p>
      <fetcher.Form method="POST" className="flex flex-col gap-2" {...getFormProps(form)}>
        <label htmlFor={`${id}-text`} className="label">
          Caption for every image
        </label>
        <textarea
          id={`${id}-text`}
          name="text"
          rows={2}
          className="input text-sm"
          placeholder={`a photo of ${TRIGGER_TOKEN}`}
          aria-invalid={errorId ? true : undefined}
          aria-describedby={errorId}
        />
        <ErrorList id={errorId} errors={fields.text.errors} />
        <div className="flex flex-wrap gap-2">
          <ConfirmButton
            label="Set all captions"
            question={`Replace the captions of all ${plural(imageCount, 'image')}?`}
            confirmLabel="Replace all captions"
            value="caption-all"
            pending={busyIntent === 'caption-all'}
            disabled={!imageCount}
          />
          <StatusButton
            name="intent"
            value="prefix-trigger"
            variant="secondary"
            status={busyIntent === 'prefix-trigger' ? 'pending' : 'idle'}
            disabled={!imageCount || busyIntent !== null}
          >
            Prefix all with {TRIGGER_TOKEN}
          </StatusButton>
          <ConfirmButton
            label="Clear all captions"
            question={`Clear the captions of all ${plural(imageCount, 'image')}?`}
            confirmLabel="Clear all captions"
            value="clear-captions"
            pending={busyIntent === 'clear-captions'}
            disabled={!imageCount}
          />
        </div>
        <p className="text-sm" role="status">
          {fetcher.state === 'idle' && fetcher.data && 'ok' in fetcher.data ? fetcher.data.message : null}
        </p>
        <ErrorList id={form.errorId} errors={form.errors} />
      </fetcher.Form>

      <deleter.Form method="POST" className="flex flex-wrap items-center gap-3 border-t border-slate-200 pt-4">
        <label className="flex items-center gap-2 text-sm">
          <input
            type="checkbox"
            className="h-4 w-4"
            checked={allSelected}
            disabled={!imageCount}
            onChange={(event) => onSelectAll(event.target.checked)}
          />
          Select all
        </label>
        <span className="text-sm text-slate-600">{plural(selectedIds.length, 'image')} selected</span>
        {selectedIds.map((imageId) => (
          <input key={imageId} type="hidden" name="imageId" value={imageId} />
        ))}
        <ConfirmButton
          label={`Delete selected (${selectedIds.length})`}
          question={`Delete ${plural(selectedIds.length, 'image')}? This cannot be undone.`}
          confirmLabel={`Delete ${plural(selectedIds.length, 'image')}`}
          value="delete"
          pending={deleter.state !== 'idle'}
          disabled={!selectedIds.length}
        />
        <ErrorList errors={failure(deleter.data)?.formErrors} />
      </deleter.Form>
    </section>
  )
}
