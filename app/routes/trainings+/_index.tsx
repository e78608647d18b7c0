// /trainings: the person's own trainings, newest activity first (an upload or a save touches
// updatedAt), 20 to a page, each with its image count and the state of its last run. Whoever may
// read any training (admins) can switch to everyone's with ?scope=all.
import { json, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Link, useLoaderData } from '@remix-run/react'
import { z } from 'zod'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { Pagination } from '~/components/pagination'
import { RunStatusBadge } from '~/components/run-status-badge'
import { parseBaseModel } from '~/trainings/base-models'
import { prisma } from '~/utils/db.server'
import { Badge } from '~/components/ui/badge'
import { buttonVariants } from '~/components/ui/button'
import { cn } from '~/components/ui/cn'
import { userHasPermission } from '~/utils/permissions'
import { requireUserAccess } from '~/utils/permissions.server'
import { useUser } from '~/utils/user'
import { PageNumberSchema } from '~/utils/pagination'

export const meta: MetaFunction = () => [{ title: 'Trainings · Trainyard' }]

const TRAININGS_PER_PAGE = 20

// Query strings come from links people edit by hand: nonsense shows page 1 of their own trainings.
const SearchParamsSchema = z.object({
  scope: z.enum(['mine', 'all']).catch('mine'),
  page: PageNumberSchema,
})

/**
 * Images per training, for the trainings on the page only. Not Prisma's `_count` in the page query: that
 * joins a GROUP BY over every image in the database (`WHERE 1=1`), whose cost grows with everyone's
 * images (3.5 ms of a 20 ms page at 30,000 images, npm run bench); this reads the page's own through the
 * (trainingId, createdAt) index.
 */
async function imageCountsOf(trainingIds: string[]) {
  const rows = await prisma.trainingImage.groupBy({
    by: ['trainingId'],
    where: { trainingId: { in: trainingIds } },
    _count: { _all: true },
  })
  return new Map(rows.map((row) => [row.trainingId, row._count._all]))
}

export async function loader({ request }: LoaderFunctionArgs) {
  // From the user the root loader reads for this same request: may they list their own (else 403), and
  // may they see everyone's?
  const { userId, hasAny: canSeeAll } = await requireUserAccess(request, 'read', 'training')
  const url = new URL(request.url)
  const params = SearchParamsSchema.parse({
    scope: url.searchParams.get('scope') ?? 'mine',
    page: url.searchParams.get('page') ?? '1',
  })
  // Asking for everyone's without the permission quietly shows one's own: nothing to reveal or explain.
  const scope = params.scope === 'all' && canSeeAll ? 'all' : 'mine'
  const where = scope === 'all' ? {} : { ownerId: userId }
  const pageOf = (page: number) =>
    prisma.training.findMany({
      where,
      orderBy: [{ updatedAt: 'desc' }, { id: 'asc' }],
      skip: (page - 1) * TRAININGS_PER_PAGE,
      take: TRAININGS_PER_PAGE,
      select: {
        id: true,
        name: true,
        triggerWord: true,
        baseModel: true,
        updatedAt: true,
        ownerId: true,
        // Owners are shown only in the "all" view: no join otherwise.
        ...(scope === 'all' ? { owner: { select: { email: true } } } : {}),
        // The newest run: Prisma loads the runs of the page's trainings in one more query and keeps the
        // first of each (a few runs per training in practice).
        // (a caption job is no run of the training's model).
        runs: { where: { kind: 'train' }, select: { status: true }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: 1 },
      },
    })
  // The count and the asked-for page together; a page past the end (rare) is asked again as the last.
  const [total, asked] = await Promise.all([prisma.training.count({ where }), pageOf(params.page)])
  const pages = Math.max(1, Math.ceil(total / TRAININGS_PER_PAGE))
  const page = Math.min(params.page, pages)
  const trainings = page === params.page ? asked : await pageOf(page)
  const ids = trainings.map((t) => t.id)
  const imageCounts = await imageCountsOf(ids)
  return json({
    scope,
    canSeeAll,
    page,
    pages,
    total,
    from: total ? (page - 1) * TRAININGS_PER_PAGE + 1 : 0,
    to: (page - 1) * TRAININGS_PER_PAGE + trainings.length,
    trainings: trainings.map((t) => ({
      id: t.id,
      name: t.name,
      triggerWord: t.triggerWord,
      baseModel: parseBaseModel(t.baseModel)?.label ?? 'Unknown model',
      updatedAt: t.updatedAt,
      imageCount: imageCounts.get(t.id) ?? 0,
      lastRun: t.runs[0] ? { status: t.runs[0].status } : null,
      // Shown only in the "all" view, where trainings of several people are mixed.
      ownerEmail: scope === 'all' && t.ownerId !== userId ? (t.owner?.email ?? null) : null,
    })),
  })
}

