// The API reference page's body: the guide (tokens, curl, errors, paging, limits, idempotency, webhooks)
// and every operation of the OpenAPI document as described by describeApi (its fields already resolved
// on the server). Plain components and Tailwind, no UI bundle: the page must work under the CSP, on a
// phone, and with a screen reader (one heading per operation, tables with headers, a table of contents).
import { type ReactNode } from 'react'
import type { ApiField, ApiOperationView, ApiReference } from '~/routes/docs+/api-reference.server'
import { Badge } from './ui/badge'
import { cn } from './ui/cn'

const METHOD_CLASSES: Record<string, string> = {
  GET: 'bg-sky-100 text-sky-900',
  POST: 'bg-green-100 text-green-900',
  PATCH: 'bg-amber-100 text-amber-900',
  PUT: 'bg-amber-100 text-amber-900',
  DELETE: 'bg-red-100 text-red-900',
}

const GUIDE = [
  { id: 'tokens', title: 'Tokens' },
  { id: 'first-call', title: 'A first call' },
  { id: 'errors', title: 'Errors' },
  { id: 'pagination', title: 'Pagination' },
  { id: 'rate-limits', title: 'Rate limits' },
  { id: 'idempotency', title: 'Idempotency' },
  { id: 'webhooks', title: 'Webhooks' },
] as const

export function ApiReferenceView({ reference }: { reference: ApiReference }) {
  const base = reference.serverUrl
  return (
    <div className="flex flex-col gap-8 lg:flex-row lg:items-start">
      {/* On a phone the contents fold away above the page; from lg up they stay beside it. Only one of the
          two is displayed (and so in the accessibility tree) at a time. */}
      <nav aria-label="API reference contents" className="lg:hidden">
        <details className="rounded-lg border border-slate-200 bg-white p-3">
          <summary className="cursor-pointer text-sm font-semibold text-slate-900">Contents</summary>
          <Contents reference={reference} />
        </details>
      </nav>
      <nav
        aria-label="API reference contents"
        className="hidden lg:sticky lg:top-4 lg:block lg:max-h-[calc(100vh-2rem)] lg:w-64 lg:shrink-0 lg:overflow-y-auto"
      >
        <p className="text-sm font-semibold text-slate-900">Contents</p>
        <Contents reference={reference} />
      </nav>

      <div className="flex min-w-0 flex-1 flex-col gap-8">
        <header className="flex flex-col gap-2">
          <h1 className="text-2xl font-bold">{reference.title}</h1>
          <p className="text-sm text-slate-600">
            Version {reference.version} · base URL <code className="break-all font-mono">{base}</code> ·{' '}
            <a className="text-brand-700 underline" href="/api/v1/openapi.json">
              the OpenAPI 3.1 document
            </a>
          </p>
          {reference.description ? <p className="text-slate-700">{reference.description}</p> : null}
        </header>

        <Guide base={base} />

        {reference.tags.map((tag) => (
          <section key={tag.id} aria-labelledby={tag.id} className="flex flex-col gap-4">
            <h2 id={tag.id} className="scroll-mt-4 border-b border-slate-200 pb-1 text-xl font-bold">
              <a href={`#${tag.id}`} className="hover:underline">
                {tag.name}
              </a>
            </h2>
            {tag.operations.map((op) => (
              <Operation key={op.id} op={op} />
            ))}
          </section>
        ))}
      </div>
    </div>
  )
}

function Contents({ reference }: { reference: ApiReference }) {
  return (
    <ul className="mt-2 flex flex-col gap-1 text-sm">
      {GUIDE.map((section) => (
        <li key={section.id}>
          <a className="text-slate-700 hover:text-brand-700 hover:underline" href={`#${section.id}`}>
            {section.title}
          </a>
        </li>
      ))}
      {reference.tags.map((tag) => (
        <li key={tag.id} className="mt-2">
          <a className="font-medium text-slate-900 hover:text-brand-700 hover:underline" href={`#${tag.id}`}>
            {tag.name}
          </a>
          <ul className="mt-1 flex flex-col gap-0.5 border-l border-slate-200 pl-3">
            {tag.operations.map((op) => (
              <li key={op.id}>
                <a className="block break-words text-slate-600 hover:text-brand-700 hover:underline" href={`#${op.id}`}>
                  <span className="font-mono text-xs">{op.method}</span> {op.summary || op.path}
                </a>
              </li>
            ))}
          </ul>
        </li>
      ))}
    </ul>
  )
}

