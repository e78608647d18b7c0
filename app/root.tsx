import { json, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Link, Links, Meta, Outlet, Scripts, ScrollRestoration, useLoaderData, useNavigation } from '@remix-run/react'
import { GeneralErrorBoundary } from './components/error-boundary'
import { Header } from './components/header'
import { useTimeZone } from './components/time'
import { Toaster } from './components/toaster'
import tailwindHref from './tailwind.css'
import { getUserId, logout } from './utils/auth.server'
import { getEnv } from './utils/env.server'
import { useNonce } from './utils/nonce'
import { timeZoneFromCookieHeader, timeZoneScript } from './utils/time-zone'
import { getToast } from './utils/toast.server'
import { getRequestUserWithRoles } from './utils/user.server'

export const links: LinksFunction = () => [
  // The SVG where the browser takes it, the ICO (a 32 px PNG inside) where it does not; both served from public/.
  { rel: 'icon', href: '/favicon.ico', sizes: '32x32' },
  { rel: 'icon', href: '/favicon.svg', type: 'image/svg+xml' },
  { rel: 'apple-touch-icon', href: '/apple-touch-icon.png' },
  { rel: 'stylesheet', href: tailwindHref },
]

export const meta: MetaFunction = () => [{ title: 'Trainyard' }]

export async function loader({ request }: LoaderFunctionArgs) {
  const userId = await getUserId(request)
  const user = userId ? await getRequestUserWithRoles(request, userId) : null
  // A session whose user was deleted: log out instead of showing a half-logged-in page.
  if (userId && !user) throw await logout({ request })
  const { toast, headers } = await getToast(request)
  const env = getEnv()
  // The reader's zone for every date on the page (app/components/time.tsx); UTC until the browser says.
  const timeZone = timeZoneFromCookieHeader(request.headers.get('Cookie'))
  return json({ user, toast, githubEnabled: Boolean(env.GITHUB_CLIENT_ID), timeZone }, { headers: headers ?? undefined })
}

function Document({ children }: { children: React.ReactNode }) {
  const nonce = useNonce()
  const timeZone = useTimeZone()
  return (
    <html lang="en" className="h-full">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        {/* Here rather than in meta: a route's meta replaces the root's, and few routes repeat it. */}
        <meta name="description" content="Train LoRA image models on your own photos on rented GPUs." />
        {/* First in the head, before anything paints: a page rendered in another zone reloads at once.
            The zone in it passed parseTimeZone (letters, digits, _ + - /), so it cannot end the script. */}
        <script nonce={nonce} dangerouslySetInnerHTML={{ __html: timeZoneScript(timeZone) }} />
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
      <footer className="border-t border-slate-200 py-4 text-center text-sm text-slate-600">
        <Link to="/docs/api" className="hover:text-slate-900 hover:underline">
          API reference
        </Link>
      </footer>
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
