// Drag and drop or pick images, or .zip archives of them; each file goes up in its own XMLHttpRequest
// (fetch cannot report upload progress) to /resources/trainings/:id/images, a few at a time, and
// shows its progress and then the server's verdict: added (with any warning), or refused with the
// reason. An archive's row becomes one row per entry ("archive.zip › photo.jpg") when it is done.
import { useRevalidator } from '@remix-run/react'
import { useCallback, useEffect, useId, useRef, useState } from 'react'
import { Button, buttonVariants } from './ui/button'
import { cn } from './ui/cn'

/** Parallel uploads: enough to fill the pipe, few enough that each file's progress means something. */
const PARALLEL_UPLOADS = 3
const BYTES_PER_MB = 1024 * 1024

type ServerResult =
  { name: string; ok: true; warnings: string[]; image?: { caption?: string | null } } | { name: string; ok: false; error: string }

const isArchive = (file: File) => /\.zip$/i.test(file.name)

type Item = {
  key: string
  name: string
  file: File
  /** 0–1 of the bytes sent */
  progress: number
  state: 'queued' | 'uploading' | 'processing' | 'added' | 'refused'
  message?: string
  /** the caption that came with it (a .txt beside it in an archive) */
  caption?: string
}

/** The rows of a finished upload: one per result the server sent (an archive sends one per entry). */
function finishedItems(item: Item, status: number, body: unknown): Item[] {
  const results = (body as { results?: ServerResult[] } | null)?.results ?? []
  const error = (body as { error?: unknown } | null)?.error
  const rows = results.map((result, n): Item => ({
    ...item,
    key: n === 0 ? item.key : `${item.key}.${n}`,
    // A single image keeps the name it was picked with; an archive's rows are its entries.
    name: isArchive(item.file) ? result.name : item.name,
    progress: 1,
    ...(result.ok
      ? { state: 'added', message: result.warnings.join(' ') || undefined, caption: result.image?.caption ?? undefined }
      : { state: 'refused', message: result.error }),
  }))
  // No result for the file itself (the request failed), or a whole-upload error beside an archive's
  // entries (the body was cut off): said on the file's own row.
  if (!rows.some((r) => r.name === item.name) && (!rows.length || typeof error === 'string'))
    rows.push({
      ...item,
      key: rows.length ? `${item.key}.${rows.length}` : item.key,
      state: 'refused',
      message: describeFailure(status, body),
    })
  return rows
}

function describeFailure(status: number, body: unknown) {
  const error = (body as { error?: unknown } | null)?.error
  if (typeof error === 'string' && error) return error
  if (status === 404) return 'This training no longer exists, or you may not see it.'
  if (status === 403) return 'You may not add images to this training.'
  if (status === 413) return 'The upload is too large.'
  return `The upload failed (HTTP ${status}). Try again.`
}

function send(url: string, item: Item, onProgress: (fraction: number) => void, signal: AbortSignal) {
  return new Promise<{ status: number; body: unknown }>((resolve) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', url)
    xhr.responseType = 'json'
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total)
    }
    xhr.upload.onload = () => onProgress(1)
    xhr.onload = () => resolve({ status: xhr.status, body: xhr.response as unknown })
    xhr.onerror = () => resolve({ status: 0, body: { error: 'The upload failed: the network connection was lost. Try again.' } })
    signal.addEventListener('abort', () => xhr.abort())
    const form = new FormData()
    form.append('files', item.file, item.file.name)
    xhr.send(form)
  })
}

