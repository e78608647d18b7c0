// Error pages that leak nothing: a status, a human sentence, and a way back. The details of a
// 500 stay in the server log. A route may say more about a status it knows ("No training with the
// id …") by passing a handler for it; the title, the status and the way back stay the same.
import { isRouteErrorResponse, Link, useParams, useRouteError, type ErrorResponse } from '@remix-run/react'
import { type ReactNode } from 'react'
import { buttonVariants } from './ui/button'

const MESSAGES: Record<number, { title: string; text: string }> = {
  400: { title: 'Bad request', text: 'The request could not be understood.' },
  403: { title: 'Not allowed', text: 'You do not have permission to see or do this.' },
  404: { title: 'Page not found', text: 'There is nothing here, or it is not yours to see.' },
  405: { title: 'Not allowed', text: 'This address does not accept that kind of request.' },
  413: { title: 'Too large', text: 'What you sent is larger than this page accepts.' },
  429: { title: 'Slow down', text: 'Too many tries in a short time. Wait a minute and try again.' },
}

const UNEXPECTED = {
  title: 'Something went wrong',
  text: 'An unexpected error happened on our side. It has been logged; please try again.',
}

type StatusHandlerInfo = { error: ErrorResponse; params: Record<string, string | undefined> }

/** What a route says about one status, in place of the general sentence. */
export type StatusHandler = (info: StatusHandlerInfo) => ReactNode

export function GeneralErrorBoundary({
  statusHandlers,
  defaultStatusHandler,
  unexpectedErrorHandler,
}: {
  statusHandlers?: Partial<Record<number, StatusHandler>>
  /** For a status without its own handler; the general sentence of that status when absent. */
  defaultStatusHandler?: StatusHandler
  /** For a thrown Error (not a Response); never shows the error itself, which may hold secrets. */
  unexpectedErrorHandler?: (error: unknown) => ReactNode
} = {}) {
  const error = useRouteError()
  const params = useParams()
  const isResponse = isRouteErrorResponse(error)
  const status = isResponse ? error.status : 500
  const message = (isResponse ? MESSAGES[status] : undefined) ?? UNEXPECTED
  if (!isResponse && typeof document !== 'undefined') console.error(error)

  const handler = isResponse ? (statusHandlers?.[status] ?? defaultStatusHandler) : undefined
  const text: ReactNode = isResponse ? (
    handler ? (
      handler({ error, params })
    ) : (
      <p>{message.text}</p>
    )
  ) : unexpectedErrorHandler ? (
    unexpectedErrorHandler(error)
  ) : (
    <p>{message.text}</p>
  )

  return (
    <div className="mx-auto flex max-w-lg flex-col items-center gap-4 py-16 text-center">
      <p className="text-5xl font-bold text-slate-500">{status}</p>
      <h1 className="text-2xl font-semibold text-slate-900">{message.title}</h1>
      <div className="text-slate-600">{text}</div>
      <Link to="/" className={buttonVariants({ variant: 'secondary' })}>
        Back to the home page
      </Link>
    </div>
  )
}

/** A status handler's sentence with the way back: "No role with the id "x". See every role." */
export function NotFound({ children, to, linkText }: { children: ReactNode; to: string; linkText: string }) {
  return (
    <p>
      {children}{' '}
      <Link to={to} className="link">
        {linkText}
      </Link>
      .
    </p>
  )
}

/** What every page of one training says when the training is not there, or not the reader's to see. */
export const trainingNotFound: StatusHandler = ({ params }) => (
  <NotFound to="/trainings" linkText="See your trainings">
    No training with the id “{params.trainingId}”, or it is not yours to see.
  </NotFound>
)