const numbers = new Intl.NumberFormat('en-US')
const pluralRules = new Intl.PluralRules('en-US')
/** "1 image", "12 images", "1,200 images". */
const imageCount = (n: number) => `${numbers.format(n)} ${pluralRules.select(n) === 'one' ? 'image' : 'images'}`

function pageHref(scope: string, page: number) {
  const params = new URLSearchParams()
  if (scope === 'all') params.set('scope', 'all')
  if (page > 1) params.set('page', String(page))
  const search = params.toString()
  return search ? `/trainings?${search}` : '/trainings'
}

const EMPTY_STEPS = [
  { title: 'Create a training', text: 'Give it a name and a trigger word, choose a base model and a preset.' },
  { title: 'Add images', text: 'Upload 5 to 200 photos of your subject and write a caption for each.' },
  { title: 'Start a run', text: 'We rent a GPU for the run and hand you the LoRA file when it is done.' },
]

export default function Trainings() {
  const data = useLoaderData<typeof loader>()
  const user = useUser()
  const canCreate = userHasPermission(user, 'create:training:own')
  return (
    <div className="flex flex-col gap-6">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <h1 className="text-2xl font-bold">Trainings</h1>
        {canCreate && data.total > 0 ? (
          <Link to="/trainings/new" className={buttonVariants()}>
            New training
          </Link>
        ) : null}
      </div>

      {data.canSeeAll ? (
        <nav aria-label="Whose trainings" className="flex gap-1">
          {(['mine', 'all'] as const).map((scope) => (
            <Link
              key={scope}
              to={pageHref(scope, 1)}
              aria-current={data.scope === scope ? 'page' : undefined}
              className={cn(
                'rounded-md px-3 py-1.5 text-sm font-medium',
                data.scope === scope ? 'bg-slate-900 text-white' : 'text-slate-600 hover:bg-slate-100',
              )}
            >
              {scope === 'mine' ? 'My trainings' : 'All trainings'}
            </Link>
          ))}
        </nav>
      ) : null}

      {data.total === 0 ? (
        data.scope === 'all' ? (
          <p className="card text-center text-slate-600">Nobody has created a training yet.</p>
        ) : (
          <EmptyState canCreate={canCreate} />
        )
      ) : (
        <>
          <p className="text-sm text-slate-600" aria-live="polite">
            Showing {data.from}–{data.to} of {data.total}
          </p>
          <ul className="grid gap-3 sm:grid-cols-2">
            {data.trainings.map((t) => {
              return (
                <li key={t.id}>
                  <Link to={`/trainings/${t.id}`} className="card flex h-full flex-col gap-2 hover:border-brand-500">
                    <div className="flex items-start justify-between gap-2">
                      <h2 className="min-w-0 break-words text-lg font-semibold text-slate-900">{t.name}</h2>
                      {t.lastRun ? <RunStatusBadge status={t.lastRun.status} prefix="Last run:" /> : <Badge>No runs yet</Badge>}
                    </div>
                    <p className="text-sm text-slate-600">
                      <code className="rounded bg-slate-100 px-1">{t.triggerWord}</code> · {t.baseModel} ·{' '}
                      {imageCount(t.imageCount)}
                    </p>
                    <p className="mt-auto text-xs text-slate-500">
                      {/* ISO date: the same on the server and in every browser, so hydration matches. */}
                      Updated {t.updatedAt.slice(0, 10)}
                      {t.ownerEmail ? ` · ${t.ownerEmail}` : ''}
                    </p>
                  </Link>
                </li>
              )
            })}
          </ul>
          {data.pages > 1 ? (
            <Pagination page={data.page} pages={data.pages} hrefFor={(page) => pageHref(data.scope, page)} />
          ) : null}
        </>
      )}
    </div>
  )
}

function EmptyState({ canCreate }: { canCreate: boolean }) {
  return (
    <section className="card flex flex-col gap-6" aria-labelledby="empty-heading">
      <div>
        <h2 id="empty-heading" className="text-lg font-semibold">
          You have no trainings yet
        </h2>
        <p className="mt-1 text-slate-600">A training is everything a run needs. It takes three steps:</p>
      </div>
      <ol className="grid gap-4 sm:grid-cols-3">
        {EMPTY_STEPS.map((step, i) => (
          <li key={step.title} className="rounded-md bg-slate-50 p-4">
            <p className="text-sm font-semibold text-brand-600">Step {i + 1}</p>
            <h3 className="mt-1 font-semibold">{step.title}</h3>
            <p className="mt-1 text-sm text-slate-600">{step.text}</p>
          </li>
        ))}
      </ol>
      {canCreate ? (
        <div>
          <Link to="/trainings/new" className={buttonVariants()}>
            Create a training
          </Link>
        </div>
      ) : (
        <p className="text-sm text-slate-600">Your account may not create trainings; ask an admin.</p>
      )}
    </section>
  )
}

export function ErrorBoundary() {
  return (
    <GeneralErrorBoundary
      statusHandlers={{
        403: () => <p>Your account may not see trainings; ask an admin.</p>,
      }}
    />
  )
}