function GuideSection({ id, title, children }: { id: string; title: string; children: ReactNode }) {
  return (
    <section aria-labelledby={id} className="flex flex-col gap-2">
      <h2 id={id} className="scroll-mt-4 text-lg font-semibold">
        <a href={`#${id}`} className="hover:underline">
          {title}
        </a>
      </h2>
      <div className="flex flex-col gap-2 text-slate-700">{children}</div>
    </section>
  )
}

function Code({ children, label }: { children: string; label: string }) {
  return (
    <pre
      aria-label={label}
      className="overflow-x-auto rounded-md bg-slate-900 p-3 text-xs leading-relaxed text-slate-100"
      tabIndex={0}
    >
      <code>{children}</code>
    </pre>
  )
}

function Guide({ base }: { base: string }) {
  return (
    <div className="flex flex-col gap-6 rounded-lg border border-slate-200 bg-white p-4 shadow-sm sm:p-6">
      <GuideSection id="tokens" title="Tokens">
        <p>
          Create a token in{' '}
          <a className="text-brand-700 underline" href="/settings/api-tokens">
            Settings › API tokens
          </a>
          : give it a name, an expiry and a scope. <strong>read</strong> reads your trainings, runs and spend;{' '}
          <strong>write</strong> also creates, changes, starts, cancels and deletes; administrators may add <strong>admin</strong>
          , which lets the token use their permissions over everyone’s trainings. The token is shown once; only its hash is
          stored. Send it on every call as <code>Authorization: Bearer ty_…</code>. A revoked or expired token is refused with a
          401.
        </p>
      </GuideSection>
      <GuideSection id="first-call" title="A first call">
        <Code label="curl example: who am I">{`export TRAINYARD_TOKEN=ty_…
curl -H "Authorization: Bearer $TRAINYARD_TOKEN" ${base}/me`}</Code>
        <Code label="curl example: create a training and start a run">{`curl -H "Authorization: Bearer $TRAINYARD_TOKEN" -H 'Content-Type: application/json' \\
  -d '{"name":"Portraits","triggerWord":"ohwx","baseModel":"flux-dev"}' ${base}/trainings

curl -H "Authorization: Bearer $TRAINYARD_TOKEN" -F files=@photo1.jpg -F files=@photo2.jpg \\
  ${base}/trainings/TRAINING_ID/images

curl -H "Authorization: Bearer $TRAINYARD_TOKEN" -H 'Content-Type: application/json' \\
  -H "Idempotency-Key: $(uuidgen)" -d '{}' ${base}/trainings/TRAINING_ID/runs`}</Code>
        <p>
          The command line in the repository (<code>npx trainyard</code>) does the same from a terminal.
        </p>
      </GuideSection>
      <GuideSection id="errors" title="Errors">
        <p>Every error has one shape, with the HTTP status:</p>
        <Code label="error example">{`{ "error": { "code": "validation_failed", "message": "The body was refused: see fields.",
             "fields": { "name": ["Give the training a name."] } } }`}</Code>
        <p>
          <code>code</code> is a stable word for programs (<code>unauthorized</code> 401, <code>insufficient_scope</code> 403,{' '}
          <code>not_found</code> 404, <code>validation_failed</code> 422, <code>rate_limited</code> 429, and an operation’s own,
          such as <code>budget_exceeded</code>); <code>message</code> is a sentence for people; <code>fields</code> names what was
          wrong in a body or query. Someone else’s training, run, image or webhook is a 404, exactly as in the browser.
        </p>
      </GuideSection>
      <GuideSection id="pagination" title="Pagination">
        <p>
          Lists answer <code>{'{ "data": [...], "nextCursor": "…" | null }'}</code>, newest first. Ask for up to 100 at a time
          with <code>?limit=</code> (default 20) and pass <code>nextCursor</code> back as <code>?cursor=</code> until it is null.
        </p>
      </GuideSection>
      <GuideSection id="rate-limits" title="Rate limits">
        <p>
          Each token may make a fixed number of calls a minute (120 unless the operator changed it). Every answer says where you
          are with <code>X-RateLimit-Limit</code>, <code>X-RateLimit-Remaining</code> and <code>X-RateLimit-Reset</code>{' '}
          (seconds); over the limit the answer is a 429 with <code>Retry-After</code>.
        </p>
      </GuideSection>
      <GuideSection id="idempotency" title="Idempotency">
        <p>
          Starting a run spends money, so it takes an <code>Idempotency-Key</code> header (a UUID). A retry with the same key and
          the same body within 24 hours gets the first answer again instead of a second run; the same key with another body is a
          422 <code>idempotency_key_reused</code>, and a retry while the first call is still being answered a 409{' '}
          <code>idempotency_in_progress</code>.
        </p>
      </GuideSection>
      <GuideSection id="webhooks" title="Webhooks">
        <p>
          Register a URL (in Settings › Webhooks or with <code>POST /webhooks</code>) for run events: <code>run.started</code>,{' '}
          <code>run.phase_changed</code>, <code>run.sample_added</code>, <code>run.checkpoint_added</code>,{' '}
          <code>run.succeeded</code>, <code>run.failed</code>, <code>run.canceled</code>, and <code>webhook.test</code> from “send
          a test event”. Each delivery is a POST of{' '}
          <code>{'{ "type", "timestamp", "data": { "runId", "trainingId", "status", … } }'}</code>, signed as the{' '}
          <a className="text-brand-700 underline" href="https://www.standardwebhooks.com/">
            Standard Webhooks
          </a>{' '}
          specification says: <code>webhook-id</code>, <code>webhook-timestamp</code> and <code>webhook-signature</code>{' '}
          (HMAC-SHA256 over <code>id.timestamp.body</code> with the endpoint’s <code>whsec_…</code> secret, shown once). Answer
          with a 2xx; anything else is retried with back-off. Verify with a Standard Webhooks library on the raw body, before
          parsing it:
        </p>
        <Code label="verifying a webhook in Node.js">{`import { Webhook } from 'standardwebhooks'   // npm install standardwebhooks

const webhook = new Webhook(process.env.TRAINYARD_WEBHOOK_SECRET) // "whsec_…"
// rawBody: the request body as a string, exactly as it arrived
const event = webhook.verify(rawBody, {
  'webhook-id': req.headers['webhook-id'],
  'webhook-timestamp': req.headers['webhook-timestamp'],
  'webhook-signature': req.headers['webhook-signature'],
}) // throws when the signature or the timestamp is wrong`}</Code>
        <Code label="verifying a webhook in Python">{`from standardwebhooks.webhooks import Webhook   # pip install standardwebhooks

event = Webhook(secret).verify(raw_body, request.headers)`}</Code>
      </GuideSection>
    </div>
  )
}