export function ImageUploader({ trainingId, maxFileMb, isEmpty }: { trainingId: string; maxFileMb: number; isEmpty: boolean }) {
  const inputId = useId()
  const [items, setItems] = useState<Item[]>([])
  const [dragging, setDragging] = useState(false)
  const revalidator = useRevalidator()
  const abort = useRef(new AbortController())
  const running = useRef(0)
  const counter = useRef(0)

  useEffect(() => {
    // A fresh controller per mount: React's development double mount must not abort for good.
    const controller = new AbortController()
    abort.current = controller
    return () => controller.abort()
  }, [])

  const update = useCallback((key: string, patch: Partial<Item>) => {
    setItems((all) => all.map((i) => (i.key === key ? { ...i, ...patch } : i)))
  }, [])

  // Keeps the latest revalidate for the callbacks of uploads started several renders ago.
  const revalidate = useRef(revalidator.revalidate)
  revalidate.current = revalidator.revalidate
  const queue = useRef<Item[]>([])

  // Starts queued files while fewer than PARALLEL_UPLOADS are running; reloads the grid when the
  // last one is done. Driven by events (a drop, a finished upload), not by renders.
  const pump = useCallback(() => {
    while (running.current < PARALLEL_UPLOADS && queue.current.length) {
      const item = queue.current.shift()!
      running.current++
      update(item.key, { state: 'uploading' })
      void send(
        `/resources/trainings/${trainingId}/images`,
        item,
        (fraction) => update(item.key, fraction >= 1 ? { progress: 1, state: 'processing' } : { progress: fraction }),
        abort.current.signal,
      ).then(({ status, body }) => {
        running.current--
        if (abort.current.signal.aborted) return
        const rows = finishedItems(item, status, body)
        setItems((all) => all.flatMap((i) => (i.key === item.key ? rows : [i])))
        pump()
        if (running.current === 0) revalidate.current()
      })
    }
  }, [trainingId, update])

  function add(files: FileList | File[]) {
    const maxBytes = maxFileMb * BYTES_PER_MB
    const added = Array.from(files).map((file): Item => {
      const key = `${++counter.current}`
      // Said here too so a 300 MB file is not sent only to be refused; the server checks again. An
      // archive may be as large as a whole upload: the server says when it is not.
      if (file.size > maxBytes && !isArchive(file)) {
        return {
          key,
          name: file.name,
          file,
          progress: 0,
          state: 'refused',
          message: `Larger than the limit of ${maxFileMb} MB per file.`,
        }
      }
      return { key, name: file.name, file, progress: 0, state: 'queued' }
    })
    setItems((all) => [...all, ...added])
    queue.current.push(...added.filter((i) => i.state === 'queued'))
    pump()
  }

  const busy = items.some((i) => i.state === 'queued' || i.state === 'uploading' || i.state === 'processing')
  const finished = items.filter((i) => i.state === 'added' || i.state === 'refused')

  return (
    <section aria-labelledby={`${inputId}-title`} className="flex flex-col gap-3">
      <h2 id={`${inputId}-title`} className="sr-only">
        Upload images
      </h2>
      <div
        onDragOver={(event) => {
          event.preventDefault()
          setDragging(true)
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(event) => {
          event.preventDefault()
          setDragging(false)
          if (event.dataTransfer.files.length) add(event.dataTransfer.files)
        }}
        className={cn(
          'flex flex-col items-center justify-center gap-3 rounded-lg border-2 border-dashed px-4 text-center transition',
          isEmpty ? 'py-16' : 'py-6',
          dragging ? 'border-brand-500 bg-brand-50' : 'border-slate-300 bg-white',
        )}
        data-testid="drop-zone"
      >
        <p className="text-base font-medium text-slate-800">{isEmpty ? 'Drop 5–200 photos here' : 'Drop more photos here'}</p>
        <p className="text-sm text-slate-500">
          JPEG, PNG or WebP, up to {maxFileMb} MB each, or .zip archives of them with optional .txt captions of the same name.
          Metadata such as GPS position is removed.
        </p>
        <label htmlFor={inputId} className={cn(buttonVariants(), 'cursor-pointer focus-within:ring-2')}>
          Choose images
        </label>
        <input
          id={inputId}
          type="file"
          multiple
          accept="image/jpeg,image/png,image/webp,.zip,application/zip"
          className="sr-only"
          onChange={(event) => {
            if (event.target.files?.length) add(event.target.files)
            // The same file picked again must fire change again.
            event.target.value = ''
          }}
        />
      </div>

      {items.length ? (
        <div className="card p-4">
          <div className="mb-2 flex items-center justify-between gap-2">
            <h3 className="text-sm font-semibold" aria-live="polite">
              {busy
                ? `Uploading ${items.length - finished.length} of ${items.length}…`
                : `${finished.filter((i) => i.state === 'added').length} of ${items.length} added`}
            </h3>
            {!busy ? (
              <Button type="button" variant="link" size="none" onClick={() => setItems([])}>
                Clear this list
              </Button>
            ) : null}
          </div>
          <ul aria-label="Uploads" className="flex flex-col gap-2">
            {items.map((item) => (
              <UploadRow key={item.key} item={item} />
            ))}
          </ul>
        </div>
      ) : null}
    </section>
  )
}

function UploadRow({ item }: { item: Item }) {
  const status =
    item.state === 'queued'
      ? 'Waiting…'
      : item.state === 'uploading'
        ? `Uploading ${Math.round(item.progress * 100)}%`
        : item.state === 'processing'
          ? 'Checking and resizing…'
          : item.state === 'added'
            ? 'Added'
            : 'Refused'
  return (
    <li className="flex flex-col gap-1 text-sm" data-state={item.state}>
      <div className="flex flex-wrap items-baseline justify-between gap-x-3">
        <span className="min-w-0 break-all font-medium text-slate-800">{item.name}</span>
        <span
          className={cn(
            'shrink-0',
            item.state === 'refused' ? 'text-red-700' : item.state === 'added' ? 'text-green-700' : 'text-slate-500',
          )}
        >
          {status}
        </span>
      </div>
      {item.state === 'uploading' || item.state === 'processing' || item.state === 'queued' ? (
        <progress className="h-1.5 w-full" max={1} value={item.progress} aria-label={`Upload of ${item.name}`} />
      ) : null}
      {item.message ? (
        <p
          className={item.state === 'refused' ? 'text-red-700' : 'text-amber-700'}
          role={item.state === 'refused' ? 'alert' : undefined}
        >
          {item.name}: {item.message}
        </p>
      ) : null}
      {item.caption ? (
        <p className="break-words text-slate-600">
          <span className="font-medium">Caption:</span> {item.caption}
        </p>
      ) : null}
    </li>
  )
}
