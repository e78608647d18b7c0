// The samples of a run as they arrive: one row per sample round (step), one column per prompt, the
// prompt as the column's header (cut short, whole on hover and in the large view). A click opens the
// large view, a modal <dialog> (the page behind it is inert, Esc closes it, Tab wraps inside it): ← → step through
// the prompts, ↑ ↓ through the steps. The grid scrolls inside its own box, so it fits a phone.
import { useEffect, useRef, useState, type KeyboardEvent } from 'react'
import { Button } from './ui/button'

export type SampleGridData = {
  prompts: string[]
  rows: Array<{ step: number; images: Array<string | null> }>
}

export type Cell = { row: number; col: number }

/**
 * Where an arrow key goes from `at` in a grid of `rows` × `cols`: ← → the prompts, ↑ ↓ the steps, stopping
 * at the edges. null: not a key the large view moves with.
 */
export function moveCell(key: string, at: Cell, rows: number, cols: number): Cell | null {
  switch (key) {
    case 'ArrowLeft':
      return { row: at.row, col: Math.max(0, at.col - 1) }
    case 'ArrowRight':
      return { row: at.row, col: Math.min(cols - 1, at.col + 1) }
    case 'ArrowUp':
      return { row: Math.max(0, at.row - 1), col: at.col }
    case 'ArrowDown':
      return { row: Math.min(rows - 1, at.row + 1), col: at.col }
    default:
      return null
  }
}

const stepText = (step: number) => `step ${step.toLocaleString('en-US')}`

export function SampleGrid({
  grid,
  sampleEvery,
  active,
}: {
  grid: SampleGridData
  /** The config's sample.sample_every, for the empty state; null when unknown. */
  sampleEvery: number | null
  active: boolean
}) {
  const [open, setOpen] = useState<Cell | null>(null)
  const rows = grid.rows
  if (rows.length === 0 || grid.prompts.length === 0) {
    return (
      <p className="text-sm text-slate-600" data-testid="sample-grid-empty">
        {active
          ? `Samples appear here every ${sampleEvery ? `${sampleEvery.toLocaleString('en-US')} steps` : 'few steps'} while the run trains.`
          : 'This run left no samples.'}
      </p>
    )
  }
  return (
    <>
      <div className="max-h-[32rem] overflow-auto rounded-md border border-slate-200" data-testid="sample-grid">
        <table className="border-separate border-spacing-1 text-xs">
          <caption className="sr-only">Samples: one row per step, one column per prompt</caption>
          <thead>
            <tr>
              <th scope="col" className="sticky left-0 top-0 z-20 bg-white p-1 text-left font-medium text-slate-500">
                Step
              </th>
              {grid.prompts.map((prompt, col) => (
                <th
                  key={col}
                  scope="col"
                  title={prompt}
                  className="sticky top-0 z-10 w-32 min-w-32 max-w-32 bg-white p-1 text-left font-normal text-slate-700"
                >
                  <span className="line-clamp-2 break-words">{prompt}</span>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row, r) => (
              <tr key={row.step}>
                <th scope="row" className="sticky left-0 z-10 bg-white p-1 text-left font-medium tabular-nums text-slate-700">
                  {row.step.toLocaleString('en-US')}
                </th>
                {grid.prompts.map((prompt, col) => {
                  const src = row.images[col] ?? null
                  return (
                    <td key={col} className="p-0 align-top">
                      {src ? (
                        <button
                          type="button"
                          className="block h-32 w-32 overflow-hidden rounded border border-slate-200 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-600"
                          aria-label={`Sample at ${stepText(row.step)}: ${prompt}`}
                          onClick={() => setOpen({ row: r, col })}
                        >
                          <img src={src} alt={`${prompt} (${stepText(row.step)})`} className="h-full w-full object-cover" />
                        </button>
                      ) : (
                        <div
                          className="flex h-32 w-32 items-center justify-center rounded border border-dashed border-slate-200 text-slate-400"
                          aria-label={`No sample at ${stepText(row.step)} for this prompt yet`}
                          role="img"
                        >
                          —
                        </div>
                      )}
                    </td>
                  )
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {open ? <SampleViewer grid={grid} at={open} onMove={setOpen} onClose={() => setOpen(null)} /> : null}
    </>
  )
}

function SampleViewer({
  grid,
  at,
  onMove,
  onClose,
}: {
  grid: SampleGridData
  at: Cell
  onMove: (cell: Cell) => void
  onClose: () => void
}) {
  const ref = useRef<HTMLDialogElement>(null)
  useEffect(() => {
    const dialog = ref.current
    // showModal makes the rest of the page inert (the focus stays inside) and Esc fires "close".
    if (dialog && !dialog.open) dialog.showModal()
    return () => dialog?.close()
  }, [])
  const row = grid.rows[at.row]
  const prompt = grid.prompts[at.col] ?? ''
  const src = row?.images[at.col] ?? null
  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === 'Tab') {
      // A modal <dialog> keeps focus off the page behind it but lets Tab leave for the browser's own
      // controls: wrap around inside the dialog instead, so the keys keep working.
      const focusable = [...(ref.current?.querySelectorAll<HTMLElement>('button, [href], [tabindex]:not([tabindex="-1"])') ?? [])]
      const first = focusable[0]
      const last = focusable.at(-1)
      if (!first || !last) return
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault()
        last.focus()
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault()
        first.focus()
      }
      return
    }
    const next = moveCell(event.key, at, grid.rows.length, grid.prompts.length)
    if (!next) return
    event.preventDefault()
    onMove(next)
  }
  return (
    <dialog
      ref={ref}
      aria-labelledby="sample-viewer-title"
      aria-describedby="sample-viewer-help"
      onClose={onClose}
      onKeyDown={onKeyDown}
      className="w-[min(48rem,calc(100vw-2rem))] rounded-lg p-0 backdrop:bg-slate-900/70"
    >
      <div className="flex flex-col gap-3 p-4">
        <div className="flex items-start justify-between gap-3">
          <h3 id="sample-viewer-title" className="text-sm font-semibold" aria-live="polite">
            {row ? `Step ${row.step.toLocaleString('en-US')}` : ''} · prompt {at.col + 1} of {grid.prompts.length}
          </h3>
          <Button type="button" variant="secondary" onClick={() => ref.current?.close()} autoFocus>
            Close
          </Button>
        </div>
        <p className="max-h-24 overflow-auto break-words text-sm text-slate-700" data-testid="sample-viewer-prompt">
          {prompt}
        </p>
        {src ? (
          <img src={src} alt={`${prompt} (${row ? stepText(row.step) : ''})`} className="mx-auto max-h-[65vh] w-auto rounded" />
        ) : (
          <p className="py-16 text-center text-sm text-slate-500">No sample for this prompt at this step yet.</p>
        )}
        <p id="sample-viewer-help" className="text-xs text-slate-500">
          ← → other prompts · ↑ ↓ other steps · Esc closes
        </p>
      </div>
    </dialog>
  )
}
