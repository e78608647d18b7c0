// setUserRoles under concurrency, as PostgreSQL runs it (SQLite runs transactions one at a time, so
// there the race cannot happen and the test only checks the outcome); and the role writes while another
// process writes to the same SQLite file.
import { spawn } from 'node:child_process'
import pg from 'pg'
import { expect, test, vi } from 'vitest'
import { prisma } from '~/utils/db.server'
import { createUser } from '../../../tests/db-utils'
import { deleteRole, setRolePermissions, setUserRoles } from './admin.server'

/**
 * Counts the pooled PostgreSQL connections taken and not given back. The Prisma pg adapter takes
 * connections from pg.Pool; a transaction whose COMMIT fails without a rollback never releases its
 * one, and after `max` of those every query waits forever.
 */
function trackPoolCheckouts() {
  let outstanding = 0
  const instrument = (client: pg.PoolClient) => {
    outstanding++
    const release = client.release.bind(client)
    client.release = (error?: Error | boolean) => {
      outstanding--
      client.release = release
      return release(error)
    }
    return client
  }
  const connect = pg.Pool.prototype.connect as (this: pg.Pool, ...args: unknown[]) => unknown
  vi.spyOn(pg.Pool.prototype, 'connect').mockImplementation(function (this: pg.Pool, ...args: unknown[]) {
    const callback = args[0]
    if (typeof callback === 'function') {
      return connect.call(this, (error: Error | undefined, client: pg.PoolClient, done: unknown) =>
        callback(error, client ? instrument(client) : client, done),
      )
    }
    return (connect.call(this) as Promise<pg.PoolClient>).then(instrument)
  } as typeof pg.Pool.prototype.connect)
  return () => outstanding
}

const ROUNDS = 30

test('two admins removing each other, again and again: one admin stays each time, and every connection is given back', async () => {
  const outstanding = trackPoolCheckouts()
  const a = await createUser({ roles: ['admin', 'user'] })
  const b = await createUser({ roles: ['admin', 'user'] })
  const userRole = await prisma.role.findUniqueOrThrow({ where: { name: 'user' }, select: { id: true } })
  for (let round = 0; round < ROUNDS; round++) {
    // Only these two are admins: each removing the other may leave exactly one.
    for (const user of await prisma.user.findMany({
      where: { id: { notIn: [a.id, b.id] }, roles: { some: { name: 'admin' } } },
    })) {
      await prisma.user.update({ where: { id: user.id }, data: { roles: { disconnect: { name: 'admin' } } } })
    }
    for (const id of [a.id, b.id]) {
      await prisma.user.update({ where: { id }, data: { roles: { connect: { name: 'admin' } } } })
    }
    const results = await Promise.all([setUserRoles(a.id, [userRole.id], b.id), setUserRoles(b.id, [userRole.id], a.id)])
    expect(results.map((r) => r.ok).sort()).toEqual([false, true])
    expect(await prisma.user.count({ where: { roles: { some: { name: 'admin' } } } })).toBe(1)
  }
  expect(outstanding()).toBe(0)
}, 60_000)

const isSqlite = process.env.DATABASE_URL?.startsWith('file:') ?? false

/**
 * Another process (Python's sqlite3, as a worker or a test process would be another connection) holds
 * the file's write lock for `seconds`; resolves once it has it, with the process's exit.
 */
async function holdWriteLock(seconds: number) {
  const file = process.env.DATABASE_URL!.replace(/^file:/, '').replace(/\?.*$/, '')
  const script = [
    'import sqlite3, sys, time',
    'c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)',
    'c.execute("BEGIN IMMEDIATE")',
    `c.execute("UPDATE Role SET description = 'held' WHERE id = 'role_user'")`,
    'print("locked", flush=True)',
    `time.sleep(${seconds})`,
    'c.execute("COMMIT")',
  ].join('\n')
  const child = spawn('python3', ['-c', script, file], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve())
    child.once('exit', (code) => reject(new Error(`the lock holder exited with ${code}`)))
  })
  // In an object: an async function returning the promise itself would wait for it.
  return { released: new Promise((resolve) => child.once('exit', resolve)) }
}

test.skipIf(!isSqlite)(
  "role writes wait for another process's write lock on SQLite instead of failing (they take it first)",
  async () => {
    const admin = await createUser({ roles: ['admin', 'user'] })
    const role = await prisma.role.create({ data: { name: `locked-${Date.now()}` } })
    // A transaction that read first would have to upgrade its lock while the other process writes:
    // SQLite refuses that at once ("Operation has timed out" from Prisma) rather than wait.
    let lock = await holdWriteLock(0.8)
    expect(await setRolePermissions(role.id, ['read:role:any'], admin.id)).toEqual({ ok: true })
    await lock.released
    lock = await holdWriteLock(0.8)
    expect(await deleteRole(role.id, admin.id)).toEqual({ ok: true })
    await lock.released
    expect(await prisma.role.count({ where: { id: role.id } })).toBe(0)
  },
)
