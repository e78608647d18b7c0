// Error pages that leak nothing: a status, a human sentence, and a way back. The details of a
// 500 stay in the server log.
import { isRouteErrorResponse, Link, useRouteError } from '@remix-run/react'

const MESSAGES: Record<number, { title: string; text: string }> = {
  400: { title: 'Bad request', text: 'The request could not be understood.' },
  403: { title: 'Not allowed', text: 'You do not have permission to see or do this.' },
  404: { title: 'Page not found', text: 'There is nothing here, or it is not yours to see.' },
  405: { title: 'Not allowed', text: 'This address does not accept that kind of request.' },
  413: { title: 'Too large', text: 'What you sent is larger than this page accepts.' },
  429: { title: 'Slow down', text: 'Too many tries in a short time. Wait a minute and try again.' },
}

export function GeneralErrorBoundary() {
  const error = useRouteError()
  const status = isRouteErrorResponse(error) ? error.status : 500
  const message = MESSAGES[status] ?? {
    title: 'Something went wrong',
    text: 'An unexpected error happened on our side. It has been logged; please try again.',
  }
  if (!isRouteErrorResponse(error) && typeof document !== 'undefined') console.error(error)
  return (
    <div className="mx-auto flex max-w-lg flex-col items-center gap-4 py-16 text-center">
      <p className="text-5xl font-bold text-slate-300">{status}</p>
      <h1 className="text-2xl font-semibold text-slate-900">{message.title}</h1>
      <p className="text-slate-600">{message.text}</p>
      <Link to="/" className="btn-secondary">
        Back to the home page
      </Link>
    </div>
  )
}
