// Copies a text to the clipboard and says so for a moment (and to screen readers through a live
// region). Where the clipboard is unavailable (an insecure origin), it says how to copy by hand.
import { useEffect, useState } from 'react'
import { buttonVariants } from './ui/button'
import { cn } from './ui/cn'

const CONFIRMATION_MS = 2000

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle')
  useEffect(() => {
    if (state === 'idle') return
    const timer = setTimeout(() => setState('idle'), CONFIRMATION_MS)
    return () => clearTimeout(timer)
  }, [state])
  return (
    <span className="inline-flex items-center gap-2">
      <button
        type="button"
        className={cn(buttonVariants({ variant: 'secondary' }), 'px-3 py-1')}
        onClick={() => {
          if (!navigator.clipboard) return setState('failed')
          navigator.clipboard.writeText(text).then(
            () => setState('copied'),
            () => setState('failed'),
          )
        }}
      >
        {label}
      </button>
      <span role="status" className="text-xs text-slate-600">
        {state === 'copied' ? 'Copied' : state === 'failed' ? 'Copying is blocked here: select the text and copy it.' : ''}
      </span>
    </span>
  )
}