function Operation({ op }: { op: ApiOperationView }) {
  const headingId = `${op.id}-title`
  return (
    <article
      id={op.id}
      aria-labelledby={headingId}
      className="scroll-mt-4 rounded-lg border border-slate-200 bg-white p-4 shadow-sm sm:p-6"
    >
      <h3 id={headingId} className="flex flex-wrap items-center gap-2 font-semibold">
        <span className={cn('rounded px-2 py-0.5 font-mono text-xs font-bold', METHOD_CLASSES[op.method] ?? 'bg-slate-100')}>
          {op.method}
        </span>
        <a href={`#${op.id}`} className="break-all font-mono text-sm hover:underline">
          {op.path}
        </a>
      </h3>
      <p className="mt-1 text-slate-900">{op.summary}</p>
      <div className="mt-2 flex flex-wrap gap-2">
        <Badge tone={op.scope === 'public' ? 'success' : op.scope === 'write' ? 'warning' : 'info'}>
          {op.scope === 'public' ? 'no token needed' : `scope: ${op.scope}`}
        </Badge>
        {op.idempotent ? <Badge>Idempotency-Key</Badge> : null}
      </div>
      {op.description ? <p className="mt-2 whitespace-pre-line text-sm text-slate-700">{op.description}</p> : null}

      {op.parameters.length ? (
        <div className="mt-4">
          <h4 className="text-sm font-semibold">Parameters</h4>
          <FieldTable
            fields={op.parameters}
            where={(field) => ('in' in field ? String(field.in) : '')}
            caption={`Parameters of ${op.method} ${op.path}`}
          />
        </div>
      ) : null}

      {op.body ? (
        <div className="mt-4">
          <h4 className="text-sm font-semibold">
            Request body <span className="font-normal text-slate-600">({op.body.contentType})</span>
            {op.body.bodyType ? <span className="font-normal text-slate-600"> · {op.body.bodyType}</span> : null}
          </h4>
          {op.body.fields.length ? (
            <FieldTable fields={op.body.fields} caption={`Request body of ${op.method} ${op.path}`} />
          ) : (
            <p className="text-sm text-slate-600">No fields.</p>
          )}
        </div>
      ) : null}

      <div className="mt-4">
        <h4 className="text-sm font-semibold">Responses</h4>
        <ul className="mt-1 flex flex-col gap-3">
          {op.responses.map((response) => (
            <li key={response.status} className="text-sm">
              <p>
                <span
                  className={cn(
                    'mr-2 inline-block rounded px-1.5 font-mono font-bold',
                    response.status.startsWith('2')
                      ? 'bg-green-50 text-green-800'
                      : response.status.startsWith('3')
                        ? 'bg-sky-50 text-sky-800'
                        : 'bg-red-50 text-red-800',
                  )}
                >
                  {response.status}
                </span>
                {response.description}
                {response.bodyType ? <span className="text-slate-600"> · {response.bodyType}</span> : null}
              </p>
              {response.headers.length ? (
                <ul className="ml-4 mt-1 list-disc text-slate-700">
                  {response.headers.map((header) => (
                    <li key={header.name}>
                      <code>{header.name}</code>: {header.description}
                    </li>
                  ))}
                </ul>
              ) : null}
              {response.fields.length && response.status.startsWith('2') ? (
                <FieldTable fields={response.fields} caption={`${response.status} answer of ${op.method} ${op.path}`} />
              ) : null}
            </li>
          ))}
        </ul>
        <p className="mt-2 text-xs text-slate-600">
          Errors are <code>{'{ "error": { "code", "message", "fields"? } }'}</code> (see{' '}
          <a className="underline" href="#errors">
            Errors
          </a>
          ).
        </p>
      </div>
    </article>
  )
}

