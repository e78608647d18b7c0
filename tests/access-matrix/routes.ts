// Finding the route modules, turning a file name into its URL, and naming what an answer means.
import fs from 'node:fs'
import path from 'node:path'
import { repoRoot } from '../setup/paths'

export const ROUTES_DIR = path.join(repoRoot, 'app', 'routes')

export const EXPORTS = ['loader', 'action'] as const
export type RouteExport = (typeof EXPORTS)[number]

/** Route module files relative to app/routes: flat files, and `folder/route.tsx` of folder routes. */
export function discoverRouteFiles(dir = ROUTES_DIR) {
  const files: string[] = []
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      // Remix v2 flat routes: a folder is one route whose module is its route.tsx (or .ts/.jsx/.js).
      const module = ['route.tsx', 'route.ts', 'route.jsx', 'route.js'].find((name) => fs.existsSync(path.join(dir, entry.name, name)))
      if (module) files.push(`${entry.name}/${module}`)
    } else if (isRouteModule(entry.name)) {
      files.push(entry.name)
    }
  }
  return files.sort()
}

function isRouteModule(name: string) {
  // Tests and server-only helpers sit beside the routes; Remix does not treat *.server.* as routes either.
  return /\.(tsx|ts|jsx|js)$/.test(name) && !/\.test\.[jt]sx?$/.test(name) && !/\.server\.[jt]sx?$/.test(name)
}

/** The row key of an export: `trainings.$trainingId.runs.$runId.tsx:loader`. */
export function rowKey(file: string, fn: RouteExport) {
  return `${file}:${fn}`
}

/**
 * The URL path of a route file with its params filled in, by Remix's flat-route rules: `.` separates
 * segments, `_index` is the index, a leading `_` is a pathless layout, a trailing `_` only opts out of
 * the parent layout, `$name` is a param and a lone `$` the splat. (No `[.]` escapes are in use.)
 */
export function routePath(file: string, params: Record<string, string>) {
  const id = file.replace(/\/route\.[jt]sx?$/, '').replace(/\.[jt]sx?$/, '')
  const segments: string[] = []
  for (const raw of id.split('.')) {
    if (raw === '_index' || raw.startsWith('_')) continue
    const segment = raw.endsWith('_') ? raw.slice(0, -1) : raw
    if (segment === '$') segments.push(params['*'] ?? '')
    else if (segment.startsWith('$')) segments.push(encodeURIComponent(params[segment.slice(1)] ?? ''))
    else segments.push(segment)
  }
  return `/${segments.join('/')}`
}

/** The params a route file takes, by name (`*` for the splat). */
export function routeParamNames(file: string) {
  const id = file.replace(/\/route\.[jt]sx?$/, '').replace(/\.[jt]sx?$/, '')
  return id
    .split('.')
    .filter((segment) => segment.startsWith('$'))
    .map((segment) => (segment === '$' ? '*' : segment.slice(1).replace(/_$/, '')))
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
