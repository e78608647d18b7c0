// The grid of a training's images with their captions, and the bulk caption and delete actions.
// Every change goes through a fetcher to the Images tab's action, so the page never reloads and a
// caption being typed elsewhere in the grid is not lost.
import { getFormProps, useForm } from '@conform-to/react'
import { parseWithZod } from '@conform-to/zod'
import { useBlocker, useFetcher } from '@remix-run/react'
import { useCallback, useEffect, useId, useMemo, useRef, useState, type ReactNode } from 'react'
import { z } from 'zod'
import { CaptionSchema, planCaptionReplace, type CaptionChange } from '~/trainings/captions'
import { CAPTION_MAX_CHARS, MAX_DATASET_IMAGES, TRIGGER_TOKEN } from '~/trainings/dataset-check'
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
  /** 'model': the caption is the one a caption job wrote, unedited since (shown with an "AI" badge). */
  captionSource?: string | null
}

const pluralRules = new Intl.PluralRules('en-US')
const numbers = new Intl.NumberFormat('en-US')

// The caption forms' schemas, shared by the Images tab's action and these forms, so the browser
// refuses what the server would before anything is sent.

/** A caption as the editor last knew it stored, JSON-encoded so that "" (no caption) is not read as a missing field. */
const PreviousCaptionSchema = z
  .string()
  .max(CAPTION_MAX_CHARS * 2 + 2)
  .optional()
  .transform((v, ctx) => {
    if (v === undefined) return undefined
    try {
      const parsed: unknown = JSON.parse(v)
      if (typeof parsed === 'string') return parsed
    } catch {
      // Reported below.
    }
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'The caption this edit started from is not readable. Reload the page.' })
    return z.NEVER
  })

/**
 * One image's caption; an empty one clears it. `previous` (the stored caption the edit started from)
 * makes the save conditional: a save that arrives after a newer one, or after a change made elsewhere,
 * changes nothing and is answered 409 with the caption as it is now.
 */
export const CaptionFormSchema = z.object({
  intent: z.literal('caption'),
  imageId: z.string().min(1).max(100),
  text: CaptionSchema,
  previous: PreviousCaptionSchema,
})

/** Find-and-replace over every caption of the training: the text to find is literal (see captions.ts). */
export const ReplaceCaptionsSchema = z.object({
  intent: z.literal('replace-captions'),
  find: z
    .string({ required_error: 'Write the text to find.' })
    .max(CAPTION_MAX_CHARS, `The text to find can be at most ${numbers.format(CAPTION_MAX_CHARS)} characters.`),
  replace: z
    .string()
    .max(CAPTION_MAX_CHARS, `The replacement can be at most ${numbers.format(CAPTION_MAX_CHARS)} characters.`)
    .default(''),
  matchCase: z.boolean().default(false),
})

const CaptionChangeSchema = z.object({
  id: z.string().min(1).max(100),
  from: z.string().max(CAPTION_MAX_CHARS),
  to: z.string().max(CAPTION_MAX_CHARS),
})

/** Undo of a find-and-replace: each caption goes back to `from` if it is still `to`. */
export const RestoreCaptionsSchema = z.object({
  intent: z.literal('restore-captions'),
  changes: z
    .string()
    .max(5_000_000)
    .transform((v, ctx) => {
      try {
        return JSON.parse(v) as unknown
      } catch {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'The captions to restore are not readable. Reload the page.' })
        return z.NEVER
      }
    })
    .pipe(z.array(CaptionChangeSchema).min(1).max(MAX_DATASET_IMAGES, 'Too many captions at once')),
})

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
export type ImagesActionResult =
  { ok: true; message: string; text?: string; changes?: CaptionChange[] } | (FormReply & { current?: string })

function failure(data: ImagesActionResult | undefined) {
  return data && 'formErrors' in data ? data : undefined
}

/** "1 image", "3 images", "1,200 images". */
function plural(n: number, one: string, many = `${one}s`) {
  return `${numbers.format(n)} ${pluralRules.select(n) === 'one' ? one : many}`
}

/** Typing saves after this long a pause (and at once on leaving the box or on Ctrl/⌘+Enter). */
export const CAPTION_SAVE_DELAY_MS = 1000

