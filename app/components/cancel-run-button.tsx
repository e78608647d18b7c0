// "Cancel run", asked twice: the first press turns into the question and its two answers in place
// (no browser dialog: the same on a phone and with a screen reader). The answer to keep going says
// so in words, because a plain "Cancel" next to "Cancel run" would read as the opposite.
import { useEffect, useRef, useState } from 'react'
import { Spinner } from './forms'

export function CancelRunButton({ pending, label = 'Cancel run', question }: { pending: boolean; label?: string; question: string }) {
  const [asking, setAsking] = useState(false)
  const confirmRef = useRef<HTMLButtonElement>(null)
  useEffect(() => {
    if (asking) confirmRef.current?.focus()
  }, [asking])

  if (!asking && !pending) {
    return (
      <button type="button" className="btn-secondary border-red-300 text-red-700 hover:bg-red-50" onClick={() => setAsking(true)}>
        {label}
      </button>
    )
  }
  return (
    <div role="group" aria-label="Confirm cancel" className="flex flex-col gap-2 rounded-md border border-red-200 bg-red-50 p-3">
      <p className="text-sm text-red-800">{question}</p>
      <div className="flex flex-wrap gap-2">
        <button ref={confirmRef} type="submit" name="intent" value="cancel" className="btn-danger" disabled={pending} aria-busy={pending || undefined}>
          {pending ? <Spinner /> : null}
          Yes, cancel the run
        </button>
        <button type="button" className="btn-secondary" disabled={pending} onClick={() => setAsking(false)}>
          Keep it running
        </button>
      </div>
    </div>
  )
}
