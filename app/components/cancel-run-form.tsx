// Cancel, asking first whether to keep what the run trained: its checkpoints and samples stay to
// download, pick and continue from ("Keep", the default), or are deleted with the run's machine
// ("Discard"). The question opens in place of the button, like ConfirmButton, so it works the same on
// a phone and with a screen reader. Posts intent=cancel with keep=true|false.
import { Form } from '@remix-run/react'
import { useEffect, useRef, useState } from 'react'
import { ErrorList } from './forms'
import { Button, buttonVariants } from './ui/button'
import { cn } from './ui/cn'
import { StatusButton } from './ui/status-button'

export function CancelRunForm({ pending, errors }: { pending: boolean; errors: string[] | null }) {
  const [asking, setAsking] = useState(false)
  const firstChoice = useRef<HTMLInputElement>(null)
  useEffect(() => {
    if (asking) firstChoice.current?.focus()
  }, [asking])
  useEffect(() => {
    if (!pending) setAsking(false)
  }, [pending])

  return (
    <Form method="POST" className="flex flex-col gap-2">
      {!asking && !pending ? (
        <button
          type="button"
          className={cn(buttonVariants({ variant: 'secondary' }), 'border-red-300 text-red-700 hover:bg-red-50')}
          onClick={() => setAsking(true)}
        >
          Cancel run
        </button>
      ) : (
        <fieldset className="flex flex-col gap-2 rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-900">
          <legend className="sr-only">Cancel this run</legend>
          <p>Stop this run and shut its machine down?</p>
          <label className="flex items-start gap-2">
            <input ref={firstChoice} type="radio" name="keep" value="true" defaultChecked className="mt-1" />
            <span>
              <span className="font-medium">Keep checkpoints and samples</span>
              <span className="block text-xs text-red-800">Download, pick or continue from what it trained so far.</span>
            </span>
          </label>
          <label className="flex items-start gap-2">
            <input type="radio" name="keep" value="false" className="mt-1" />
            <span>
              <span className="font-medium">Discard</span>
              <span className="block text-xs text-red-800">Delete what it trained so far.</span>
            </span>
          </label>
          <div className="flex flex-wrap gap-2">
            <StatusButton name="intent" value="cancel" variant="danger" status={pending ? 'pending' : 'idle'}>
              Yes, cancel the run
            </StatusButton>
            <Button type="button" variant="secondary" disabled={pending} onClick={() => setAsking(false)}>
              Keep it running
            </Button>
          </div>
        </fieldset>
      )}
      <ErrorList errors={errors} />
    </Form>
  )
}
