import { json, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Links, Meta, Outlet, Scripts, ScrollRestoration, useLoaderData, useNavigation } from '@remix-run/react'
import { GeneralErrorBoundary } from './components/error-boundary'
import { Header } from './components/header'
import { Toaster } from './components/toaster'
import tailwindHref from './tailwind.css'
import { getUserId, logout } from './utils/auth.server'
import { getEnv } from './utils/env.server'
import { useNonce } from './utils/nonce'
import { getToast } from './utils/toast.server'
import { getRequestUserWithRoles } from './utils/user.server'

export const links: LinksFunction = () => [{ rel: 'stylesheet', href: tailwindHref }]

export const meta: MetaFunction = () => [
  { title: 'Trainyard' },
  { name: 'description', content: 'Train LoRA image models on your own photos on rented GPUs.' },
]

export async function loader({ request }: LoaderFunctionArgs) {
  const userId = await getUserId(request)
  const user = userId ? await getRequestUserWithRoles(request, userId) : null
  // A session whose user was deleted: log out instead of showing a half-logged-in page.
  if (userId && !user) throw await logout({ request })
  const { toast, headers } = await getToast(request)
  const env = getEnv()
  return json({ user, toast, githubEnabled: Boolean(env.GITHUB_CLIENT_ID) }, { headers: headers ?? undefined })
}

function Document({ children }: { children: React.ReactNode }) {
  const nonce = useNonce()
  return (
    <html lang="en" className="h-full">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <Meta />
        <Links />
      </head>
      <body className="flex min-h-full flex-col bg-slate-50 text-slate-900">
        {children}
        <ScrollRestoration nonce={nonce} />
        <Scripts nonce={nonce} />
      </body>
    </html>
  )
}

function PageProgress() {
  const navigation = useNavigation()
  if (navigation.state === 'idle') return null
  return <div className="fixed inset-x-0 top-0 z-50 h-0.5 animate-pulse bg-brand-500" role="progressbar" aria-label="Loading" />
}

export default function App() {
  const data = useLoaderData<typeof loader>()
  return (
    <Document>
      <PageProgress />
      <Header />
      <main className="mx-auto w-full max-w-6xl flex-1 px-4 py-8">
        <Outlet />
      </main>
      <Toaster toast={data.toast} />
    </Document>
  )
}

export function ErrorBoundary() {
  return (
    <Document>
      <main className="mx-auto w-full max-w-6xl flex-1 px-4 py-8">
        <GeneralErrorBoundary />
      </main>
    </Document>
  )
}
