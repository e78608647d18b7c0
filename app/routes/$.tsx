// Every URL no other route matches: a 404 rendered by the error boundary, inside the layout.
import { GeneralErrorBoundary } from '~/components/error-boundary'

export function loader() {
  throw new Response('Not found', { status: 404 })
}

export function action() {
  throw new Response('Not found', { status: 404 })
}

export default function NotFound() {
  return <GeneralErrorBoundary />
}

export function ErrorBoundary() {
  return (
    <GeneralErrorBoundary
      statusHandlers={{ 404: ({ params }) => <p>There is no page at /{params['*']}, or it is not yours to see.</p> }}
    />
  )
}
