// /docs/api — the API reference for people, public: how to get a token and call the API (errors, paging,
// rate limits, idempotency, webhooks and their signatures), then every operation of the OpenAPI document
// with its parameters, body and answers. Built on the server from the same document the API serves at
// /api/v1/openapi.json, so the page cannot describe anything the API does not do.
import { json, type MetaFunction } from '@remix-run/node'
import { useLoaderData } from '@remix-run/react'
import { ApiReferenceView } from '~/components/api-reference'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { openApiDocument } from '~/api/v1/operations.server'
import { describeApi } from './api-reference.server'

export const meta: MetaFunction = () => [
  { title: 'API reference · Trainyard' },
  { name: 'description', content: 'The Trainyard REST API: tokens, trainings, images, runs, webhooks and the Hugging Face Hub.' },
]

export async function loader() {
  // Not cached publicly although the reference is the same for everyone: the page's header shows who is logged in.
  return json({ reference: describeApi(openApiDocument()) })
}

export default function ApiDocsPage() {
  const { reference } = useLoaderData<typeof loader>()
  return <ApiReferenceView reference={reference} />
}

export const ErrorBoundary = GeneralErrorBoundary