type SaveState = { kind: 'idle' } | { kind: 'saving' } | { kind: 'saved' } | { kind: 'error'; message: string }

/** The caption boxes of the grid in page order: Alt+↓ / Alt+↑ move between them. */
function moveToCaption(from: HTMLTextAreaElement, by: 1 | -1) {
  const all = Array.from(document.querySelectorAll<HTMLTextAreaElement>('textarea[data-caption-editor]'))
  const next = all[all.indexOf(from) + by]
  if (!next) return
  next.focus()
  next.setSelectionRange(next.value.length, next.value.length)
}

/**
 * One image's caption, saved as it is typed: after a pause, on leaving the box, on Ctrl/⌘+Enter.
 * One save per image is on its way at a time (a newer text waits for it and goes next), and each
 * save names the stored caption it started from, so a late answer can never put older text over
 * newer: the server refuses a save whose starting point is no longer what is stored (409).
 */
export function CaptionEditor({
  image,
  canEdit,
  onUnsavedChange,
}: {
  image: GridImage
  canEdit: boolean
  onUnsavedChange?: (imageId: string, unsaved: boolean) => void
}) {
  const fetcher = useFetcher<ImagesActionResult>({ key: `caption-${image.id}` })
  const stored = image.text ?? ''
  const [value, setValue] = useState(stored)
  const [state, setState] = useState<SaveState>({ kind: 'idle' })
  const id = useId()
  // Read by timers and by the answer's effect, which must see the latest text, not a render's copy.
  const valueRef = useRef(value)
  /** The stored caption the text in the box started from (what a save names as `previous`). */
  const baseRef = useRef(stored)
  const queuedRef = useRef(false)
  /** Set at once on submit: fetcher.state says so only after the next render. */
  const inFlightRef = useRef(false)
  const timerRef = useRef<ReturnType<typeof setTimeout>>()
  const fetcherRef = useRef(fetcher)
  fetcherRef.current = fetcher
  const handledRef = useRef<ImagesActionResult | undefined>(fetcher.data)

  const save = useCallback(() => {
    clearTimeout(timerRef.current)
    const text = valueRef.current
    const checked = CaptionFormSchema.safeParse({ intent: 'caption', imageId: image.id, text })
    if (!checked.success) {
      setState({ kind: 'error', message: checked.error.issues[0]?.message ?? 'This caption cannot be saved.' })
      return
    }
    if (inFlightRef.current || fetcherRef.current.state !== 'idle') {
      queuedRef.current = true
      return
    }
    if (checked.data.text === baseRef.current) {
      setState((current) => (current.kind === 'error' ? { kind: 'idle' } : current))
      return
    }
    fetcherRef.current.submit(
      { intent: 'caption', imageId: image.id, text, previous: JSON.stringify(baseRef.current) },
      { method: 'POST' },
    )
    inFlightRef.current = true
    setState({ kind: 'saving' })
  }, [image.id])

  // The answer to a save: the saved text is the new starting point; a text typed meanwhile goes next.
  useEffect(() => {
    const data = fetcher.data
    if (fetcher.state !== 'idle' || !data || data === handledRef.current) return
    handledRef.current = data
    inFlightRef.current = false
    if ('ok' in data) {
      baseRef.current = data.text ?? valueRef.current.trim()
      if (queuedRef.current || valueRef.current.trim() !== baseRef.current) {
        queuedRef.current = false
        setState({ kind: 'idle' })
        save()
      } else setState({ kind: 'saved' })
      return
    }
    queuedRef.current = false
    const message = [...data.formErrors, ...Object.values(data.fieldErrors).flat()].filter(Boolean)[0]
    // Retry saves over what is stored now (the person saw the sentence and chose theirs).
    if (data.current !== undefined) baseRef.current = data.current
    setState({ kind: 'error', message: message ?? 'The caption was not saved.' })
  }, [fetcher.state, fetcher.data, save])

  // The stored caption changed (this editor's own save, a bulk action, another tab): show it, unless
  // text typed here is not saved yet: that is newer, and its save will name the old starting point,
  // so a change made elsewhere is reported as a conflict rather than silently overwritten.
  useEffect(() => {
    const unsaved = valueRef.current.trim() !== baseRef.current
    if (unsaved) return
    baseRef.current = stored
    if (valueRef.current.trim() !== stored) {
      valueRef.current = stored
      setValue(stored)
    }
  }, [stored])

  useEffect(() => () => clearTimeout(timerRef.current), [])

  const dirty = value.trim() !== baseRef.current
  const unsaved = canEdit && (dirty || state.kind === 'saving' || state.kind === 'error')
  useEffect(() => {
    onUnsavedChange?.(image.id, unsaved)
  }, [image.id, unsaved, onUnsavedChange])
  useEffect(() => () => onUnsavedChange?.(image.id, false), [image.id, onUnsavedChange])

  if (!canEdit) {
    return (
      <p className="whitespace-pre-wrap break-words text-sm text-slate-700">
        {stored || <em className="text-slate-400">No caption</em>}
      </p>
    )
  }
  const over = value.length > CAPTION_MAX_CHARS
  const errorId = state.kind === 'error' ? `${id}-error` : undefined
  const status =
    state.kind === 'saving'
      ? 'Saving…'
      : state.kind === 'error'
        ? ''
        : dirty
          ? 'Unsaved changes'
          : state.kind === 'saved'
            ? 'Saved'
            : ''
  return (
    <div className="flex flex-col gap-1">
      <label htmlFor={id} className="text-xs font-medium text-slate-600">
        Caption<span className="sr-only"> for {image.name}</span>
      </label>
      {/* No maxlength: it would cut what is pasted instead of saying how long it is. */}
      <textarea
        id={id}
        name="text"
        rows={3}
        data-caption-editor
        className="input text-sm"
        value={value}
        onChange={(event) => {
          valueRef.current = event.target.value
          setValue(event.target.value)
          if (state.kind === 'saved') setState({ kind: 'idle' })
          clearTimeout(timerRef.current)
          timerRef.current = setTimeout(save, CAPTION_SAVE_DELAY_MS)
        }}
        onBlur={save}
        onKeyDown={(event) => {
          if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
            event.preventDefault()
            save()
          } else if (event.altKey && (event.key === 'ArrowDown' || event.key === 'ArrowUp')) {
            event.preventDefault()
            moveToCaption(event.currentTarget, event.key === 'ArrowDown' ? 1 : -1)
          }
        }}
        placeholder="No caption yet"
        aria-invalid={errorId || over ? true : undefined}
        aria-describedby={errorId}
      />
      <div className="flex min-h-5 flex-wrap items-center justify-between gap-2">
        <span
          className={cn('text-xs', over ? 'font-medium text-red-700' : 'text-slate-600')}
          aria-live="polite"
          data-testid="caption-status"
        >
          {status}
          {over ? `${status ? ' · ' : ''}${numbers.format(value.length)} / ${numbers.format(CAPTION_MAX_CHARS)} characters` : ''}
        </span>
      </div>
      {state.kind === 'error' ? (
        <div id={errorId} role="alert" className="flex flex-col items-start gap-1 text-sm text-red-700">
          <p>Not saved — {state.message}</p>
          <button
            type="button"
            className={buttonVariants({ variant: 'secondary', size: 'sm' })}
            onClick={() => {
              queuedRef.current = false
              save()
            }}
          >
            Retry<span className="sr-only"> saving the caption of {image.name}</span>
          </button>
        </div>
      ) : null}
    </div>
  )
}

