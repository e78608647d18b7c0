// Shows the toast the root loader found in the flash cookie, with sonner. The server side
// (utils/toast.server.ts) is unchanged: a redirect carries the toast, the root loader reads it once.
import { createContext, useContext, useEffect, useLayoutEffect, useRef, useState } from 'react'
import { toast as showToast, Toaster as Sonner } from 'sonner'

type Toast = { id: string; type: 'success' | 'error' | 'message'; title?: string; description: string }

/** The id of the newest toast: only it is the page's status message (see ToastBody). */
const NewestToastId = createContext<string | null>(null)

/**
 * The text of one toast. sonner renders each toast as an item of a list; the newest one is made the
 * page's status message instead (`role="status"` on sonner's own element), as the hand-written
 * toaster's box was: assistive technology (and the browser tests) find the outcome of what was just
 * done as one status message, never two while an older toast fades out, and never as an item to
 * be confused with the page's own lists.
 */
function ToastBody({ id, title, description }: { id: string; title?: string; description: string }) {
  const newest = useContext(NewestToastId) === id
  const ref = useRef<HTMLDivElement>(null)
  // sonner takes no role for its <li>: set it on the element itself, before the browser paints.
  useLayoutEffect(() => {
    ref.current?.closest('[data-sonner-toast]')?.setAttribute('role', newest ? 'status' : 'none')
  }, [newest])
  return (
    <div ref={ref} className="flex flex-col gap-0.5">
      {title ? <p className="font-semibold">{title}</p> : null}
      <p className="text-sm">{description}</p>
    </div>
  )
}

export function Toaster({ toast }: { toast: Toast | null }) {
  const [newestId, setNewestId] = useState<string | null>(null)
  // The root loader's data is a new object after every revalidation; the toast's id is what says
  // "a new toast", so the effect is keyed by it and each toast shows once.
  const latest = useRef(toast)
  latest.current = toast
  const id = toast?.id
  useEffect(() => {
    const current = latest.current
    if (!id || !current) return
    // One toast at a time, as before: the newer message replaces the older.
    showToast.dismiss()
    setNewestId(id)
    const body = <ToastBody id={id} title={current.title} description={current.description} />
    const show = current.type === 'success' ? showToast.success : current.type === 'error' ? showToast.error : showToast
    show(body, { id })
  }, [id])
  return (
    <NewestToastId.Provider value={newestId}>
      {/* Bottom of the screen: at the top it would cover the header's user menu. */}
      <Sonner position="bottom-right" duration={6000} closeButton richColors />
    </NewestToastId.Provider>
  )
}
