import { expect, test } from 'vitest'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../tests/db-utils'
import { createTraining } from '../../tests/image-fixtures'
import { loader } from './_index'

async function load(cookie?: string) {
  const res = await callRoute(() => loader({ request: makeRequest('/', { cookie }), ...ctx }))
  return (await res.json()) as { hasTrainings: boolean }
}

test('a new user is welcomed to a first training; one with a training of their own is welcomed back', async () => {
  const user = await createUser()
  const { cookie } = await createSessionCookie(user.id)
  expect(await load(cookie)).toEqual({ hasTrainings: false })
  // Someone else's training is not theirs.
  await createTraining((await createUser()).id)
  expect(await load(cookie)).toEqual({ hasTrainings: false })
  await createTraining(user.id)
  expect(await load(cookie)).toEqual({ hasTrainings: true })
})

test('a visitor has no trainings to be welcomed back to', async () => {
  expect(await load()).toEqual({ hasTrainings: false })
})
