// The benchmarks run the production build (build/ and public/build/, shared with the tests). A
// development build (from `remix dev`) answers too, but renders slower and ships unminified JS with the
// hot-reload client, and a build older than app/ measures yesterday's code: either way, rebuild.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { repoRoot } from '../../tests/setup/paths'

const SERVER_BUILD = path.join(repoRoot, 'build', 'index.js')

/** The mode Remix wrote into the server build (`var mode = "production"`), or null without a build. */
export function buildMode() {
  if (!fs.existsSync(SERVER_BUILD)) return null
  return /\bmode = "(\w+)"/.exec(fs.readFileSync(SERVER_BUILD, 'utf8'))?.[1] ?? 'unknown'
}

/** The newest modification time of any file under `dir` that goes into the build (tests do not), in ms. */
function newestMtimeMs(dir: string): number {
  let newest = 0
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name)
    if (entry.isDirectory()) newest = Math.max(newest, newestMtimeMs(file))
    else if (!entry.name.includes('.test.')) newest = Math.max(newest, fs.statSync(file).mtimeMs)
  }
  return newest
}

export function ensureProductionBuild() {
  const mode = buildMode()
  const stale = mode !== null && newestMtimeMs(path.join(repoRoot, 'app')) > fs.statSync(SERVER_BUILD).mtimeMs
  if (mode === 'production' && !stale) return
  const why =
    mode === null
      ? 'No server build'
      : mode !== 'production'
        ? `The build in build/ is a ${mode} build`
        : 'app/ changed since the last build'
  process.stderr.write(`${why}: running \`npx remix build\`…\n`)
  // stdout to stderr: with --json, stdout carries the one JSON object only.
  const result = spawnSync('npx', ['remix', 'build'], { cwd: repoRoot, stdio: ['ignore', 2, 2] })
  if (result.status !== 0) throw new Error('remix build failed')
  if (buildMode() !== 'production') throw new Error('`npx remix build` did not leave a production build in build/')
}
