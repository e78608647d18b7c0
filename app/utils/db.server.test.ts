import { expect, test } from 'vitest'
import { isSerializationFailure, isUniqueViolation, likeContainsPattern } from './db.server'

/** What @prisma/adapter-pg throws when PostgreSQL refuses a COMMIT with 40001 (its DriverAdapterError). */
function writeConflictAtCommit() {
  const error = new Error('TransactionWriteConflict')
  error.name = 'DriverAdapterError'
  error.cause = { kind: 'TransactionWriteConflict' }
  return error
}

test('a serialization failure is recognised inside the transaction (P2034) and at COMMIT (the adapter’s own error)', () => {
  expect(isSerializationFailure(Object.assign(new Error('conflict'), { code: 'P2034' }))).toBe(true)
  // Two admins removing each other at once on PostgreSQL failed this way instead of being retried.
  expect(isSerializationFailure(writeConflictAtCommit())).toBe(true)
  const otherAdapterError = Object.assign(new Error('UniqueConstraintViolation'), {
    name: 'DriverAdapterError',
    cause: { kind: 'UniqueConstraintViolation' },
  })
  expect(isSerializationFailure(otherAdapterError)).toBe(false)
  expect(isSerializationFailure(new Error('TransactionWriteConflict'))).toBe(false)
  expect(isSerializationFailure(null)).toBe(false)
  expect(isUniqueViolation(Object.assign(new Error('dup'), { code: 'P2002' }))).toBe(true)
})

test("likeContainsPattern escapes LIKE's wildcards and its escape character", () => {
  expect(likeContainsPattern('ada')).toBe('%ada%')
  expect(likeContainsPattern('a_b%c\\d')).toBe('%a\\_b\\%c\\\\d%')
  expect(likeContainsPattern('')).toBe('%%')
})
