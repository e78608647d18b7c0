// The home page: what Trainyard does, and a way in. A person who has not made a training yet (just
// signed up, say) is welcomed to their first one; one who has is welcomed back to their trainings.
import { json, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Link, useLoaderData } from '@remix-run/react'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { buttonVariants } from '~/components/ui/button'
import { Card } from '~/components/ui/card'
import { getUserId } from '~/utils/auth.server'
import { prisma } from '~/utils/db.server'
import { useOptionalUser } from '~/utils/user'

export const meta: MetaFunction = () => [{ title: 'Trainyard · train LoRA models on your photos' }]

export async function loader({ request }: LoaderFunctionArgs) {
  const userId = await getUserId(request)
  // Only the person's own trainings count: one shared with them is not their first step done.
  const hasTrainings = userId ? (await prisma.training.count({ where: { ownerId: userId } })) > 0 : false
  return json({ hasTrainings })
}

const STEPS = [
  { title: 'Create a training', text: 'Name it, pick a trigger word and a base model: FLUX.1, SDXL or SD 1.5.' },
  { title: 'Add your photos', text: 'Upload 5 to 200 images and caption them. We resize and clean them for you.' },
  { title: 'Start a run', text: 'We rent one GPU, train, and hand you a .safetensors LoRA file to download.' },
]

export default function Index() {
  const user = useOptionalUser()
  const { hasTrainings } = useLoaderData<typeof loader>()
  return (
    <div className="flex flex-col gap-12">
      <section className="flex flex-col items-start gap-6 py-8 sm:py-16">
        <h1 className="max-w-3xl text-4xl font-bold tracking-tight text-slate-900 sm:text-5xl">
          Train a LoRA image model on your own photos.
        </h1>
        <p className="max-w-2xl text-lg text-slate-600">
          Trainyard prepares your dataset, rents a GPU for exactly one run, watches it train, and shuts it down when it is done.
        </p>
        {user && !hasTrainings ? (
          <div className="flex flex-col items-start gap-3">
            <h2 className="text-xl font-semibold text-slate-900">Welcome to Trainyard, {user.name ?? user.email}!</h2>
            <p className="max-w-2xl text-slate-700">
              Your first LoRA is three steps away: create a training, add 5 or more photos of your subject, and start a run.
            </p>
            <Link to="/trainings/new" className={buttonVariants()}>
              Create your first training
            </Link>
          </div>
        ) : user ? (
          <div className="flex flex-col items-start gap-3">
            <p className="text-slate-700">
              Welcome back, <strong>{user.name ?? user.email}</strong>.
            </p>
            <Link to="/trainings" className={buttonVariants()}>
              Go to your trainings
            </Link>
          </div>
        ) : (
          <div className="flex flex-wrap gap-3">
            <Link to="/signup" className={buttonVariants()}>
              Create an account
            </Link>
            <Link to="/login" className={buttonVariants({ variant: 'secondary' })}>
              Log in
            </Link>
          </div>
        )}
      </section>
      <section className="grid gap-4 sm:grid-cols-3">
        {STEPS.map((step, i) => (
          <Card key={step.title}>
            <p className="text-sm font-semibold text-brand-600">Step {i + 1}</p>
            <h2 className="mt-1 text-lg font-semibold">{step.title}</h2>
            <p className="mt-2 text-sm text-slate-600">{step.text}</p>
          </Card>
        ))}
      </section>
    </div>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
