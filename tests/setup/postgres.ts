// A throwaway PostgreSQL cluster for the tests and the benchmark: Debian's server binaries
// (scripts/ensure-postgres.sh installs them), a data folder under the OS temp folder, 127.0.0.1 on a
// free port, durability off (fsync, synchronous_commit, full_page_writes) because nothing here must
// survive a crash. initdb refuses to run as root: as root the cluster runs as the `postgres` user.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { freePort } from '../app-process'

export type PostgresCluster = {
  /** postgresql://…/postgres — the maintenance database, for CREATE/DROP DATABASE */
  adminUrl: string
  port: number
  /** The URL of database `name` in this cluster. */
  urlFor: (name: string) => string
  stop: () => void
}

const START_TIMEOUT_S = 60
const USER = 'trainyard'

function binDir() {
  const base = '/usr/lib/postgresql'
  const versions = fs.existsSync(base)
    ? fs
        .readdirSync(base)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : []
  for (const version of versions) {
    const dir = path.join(base, version, 'bin')
    if (fs.existsSync(path.join(dir, 'initdb'))) return dir
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' })
  if (which.status === 0 && which.stdout.trim()) return path.dirname(which.stdout.trim())
  throw new Error("PostgreSQL server binaries not found: run scripts/ensure-postgres.sh (installs Debian's postgresql)")
}

const asRoot = process.getuid?.() === 0

/** Runs a PostgreSQL binary, as `postgres` when we are root. Throws with its output when it fails. */
function run(bin: string, args: string[]) {
  const command = asRoot ? 'runuser' : bin
  const argv = asRoot ? ['-u', 'postgres', '--', bin, ...args] : args
  const result = spawnSync(command, argv, { encoding: 'utf8', cwd: os.tmpdir() })
  if (result.status !== 0) throw new Error(`${path.basename(bin)} failed (${result.status}):\n${result.stdout}\n${result.stderr}`)
  return result.stdout
}

/** Starts a new cluster; `stop()` stops it and removes its folder. */
export async function startPostgresCluster(): Promise<PostgresCluster> {
  const bin = binDir()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trainyard-pg-'))
  const data = path.join(dir, 'data')
  if (asRoot) spawnSync('chown', ['-R', 'postgres:postgres', dir])
  const port = await freePort()
  run(path.join(bin, 'initdb'), ['-D', data, '-U', USER, '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'])
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=300',
  ].join(' ')
  run(path.join(bin, 'pg_ctl'), [
    '-D',
    data,
    '-o',
    options,
    '-l',
    path.join(dir, 'server.log'),
    '-w',
    '-t',
    String(START_TIMEOUT_S),
    'start',
  ])
  const urlFor = (name: string) => `postgresql://${USER}@127.0.0.1:${port}/${name}`
  let stopped = false
  return {
    adminUrl: urlFor('postgres'),
    port,
    urlFor,
    stop() {
      if (stopped) return
      stopped = true
      try {
        run(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'])
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}

/** Database names the tests make are [a-z0-9_]: never quoted user input. */
function assertName(name: string) {
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) throw new Error(`bad database name ${JSON.stringify(name)}`)
  return name
}

export async function createDatabase(adminUrl: string, name: string, { template }: { template?: string } = {}) {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    await client.query(`CREATE DATABASE ${assertName(name)}${template ? ` TEMPLATE ${assertName(template)}` : ''}`)
  } finally {
    await client.end()
  }
}

export async function dropDatabase(adminUrl: string, name: string) {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    await client.query(`DROP DATABASE IF EXISTS ${assertName(name)} WITH (FORCE)`)
  } finally {
    await client.end()
  }
}
