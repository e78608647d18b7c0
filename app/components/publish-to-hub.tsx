// "Publish to Hugging Face" on a succeeded run's page: a repository name (suggested from the training's
// name), private or public, which file (the run's LoRA or a kept checkpoint), Publish; then each
// publication with its state — uploading (the panel asks again every ~2 s), the link once published,
// the reason when it failed. Its data and its action are the resource route
// /resources/runs/:runId/publish. Without a saved Hub token it says where to add one.
import { getFormProps, getInputProps, getSelectProps, useForm, type SubmissionResult } from '@conform-to/react'
import { getZodConstraint, parseWithZod } from '@conform-to/zod'
import { Link, useFetcher } from '@remix-run/react'
import { useEffect } from 'react'
import type { Publication } from '~/hub/publish.server'
import { PublishFormSchema } from '~/hub/publish-schema'
import { LIVE_REVALIDATE_MS } from './live-revalidation'
import { Field, FormErrors } from './forms'
import { Time } from './time'
import { Alert } from './ui/alert'
import { Badge } from './ui/badge'
import { Card } from './ui/card'
import { Spinner } from './ui/spinner'
import { StatusButton } from './ui/status-button'

export type PublishPanelData = {
  canPublish: boolean
  /** The viewer's own Hub token: publishing uses it. */
  token: 'none' | 'saved' | 'unreadable'
  defaultRepo: string
  checkpoints: { step: number; final: boolean; chosen: boolean }[]
  publications: (Publication & { repoUrl: string })[]
}

const SETTINGS_PATH = '/settings/hugging-face'

export function PublishToHub({ runId, canEdit }: { runId: string; canEdit: boolean }) {
  const href = `/resources/runs/${runId}/publish`
  const panel = useFetcher<PublishPanelData>({ key: `publish-panel-${runId}` })
  const data = panel.data
  const uploading = data?.publications.some((p) => p.status === 'uploading') ?? false

  // The first load, then again every ~2 s while an upload runs (bounded by the upload's own end).
  useEffect(() => {
    if (panel.state !== 'idle') return
    if (data && !uploading) return
    const timer = setTimeout(() => panel.load(href), data ? LIVE_REVALIDATE_MS : 0)
    return () => clearTimeout(timer)
  }, [panel, data, uploading, href])

  return (
    <Card title="Publish to Hugging Face" id="publish-to-hub-title">
      {!data ? (
        <p className="flex items-center gap-2 text-sm text-slate-600" role="status">
          <Spinner /> Loading…
        </p>
      ) : (
        <div className="flex flex-col gap-4">
          {canEdit && data.canPublish ? <PublishForm href={href} data={data} /> : null}
          <PublicationList publications={data.publications} />
        </div>
      )}
    </Card>
  )
}

