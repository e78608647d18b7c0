// Where the command line keeps the server's address and the token: one JSON file readable by its owner
// only, $XDG_CONFIG_HOME/trainyard/config.json (or ~/.config/trainyard/config.json). The environment
// (TRAINYARD_URL, TRAINYARD_TOKEN) and the --url/--token flags win over it, in that order.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { CliFailure, EXIT, UsageError } from './errors'

export type Credentials = { url: string; token: string }

export function configPath(env: NodeJS.ProcessEnv) {
  const base = env.XDG_CONFIG_HOME?.trim() || path.join(env.HOME?.trim() || os.homedir(), '.config')
  return path.join(base, 'trainyard', 'config.json')
}

/**
 * The server's base URL, from what a person types: `https://host`, `https://host/`, or the API's own
 * address `https://host/api/v1` all mean the same server. Only http and https.
 */
export function normalizeUrl(input: string) {
  let url: URL
  try {
    url = new URL(input.trim())
  } catch {
    throw new UsageError(`"${input}" is not a URL: give the server's address, e.g. https://trainyard.example.com`, 'login')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`The server's address must start with http:// or https:// (got ${url.protocol})`, 'login')
  }
  if (url.username || url.password) throw new UsageError('Put the token in --token, not in the URL.', 'login')
  const pathname = url.pathname.replace(/\/+$/, '').replace(/\/api\/v1$/, '')
  return `${url.origin}${pathname}`
}

/** True when a token would travel in the clear to another machine. */
export function isInsecureRemote(baseUrl: string) {
  const url = new URL(baseUrl)
  if (url.protocol === 'https:') return false
  return !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)
}

export function readConfig(env: NodeJS.ProcessEnv): Partial<Credentials> {
  const file = configPath(env)
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new CliFailure(`Could not read ${file}: ${(error as Error).message}`, EXIT.failed)
  }
  try {
    const data = JSON.parse(text) as Record<string, unknown>
    return {
      url: typeof data.url === 'string' ? data.url : undefined,
      token: typeof data.token === 'string' ? data.token : undefined,
    }
  } catch {
    throw new CliFailure(`${file} is not valid JSON: log in again with \`trainyard login\`, which rewrites it.`, EXIT.failed)
  }
}

/**
 * Writes the file with mode 0600 in a 0700 folder, whatever the umask: the token is a password. It is
 * written beside and renamed over the old one, so an interrupted login never leaves half a file.
 */
export function writeConfig(env: NodeJS.ProcessEnv, credentials: Credentials) {
  const file = configPath(env)
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
  const temporary = `${file}.${process.pid}.tmp`
  const fd = fs.openSync(temporary, 'w', 0o600)
  try {
    // openSync's mode is masked by the umask and ignored for a file that exists: set it explicitly.
    fs.fchmodSync(fd, 0o600)
    fs.writeFileSync(fd, `${JSON.stringify({ url: credentials.url, token: credentials.token }, null, 2)}\n`)
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(temporary, file)
  return file
}

/**
 * The credentials a command uses: flags, then the environment, then the file. The saved token goes to
 * the saved server only: with another URL (a flag, a variable left from another job) it must come with
 * its own token, or a token would be handed to a server it was not made for.
 */
export function resolveCredentials(env: NodeJS.ProcessEnv, flags: { url?: string; token?: string }): Credentials {
  const saved = readConfig(env)
  const givenUrl = flags.url ?? (env.TRAINYARD_URL || undefined)
  const givenToken = flags.token ?? (env.TRAINYARD_TOKEN || undefined)
  const url = givenUrl ?? saved.url
  const token = givenToken ?? saved.token
  if (!url || !token) {
    throw new CliFailure('Not logged in: run `trainyard login` (or set TRAINYARD_URL and TRAINYARD_TOKEN).', EXIT.auth)
  }
  const baseUrl = normalizeUrl(url)
  if (!givenToken && givenUrl && saved.url && normalizeUrl(saved.url) !== baseUrl) {
    throw new CliFailure(
      `The saved token is for ${normalizeUrl(saved.url)}, not ${baseUrl}: give its token too (--token or TRAINYARD_TOKEN), or log in to it.`,
      EXIT.auth,
    )
  }
  return { url: baseUrl, token: token.trim() }
}
