// Finding the route modules, turning a file name into its URL, and naming what an answer means.
import { defineRoutes } from '@remix-run/dev/dist/config/routes.js'
import path from 'node:path'
import { repoRoot } from '../setup/paths'

export const ROUTES_DIR = path.join(repoRoot, 'app', 'routes')

export const EXPORTS = ['loader', 'action'] as const
export type RouteExport = (typeof EXPORTS)[number]

type ManifestRoute = { id: string; parentId?: string; path?: string; index?: boolean; file: string }

/**
 * The routes as Remix itself builds them from remix.config.js (remix-flat-routes and its ignore
 * rules), so the matrix covers exactly what the server can run, whatever the file layout: a file
 * Remix ignores (a test, a *.server.ts helper) is not a route, and a new route cannot hide.
 */
async function loadManifest(): Promise<Map<string, ManifestRoute>> {
  const config = (await import(path.join(repoRoot, 'remix.config.js'))) as {
    default: { routes: (define: typeof defineRoutes) => Promise<Record<string, ManifestRoute>> }
  }
  const cwd = process.cwd()
  // remix-flat-routes reads the app folder relative to the working directory, as `remix build` does.
  process.chdir(repoRoot)
  try {
    const routes = await config.default.routes(defineRoutes)
    return new Map(Object.values(routes).map((route) => [route.file.replace(/^routes\//, ''), route]))
  } finally {
    process.chdir(cwd)
  }
}

const manifest = await loadManifest()
const byId = new Map([...manifest.values()].map((route) => [route.id, route]))

/** Route module files relative to app/routes (`trainings+/$trainingId+/runs.$runId.tsx`), sorted. */
export function discoverRouteFiles() {
  return [...manifest.keys()].sort()
}

/** The row key of an export: `trainings+/$trainingId+/runs.$runId.tsx:loader`. */
export function rowKey(file: string, fn: RouteExport) {
  return `${file}:${fn}`
}

/** The route's URL pattern, its parents' paths joined: `trainings/:trainingId/runs/:runId`. */
function patternOf(file: string) {
  const route = manifest.get(file)
  if (!route) throw new Error(`${file} is not a route Remix knows`)
  const parts: string[] = []
  for (let r: ManifestRoute | undefined = route; r; r = r.parentId ? byId.get(r.parentId) : undefined) {
    if (r.path) parts.unshift(r.path)
  }
  return parts.join('/').split('/').filter(Boolean)
}

/** The URL path of a route file with its params filled in (`*` is the splat). */
export function routePath(file: string, params: Record<string, string>) {
  const segments = patternOf(file).map((segment) => {
    if (segment === '*') return params['*'] ?? ''
    if (segment.startsWith(':')) return encodeURIComponent(params[segment.slice(1).replace(/\?$/, '')] ?? '')
    return segment
  })
  return `/${segments.join('/')}`
}

/** The params a route file takes, by name (`*` for the splat). */
export function routeParamNames(file: string) {
  return patternOf(file)
    .filter((segment) => segment === '*' || segment.startsWith(':'))
    .map((segment) => (segment === '*' ? '*' : segment.slice(1).replace(/\?$/, '')))
}

/**
 * What an answer means to the matrix: `login` (a redirect to /login…), `ok` (2xx), `redirect:/path`
 * (any other redirect, by path), or the status code of anything else (`404`, `403`, `400`, `405`…).
 */
export function classify(response: Response) {
  if (response.status >= 300 && response.status < 400) {
    const location = response.headers.get('location') ?? ''
    const pathname = new URL(location, 'http://localhost').pathname
    return pathname === '/login' ? 'login' : `redirect:${pathname}`
  }
  if (response.status >= 200 && response.status < 300) return 'ok'
  return String(response.status)
}

/** An expected `ok` accepts 2xx and a redirect anywhere but the login page. */
export function matches(expected: string, actual: string) {
  return expected === actual || (expected === 'ok' && actual.startsWith('redirect:'))
}

/** Answers that refuse: nothing may have changed after one of these. */
export function isRefusal(outcome: string) {
  return outcome === 'login' || /^4\d\d$/.test(outcome)
}