function PublishForm({ href, data }: { href: string; data: PublishPanelData }) {
  const publish = useFetcher<SubmissionResult<string[]>>({ key: `publish-${href}` })
  const [form, fields] = useForm({
    id: 'publish-to-hub',
    constraint: getZodConstraint(PublishFormSchema),
    lastResult: publish.state === 'idle' ? publish.data : null,
    defaultValue: { repo: data.defaultRepo, visibility: 'private' as const },
    onValidate: ({ formData }) => parseWithZod(formData, { schema: PublishFormSchema }),
    shouldRevalidate: 'onInput',
  })
  if (data.token !== 'saved') {
    return (
      <Alert tone="info">
        <p>
          Publishing pushes the LoRA to your own Hugging Face account with a model card.{' '}
          {data.token === 'unreadable'
            ? 'Your saved Hugging Face token can no longer be read: save it again in '
            : 'First save a Hugging Face token in '}
          <Link to={SETTINGS_PATH} className="link">
            Settings › Hugging Face
          </Link>
          . It needs <em>write</em> access: a read token can download models but not create repositories.
        </p>
      </Alert>
    )
  }
  const finalStep = data.checkpoints.find((c) => c.final)
  return (
    <publish.Form method="POST" action={href} {...getFormProps(form)} className="flex flex-col gap-3">
      <p className="text-sm text-slate-600">
        Pushes the LoRA, a model card (base model, trigger word, settings, samples with their prompts, a usage snippet and the
        base model’s license) and the samples to a model repository of your Hugging Face account, created if missing. An existing
        repository keeps its visibility.
      </p>
      <Field
        label="Repository"
        hint="A name for your account, or owner/name for an organisation you may write to."
        errors={fields.repo.errors}
        inputProps={{ ...getInputProps(fields.repo, { type: 'text' }), autoComplete: 'off', spellCheck: false }}
      />
      <fieldset className="flex flex-col gap-1">
        <legend className="text-sm font-medium text-slate-800">Visibility</legend>
        <div className="flex flex-wrap gap-4 text-sm">
          {(['private', 'public'] as const).map((value) => (
            <label key={value} className="flex items-center gap-2">
              <input
                type="radio"
                name={fields.visibility.name}
                value={value}
                defaultChecked={(fields.visibility.initialValue ?? 'private') === value}
              />
              {value === 'private' ? 'Private (only you)' : 'Public (anyone)'}
            </label>
          ))}
        </div>
      </fieldset>
      {data.checkpoints.length > 1 ? (
        <div className="flex flex-col gap-1">
          <label htmlFor={fields.step.id} className="text-sm font-medium text-slate-800">
            File
          </label>
          <select
            {...getSelectProps(fields.step)}
            className="w-full rounded-md border border-slate-300 px-3 py-2 text-sm sm:w-auto"
            aria-invalid={fields.step.errors ? true : undefined}
            aria-describedby={fields.step.errors ? fields.step.errorId : undefined}
          >
            <option value="">The run’s LoRA (as its download)</option>
            {data.checkpoints.map((c) => (
              <option key={c.step} value={c.step}>
                Step {c.step.toLocaleString('en-US')}
                {c.final || c.step === finalStep?.step ? ' (final)' : ''}
                {c.chosen ? ' (chosen)' : ''}
              </option>
            ))}
          </select>
          {fields.step.errors ? (
            <p id={fields.step.errorId} className="text-sm text-red-600" role="alert">
              {fields.step.errors.join(' ')}
            </p>
          ) : null}
        </div>
      ) : null}
      <FormErrors id={form.errorId} errors={form.errors} />
      <div>
        <StatusButton status={publish.state !== 'idle' ? 'pending' : 'idle'} pendingText="Publishing…">
          Publish
        </StatusButton>
      </div>
    </publish.Form>
  )
}

function PublicationList({ publications }: { publications: PublishPanelData['publications'] }) {
  if (!publications.length) return <p className="text-sm text-slate-600">Not published yet.</p>
  return (
    <ul className="flex flex-col gap-3" aria-label="Publications" data-testid="publications">
      {publications.map((p) => (
        <li key={p.id} className="flex flex-col gap-1 rounded-md border border-slate-200 p-3 text-sm">
          <div className="flex flex-wrap items-center gap-2">
            <span className="break-all font-medium text-slate-900">{p.repo}</span>
            <Badge>{p.private ? 'private' : 'public'}</Badge>
            <span className="text-slate-600">
              {p.step === null ? 'the run’s LoRA' : `step ${p.step.toLocaleString('en-US')}`}
            </span>
            <Time at={p.createdAt} className="text-slate-500" />
          </div>
          {p.status === 'uploading' ? (
            <p className="flex items-center gap-2 text-slate-700" role="status">
              <Spinner /> Uploading to Hugging Face…
            </p>
          ) : p.status === 'published' ? (
            <p className="text-green-800" role="status">
              Published:{' '}
              <a href={p.repoUrl} className="link break-all" target="_blank" rel="noreferrer">
                open {p.repo} on Hugging Face
              </a>
              {p.url ? (
                <>
                  {' '}
                  (
                  <a href={p.url} className="link" target="_blank" rel="noreferrer">
                    the commit
                  </a>
                  )
                </>
              ) : null}
            </p>
          ) : (
            <p className="text-red-700">Failed: {p.error}</p>
          )}
        </li>
      ))}
    </ul>
  )
}