type Row = { field: ApiField; depth: number; path: string }

function flatten(fields: ApiField[], depth = 0, prefix = ''): Row[] {
  return fields.flatMap((field) => {
    const path = prefix ? `${prefix}.${field.name}` : field.name
    return [{ field, depth, path }, ...flatten(field.children, depth + 1, field.type.startsWith('array') ? `${path}[]` : path)]
  })
}

/** Fields as a table; nested fields are indented rows named by their path (`phases[].startedAt`). */
function FieldTable({ fields, caption, where }: { fields: ApiField[]; caption: string; where?: (field: ApiField) => string }) {
  return (
    <div className="mt-1 overflow-x-auto">
      <table className="w-full min-w-[32rem] border-collapse text-left text-sm">
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr className="border-b border-slate-200 text-xs uppercase text-slate-500">
            <th scope="col" className="py-1 pr-3 font-medium">
              Name
            </th>
            {where ? (
              <th scope="col" className="py-1 pr-3 font-medium">
                In
              </th>
            ) : null}
            <th scope="col" className="py-1 pr-3 font-medium">
              Type
            </th>
            <th scope="col" className="py-1 font-medium">
              Description
            </th>
          </tr>
        </thead>
        <tbody>
          {flatten(fields).map(({ field, depth, path }) => (
            <tr key={path} className="border-b border-slate-100 align-top">
              <th scope="row" className="py-1 pr-3 font-normal">
                <code className="break-all font-mono text-xs" style={{ paddingLeft: `${depth * 0.75}rem` }}>
                  {path}
                </code>
                {field.required ? (
                  <span className="ml-1 text-xs text-red-700">required</span>
                ) : (
                  <span className="ml-1 text-xs text-slate-500">optional</span>
                )}
              </th>
              {where ? <td className="py-1 pr-3 text-xs text-slate-600">{where(field)}</td> : null}
              <td className="py-1 pr-3 font-mono text-xs text-slate-700">
                {field.type}
                {field.nullable ? ' | null' : ''}
              </td>
              <td className="py-1 text-slate-700">
                {field.description}
                {field.enum && field.enum.length > 1 && !field.type.includes('"') ? (
                  <span className="block text-xs text-slate-600">One of: {field.enum.join(', ')}</span>
                ) : null}
                {field.default !== null ? <span className="block text-xs text-slate-600">Default: {field.default}</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
