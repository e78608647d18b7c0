// setUserRoles under concurrency, as PostgreSQL runs it (SQLite runs transactions one at a time, so
// there the race cannot happen and the test only checks the outcome).
import pg from 'pg'
import { expect, test, vi } from 'vitest'
import { prisma } from '~/utils/db.server'
import { createUser } from '../../../tests/db-utils'
import { setUserRoles } from './admin.server'

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
