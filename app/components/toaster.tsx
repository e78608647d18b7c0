import { useEffect, useState } from 'react'
import { cx } from '~/utils/misc'

type Toast = { id: string; type: 'success' | 'error' | 'message'; title?: string; description: string }

/** Shows the toast the root loader found in the flash cookie, for a few seconds. */
export function Toaster({ toast }: { toast: Toast | null }) {
  const [shown, setShown] = useState<Toast | null>(toast)
  useEffect(() => {
    setShown(toast)
    if (!toast) return
    const timer = setTimeout(() => setShown(null), 6000)
    return () => clearTimeout(timer)
  }, [toast])
  if (!shown) return null
  return (
    // Bottom of the screen: at the top it would cover the header's user menu.
    <div className="pointer-events-none fixed inset-x-0 bottom-4 z-50 flex justify-center px-4 sm:justify-end">
      <div
        role="status"
        aria-live="polite"
        className={cx(
          'pointer-events-auto flex w-full max-w-sm items-start gap-3 rounded-lg border px-4 py-3 shadow-lg',
          shown.type === 'success' && 'border-green-200 bg-green-50 text-green-900',
          shown.type === 'error' && 'border-red-200 bg-red-50 text-red-900',
          shown.type === 'message' && 'border-slate-200 bg-white text-slate-900',
        )}
      >
        <div className="flex-1">
          {shown.title ? <p className="font-semibold">{shown.title}</p> : null}
          <p className="text-sm">{shown.description}</p>
        </div>
        <button type="button" className="text-sm opacity-70 hover:opacity-100" onClick={() => setShown(null)} aria-label="Dismiss">
          ✕
        </button>
      </div>
    </div>
  )
}