/**
 * Warns before leaving with captions not saved yet: the browser's own question for a reload, a
 * closed tab or an address typed, and this page's question for a link inside the app.
 */
export function UnsavedCaptionsGuard({ count }: { count: number }) {
  useEffect(() => {
    if (!count) return
    const warn = (event: BeforeUnloadEvent) => {
      event.preventDefault()
      // Older browsers show the question only when returnValue is set.
      event.returnValue = ''
    }
    window.addEventListener('beforeunload', warn)
    return () => window.removeEventListener('beforeunload', warn)
  }, [count])
  const blocker = useBlocker(
    ({ currentLocation, nextLocation }) => count > 0 && currentLocation.pathname !== nextLocation.pathname,
  )
  // Saved meanwhile (the blur of the link click saves): nothing is lost, so go on.
  useEffect(() => {
    if (blocker.state === 'blocked' && count === 0) blocker.proceed()
  }, [blocker, count])
  if (blocker.state !== 'blocked') return null
  return (
    <div
      role="alertdialog"
      aria-modal="true"
      aria-labelledby="unsaved-captions-title"
      className="fixed inset-x-0 bottom-0 z-50 border-t border-amber-300 bg-amber-50 p-4 shadow-lg sm:inset-x-auto sm:bottom-4 sm:right-4 sm:rounded-lg sm:border"
    >
      <p id="unsaved-captions-title" className="font-semibold text-amber-900">
        {plural(count, 'caption is', 'captions are')} not saved yet.
      </p>
      <p className="text-sm text-amber-900">Leave this page and lose {count === 1 ? 'it' : 'them'}?</p>
      <div className="mt-3 flex flex-wrap gap-2">
        <button
          type="button"
          autoFocus
          className={buttonVariants({ variant: 'primary', size: 'sm' })}
          onClick={() => blocker.reset()}
        >
          Stay on this page
        </button>
        <button type="button" className={buttonVariants({ variant: 'secondary', size: 'sm' })} onClick={() => blocker.proceed()}>
          Leave without saving
        </button>
      </div>
    </div>
  )
}

