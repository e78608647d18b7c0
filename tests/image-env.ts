// Import this FIRST in a test file that stores images: it gives the file a storage folder and a
// temp folder of its own (before any app module reads the environment, which is cached on first
// read), and removes both when the file is done.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll } from 'vitest'
import { tmpDir } from './setup/paths'

const id = crypto.randomBytes(4).toString('hex')
const saved = { STORAGE_DIR: process.env.STORAGE_DIR, TMPDIR: process.env.TMPDIR }

export const imageTestDirs = {
  storage: path.join(tmpDir, `storage-${id}`),
  /** os.tmpdir() follows TMPDIR: upload temp files land here, so a test can see none is left. */
  tmp: path.join(tmpDir, `tmp-${id}`),
}
process.env.STORAGE_DIR = imageTestDirs.storage
process.env.TMPDIR = imageTestDirs.tmp
fs.mkdirSync(imageTestDirs.tmp, { recursive: true })

afterAll(() => {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key]
    else process.env[key] = value
  }
  fs.rmSync(imageTestDirs.storage, { recursive: true, force: true })
  fs.rmSync(imageTestDirs.tmp, { recursive: true, force: true })
})
