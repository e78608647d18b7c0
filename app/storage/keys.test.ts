// The layout of storage, as the keys the app builds; every builder refuses what would make a bad key.
import { expect, test } from 'vitest'
import {
  assertValidKey,
  imageKey,
  InvalidStorageKeyError,
  jobKey,
  machineFileKey,
  runKeyPrefix,
  sampleKey,
  weightsKey,
} from './keys'

test('each key the app builds, in its folder', () => {
  expect(imageKey('t1', 'i1', 'training', 'jpg')).toBe('trainings/t1/images/i1.jpg')
  expect(imageKey('t1', 'i1', 'original', 'png')).toBe('trainings/t1/images/i1.original.png')
  expect(imageKey('t1', 'i1', 'thumb', 'webp')).toBe('trainings/t1/images/i1.thumb.webp')
  expect(weightsKey('r1')).toBe('runs/r1/lora.safetensors')
  expect(sampleKey('r1', 3)).toBe('runs/r1/samples/3.jpg')
  expect(jobKey('r1')).toBe('runs/r1/job.json')
  for (const key of [weightsKey('r1'), sampleKey('r1', 0), jobKey('r1')]) expect(key.startsWith(runKeyPrefix('r1'))).toBe(true)
})

test('an id that would climb out of its folder or break the key is refused', () => {
  expect(() => imageKey('..', 'i1', 'training', 'jpg')).toThrow(InvalidStorageKeyError)
  expect(() => weightsKey('a/../b')).toThrow(InvalidStorageKeyError)
  expect(() => sampleKey('', 0)).toThrow(InvalidStorageKeyError)
  expect(() => assertValidKey('with space.jpg')).toThrow(InvalidStorageKeyError)
  expect(assertValidKey('a/b.c')).toBe('a/b.c')
})

test('a machine file is named by the SHA-256 of its content', () => {
  const sha = 'ab'.repeat(32)
  expect(machineFileKey(sha, 'trainyard_agent.py')).toBe(`machine-files/${sha}/trainyard_agent.py`)
  expect(() => machineFileKey('AB'.repeat(32), 'agent.py')).toThrow(InvalidStorageKeyError)
  expect(() => machineFileKey(sha.slice(1), 'agent.py')).toThrow(InvalidStorageKeyError)
  expect(() => machineFileKey(sha, 'a/agent.py')).toThrow(InvalidStorageKeyError)
  expect(() => machineFileKey(sha, '..')).toThrow(InvalidStorageKeyError)
})
