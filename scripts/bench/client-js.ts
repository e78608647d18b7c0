// How much JavaScript a browser downloads to show /trainings: every script the page's HTML names
// (<script src>, <link rel="modulepreload">, the imports of Remix's inline module script) and, from
// those files, every static import, followed to the end — the same closure the browser fetches before
// the page is interactive. Each file is gzipped at level 6, as the server's compression middleware sends
// it, and the sizes are summed. All of public/build/*.js (every route's chunks, which a visitor only
// fetches on navigating) is summed the same way, for reference.
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { repoRoot } from '../../tests/setup/paths'

/** compression()'s default, zlib's default. */
const GZIP_LEVEL = 6
const PUBLIC_DIR = path.join(repoRoot, 'public')
/** A safety bound on the closure; the app ships a few dozen files. */
const MAX_FILES = 1000

export type ClientJsFigures = {
  /** the files a browser fetches for /trainings, gzipped, summed */
  pageKbGzip: number
  pageKbRaw: number
  pageFiles: number
  /** every .js file under public/build, gzipped one by one, summed */
  allKbGzip: number
  allFiles: number
}

const gzipBytes = (content: Buffer) => zlib.gzipSync(content, { level: GZIP_LEVEL }).length

/** `/build/…js` URLs a piece of HTML or JS loads statically (not `import(…)`, which loads on demand). */
function staticImports(text: string, base: string) {
  const urls = new Set<string>()
  const patterns = [
    /<script\b[^>]*\bsrc="([^"]+\.js)"/g,
    /<link\b[^>]*\brel="modulepreload"[^>]*\bhref="([^"]+\.js)"/g,
    /<link\b[^>]*\bhref="([^"]+\.js)"[^>]*\brel="modulepreload"/g,
    // `import "x"`, `import * as a from "x"`, `export { b } from "x"` — minified or not.
    /\b(?:import|from)\s*["']([^"']+\.js)["']/g,
  ]
  for (const pattern of patterns) {
    for (const match of text.matchAll(pattern)) urls.add(new URL(match[1]!, base).pathname)
  }
  return urls
}

function fileOf(urlPath: string) {
  const file = path.join(PUBLIC_DIR, urlPath)
  if (!file.startsWith(PUBLIC_DIR + path.sep) || !fs.existsSync(file)) {
    throw new Error(`The page loads ${urlPath}, which is not in public/ (was the build replaced while the benchmark ran?)`)
  }
  return file
}

export function measureClientJs(pageHtml: string): ClientJsFigures {
  const seen = new Set<string>()
  const queue = [...staticImports(pageHtml, 'http://app/trainings')]
  let gzip = 0
  let raw = 0
  while (queue.length) {
    const url = queue.shift()!
    if (seen.has(url)) continue
    if (seen.size >= MAX_FILES)
      throw new Error(`More than ${MAX_FILES} scripts behind /trainings: the import scan has gone wrong`)
    seen.add(url)
    const content = fs.readFileSync(fileOf(url))
    gzip += gzipBytes(content)
    raw += content.length
    for (const next of staticImports(content.toString('utf8'), `http://app${url}`)) if (!seen.has(next)) queue.push(next)
  }
  if (!seen.size) throw new Error('The /trainings page names no script: the HTML is not what Remix renders')

  let allGzip = 0
  let allFiles = 0
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name)
      if (entry.isDirectory()) walk(file)
      else if (entry.name.endsWith('.js')) {
        allGzip += gzipBytes(fs.readFileSync(file))
        allFiles++
      }
    }
  }
  walk(path.join(PUBLIC_DIR, 'build'))
  return { pageKbGzip: gzip / 1024, pageKbRaw: raw / 1024, pageFiles: seen.size, allKbGzip: allGzip / 1024, allFiles }
}