export function ImageCard({
  image,
  duplicateOf,
  small,
  canEdit,
  selected,
  onSelect,
  onUnsavedChange,
}: {
  image: GridImage
  duplicateOf: string | undefined
  small: boolean
  canEdit: boolean
  selected: boolean
  onSelect: (selected: boolean) => void
  onUnsavedChange?: (imageId: string, unsaved: boolean) => void
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
      {duplicateOf || small || image.captionSource === 'model' ? (
        <div className="flex flex-wrap gap-1">
          {image.captionSource === 'model' ? (
            <span
              className="rounded bg-brand-50 px-1.5 py-0.5 text-xs font-medium text-brand-700 ring-1 ring-brand-100"
              title="Written by the AI captioner; once you edit it, it is yours"
              data-testid="ai-badge"
            >
              AI<span className="sr-only"> caption, written by the model</span>
            </span>
          ) : null}
          {duplicateOf ? (
            <span className="rounded bg-amber-100 px-1.5 py-0.5 text-xs font-medium text-amber-800">
              Duplicate of {duplicateOf}
            </span>
          ) : null}
          {small ? (
            <span
              className="rounded bg-amber-100 px-1.5 py-0.5 text-xs font-medium text-amber-800"
              title="Smaller than the training resolution: trained at its own size, with less fine detail"
            >
              Small: trained at its own size
            </span>
          ) : null}
        </div>
      ) : null}
      <CaptionEditor image={image} canEdit={canEdit} onUnsavedChange={onUnsavedChange} />
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
  children,
}: {
  imageCount: number
  triggerWord: string
  selectedIds: string[]
  onSelectAll: (all: boolean) => void
  onDeleted: () => void
  /** More caption tools, shown after the bulk caption form (find-and-replace). */
  children?: ReactNode
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
        ” when the dataset is sent to the GPU; an image without a caption is trained with the trigger word alone.
      </p>
      <p className="text-sm text-slate-600" id={`${id}-keys`}>
        Captions save as you type (after a pause, and when you leave the box). <kbd>Ctrl</kbd>+<kbd>Enter</kbd> (<kbd>⌘</kbd>+
        <kbd>Enter</kbd> on a Mac) saves at once; <kbd>Alt</kbd>+<kbd>↓</kbd> and <kbd>Alt</kbd>+<kbd>↑</kbd> move to the next or
        previous caption.
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
      {children}

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

/**
 * Find-and-replace over every caption of the training: the text is literal, the preview counts the
 * captions that will change (with the same function the action applies), and the answer offers Undo,
 * which puts back each caption that has not been changed again since.
 */
export function FindReplaceCaptions({ images }: { images: Array<{ id: string; text: string | null }> }) {
  const fetcher = useFetcher<ImagesActionResult>({ key: 'replace-captions' })
  const undo = useFetcher<ImagesActionResult>({ key: 'restore-captions' })
  const id = useId()
  const [find, setFind] = useState('')
  const [replace, setReplace] = useState('')
  const [matchCase, setMatchCase] = useState(false)
  const plan = useMemo(() => planCaptionReplace(images, { find, replace, matchCase }), [images, find, replace, matchCase])
  const [form, fields] = useForm({
    id: `${id}-replace`,
    lastResult: failure(fetcher.data),
    onValidate: ({ formData }) => parseWithZod(formData, { schema: ReplaceCaptionsSchema }),
    shouldRevalidate: 'onInput',
  })
  const busy = fetcher.state !== 'idle'
  const result = fetcher.state === 'idle' && fetcher.data && 'ok' in fetcher.data ? fetcher.data : null
  const undoable = result?.changes?.length ? result.changes : null
  // Undo answers the newest replacement once; a new replacement brings its own Undo.
  const [undoneFor, setUndoneFor] = useState<unknown>(null)
  const undone = undoable !== null && undoneFor === result
  const undoResult = undo.state === 'idle' && undo.data && 'ok' in undo.data ? undo.data.message : null
  const preview = !find
    ? 'Write the text to find.'
    : plan.tooLong
      ? `${plural(plan.tooLong, 'caption')} would be longer than ${numbers.format(CAPTION_MAX_CHARS)} characters.`
      : plan.changes.length
        ? `${plural(plan.changes.length, 'caption')} will change.`
        : 'No caption contains this text.'

  return (
    <fetcher.Form method="POST" className="flex flex-col gap-2 border-t border-slate-200 pt-4" {...getFormProps(form)}>
      <h3 className="text-sm font-semibold">Find and replace in all captions</h3>
      <div className="grid gap-2 sm:grid-cols-2">
        <div className="flex flex-col gap-1">
          <label htmlFor={`${id}-find`} className="label">
            Find
          </label>
          <input
            id={`${id}-find`}
            name="find"
            className="input text-sm"
            value={find}
            onChange={(event) => setFind(event.target.value)}
            aria-invalid={fields.find.errors?.length ? true : undefined}
            aria-describedby={`${id}-preview`}
          />
          <ErrorList errors={fields.find.errors} />
        </div>
        <div className="flex flex-col gap-1">
          <label htmlFor={`${id}-replace-with`} className="label">
            Replace with
          </label>
          <input
            id={`${id}-replace-with`}
            name="replace"
            className="input text-sm"
            value={replace}
            onChange={(event) => setReplace(event.target.value)}
            aria-invalid={fields.replace.errors?.length ? true : undefined}
          />
          <ErrorList errors={fields.replace.errors} />
        </div>
      </div>
      <label className="flex items-center gap-2 text-sm">
        <input
          type="checkbox"
          name="matchCase"
          className="h-4 w-4"
          checked={matchCase}
          onChange={(event) => setMatchCase(event.target.checked)}
        />
        Match case
      </label>
      <p id={`${id}-preview`} className="text-sm text-slate-600" aria-live="polite">
        {preview}
      </p>
      <div className="flex flex-wrap items-center gap-2">
        <StatusButton
          name="intent"
          value="replace-captions"
          variant="secondary"
          status={busy ? 'pending' : 'idle'}
          disabled={busy || !plan.changes.length || plan.tooLong > 0}
        >
          Replace in {plural(plan.changes.length, 'caption')}
        </StatusButton>
      </div>
      <div role="status" className="flex flex-wrap items-center gap-2 text-sm">
        {result ? <span>{result.message}</span> : null}
        {undoable && !undone ? (
          <button
            type="button"
            className={buttonVariants({ variant: 'secondary', size: 'sm' })}
            disabled={undo.state !== 'idle'}
            onClick={() => {
              setUndoneFor(result)
              undo.submit({ intent: 'restore-captions', changes: JSON.stringify(undoable) }, { method: 'POST' })
            }}
          >
            Undo
          </button>
        ) : null}
        {undone && undoResult ? <span>{undoResult}</span> : null}
      </div>
      <ErrorList
        id={form.errorId}
        errors={[...(form.errors ?? []), ...(undo.data && 'formErrors' in undo.data ? undo.data.formErrors : [])]}
      />
    </fetcher.Form>
  )
}
