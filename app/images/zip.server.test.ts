// Zip archives in an upload, through the real upload route: real multipart bodies, archives made
// with yazl and edited by hand into the bad ones, real sharp, the local storage driver in a folder of
// this file's own. Each bad entry is refused by its name and the good entries beside it are kept.
import { imageTestDirs as dirs } from '../../tests/image-env'
import fs from 'node:fs/promises'
import path from 'node:path'
import { afterAll, describe, expect, test, vi } from 'vitest'
import { prisma } from '~/utils/db.server'
import type { UploadResponse } from '~/images/pipeline.server'
import { callRoute, createSessionCookie, createUser, ctx } from '../../tests/db-utils'
import { createTraining, makeJpeg, makePng, multipartBody, MULTIPART_CONTENT_TYPE } from '../../tests/image-fixtures'
import { breakCentralHeader, declareUncompressedSize, makeZip, markEncrypted, renameEntry } from '../../tests/zip-fixtures'
import { action } from '~/routes/resources+/trainings.$trainingId.images'
import { imageMessages } from './processing.server'
import { uploadMessages } from './upload-stream.server'
import { readArchive, zipMessages } from './zip.server'

// Small limits so the tests can cross them: 0.5 MB per file, 6 images, so 3 MB per upload.
const saved = vi.hoisted(() => {
  const saved = {
    UPLOAD_MAX_FILE_MB: process.env.UPLOAD_MAX_FILE_MB,
    MAX_IMAGES_PER_TRAINING: process.env.MAX_IMAGES_PER_TRAINING,
  }
  process.env.UPLOAD_MAX_FILE_MB = '0.5'
  process.env.MAX_IMAGES_PER_TRAINING = '6'
  return saved
})

afterAll(() => {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key]
    else process.env[key] = value
  }
})

const url = (trainingId: string) => `http://localhost/resources/trainings/${trainingId}/images`

async function send(trainingId: string, request: Request) {
  const response = await callRoute(() => action({ request, params: { trainingId }, context: ctx.context }))
  return { status: response.status, body: (await response.json()) as UploadResponse }
}

function upload(trainingId: string, cookie: string, files: Array<{ name: string; content: Buffer }>) {
  const form = new FormData()
  for (const file of files) form.append('files', new Blob([new Uint8Array(file.content)]), file.name)
  return send(trainingId, new Request(url(trainingId), { method: 'POST', body: form, headers: { cookie } }))
}

async function setup() {
  const user = await createUser()
  const { cookie } = await createSessionCookie(user.id)
  const training = await createTraining(user.id, { resolutionPx: 256 })
  return { user, cookie, training }
}

async function rowsOf(trainingId: string) {
  return prisma.trainingImage.findMany({
    where: { trainingId },
    orderBy: { createdAt: 'asc' },
    select: { name: true, text: true },
  })
}

async function expectNoTempFiles() {
  expect(await fs.readdir(dirs.tmp)).toEqual([])
}

/** Results as [name, ok or the error] pairs: easy to read in a failing test. */
function verdicts(body: UploadResponse) {
  return body.results.map((r) => [r.name, r.ok ? 'ok' : r.error])
}

describe('zip upload: good archives', () => {
  test('images with .txt captions beside them (either order, in folders) are stored with their captions; OS files are skipped', async () => {
    const { cookie, training } = await setup()
    const zip = await makeZip([
      { name: 'set/a.jpg', content: await makeJpeg({ seed: 1 }) },
      { name: 'set/a.txt', content: '\uFEFF  photo of [trigger], smiling \n' },
      // The caption before its image.
      { name: 'set/b.txt', content: 'photo of [trigger] in a café' },
      { name: 'set/b.png', content: await makePng({ seed: 2 }) },
      { name: 'c.jpg', content: await makeJpeg({ seed: 3 }) },
      { name: '__MACOSX/set/._a.jpg', content: 'resource fork' },
      { name: 'set/.DS_Store', content: 'finder' },
      { name: 'Thumbs.db', content: 'windows' },
      { name: 'empty-folder/', content: '' },
    ])
    const { status, body } = await upload(training.id, cookie, [
      { name: 'single.jpg', content: await makeJpeg({ seed: 4 }) },
      { name: 'dataset.zip', content: zip },
    ])
    expect(status).toBe(200)
    expect(body.error).toBeUndefined()
    expect(verdicts(body)).toEqual([
      ['single.jpg', 'ok'],
      ['dataset.zip › set/a.jpg', 'ok'],
      ['dataset.zip › set/b.png', 'ok'],
      ['dataset.zip › c.jpg', 'ok'],
    ])
    expect(body.results.map((r) => (r.ok ? r.image.caption : null))).toEqual([
      null,
      'photo of [trigger], smiling',
      'photo of [trigger] in a café',
      null,
    ])
    expect(await rowsOf(training.id)).toEqual([
      { name: 'single.jpg', text: null },
      { name: 'a.jpg', text: 'photo of [trigger], smiling' },
      { name: 'b.png', text: 'photo of [trigger] in a café' },
      { name: 'c.jpg', text: null },
    ])
    await expectNoTempFiles()
  })

  test('the same image twice in an archive is flagged as a duplicate, as in a single upload; the dataset maximum holds', async () => {
    const { cookie, training } = await setup()
    const same = await makeJpeg({ seed: 7 })
    // Seven images: the 7th is over the maximum of 6.
    const full = await makeZip([
      { name: 'one.jpg', content: same },
      { name: 'two.jpg', content: same },
      ...(await Promise.all(
        [10, 11, 12, 13, 14].map(async (seed) => ({ name: `more-${seed}.jpg`, content: await makeJpeg({ seed }) })),
      )),
    ])
    const { body } = await upload(training.id, cookie, [{ name: 'd.zip', content: full }])
    expect(body.results[1]).toMatchObject({
      name: 'd.zip › two.jpg',
      ok: true,
      warnings: ['Duplicate: the same image as one.jpg in this upload.'],
    })
    expect(verdicts(body).at(-1)).toEqual(['d.zip › more-14.jpg', uploadMessages.overCount(6)])
    expect(await prisma.trainingImage.count({ where: { trainingId: training.id } })).toBe(6)
    await expectNoTempFiles()
  })
})

describe('zip upload: bad entries are refused by name, the good ones kept', () => {
  test('absolute, climbing and backslash names', async () => {
    const { cookie, training } = await setup()
    const jpeg = (seed: number) => makeJpeg({ seed })
    let zip = await makeZip([
      { name: 'good.jpg', content: await jpeg(20) },
      { name: 'up/x.jpg', content: await jpeg(21) },
      { name: 'etc/x.jpg', content: await jpeg(22) },
      { name: 'Cx/x.jpg', content: await jpeg(23) },
      { name: 'sub/y.jpg', content: await jpeg(24) },
      { name: 'a/b/c/d.jpg', content: await jpeg(25) },
    ])
    zip = renameEntry(zip, 'up/x.jpg', '../x.jpg')
    zip = renameEntry(zip, 'etc/x.jpg', '/etc/x.jp')
    zip = renameEntry(zip, 'Cx/x.jpg', 'C:\\x.jpg')
    zip = renameEntry(zip, 'sub/y.jpg', 'sub\\y.jpg')
    zip = renameEntry(zip, 'a/b/c/d.jpg', 'a/../../d.j')
    const { body } = await upload(training.id, cookie, [{ name: 'evil.zip', content: zip }])
    expect(verdicts(body)).toEqual([
      ['evil.zip › good.jpg', 'ok'],
      ['evil.zip › ../x.jpg', zipMessages.unsafeName],
      ['evil.zip › /etc/x.jp', zipMessages.unsafeName],
      ['evil.zip › C:\\x.jpg', zipMessages.unsafeName],
      ['evil.zip › sub\\y.jpg', zipMessages.unsafeName],
      ['evil.zip › a/../../d.j', zipMessages.unsafeName],
    ])
    expect((await rowsOf(training.id)).map((r) => r.name)).toEqual(['good.jpg'])
    // Nothing was written outside the temp folder under any of those names.
    await expect(fs.access(path.join(dirs.tmp, '..', 'x.jpg'))).rejects.toThrow()
    await expectNoTempFiles()
  })

  test('a zip bomb: zeros that inflate past the limit are refused, whether the header says so or lies', async () => {
    const { cookie, training } = await setup()
    const zeros = Buffer.alloc(2 * 1024 * 1024)
    const honest = await makeZip([
      { name: 'good.jpg', content: await makeJpeg({ seed: 30 }) },
      { name: 'bomb.png', content: zeros },
    ])
    // ~2 KB on the wire.
    expect(honest.length).toBeLessThan(10_000)
    const lying = declareUncompressedSize(
      await makeZip([
        { name: 'liar.png', content: zeros },
        { name: 'after.jpg', content: await makeJpeg({ seed: 31 }) },
      ]),
      'liar.png',
      1000,
    )
    const { body } = await upload(training.id, cookie, [
      { name: 'honest.zip', content: honest },
      { name: 'lying.zip', content: lying },
    ])
    expect(verdicts(body)).toEqual([
      ['honest.zip › good.jpg', 'ok'],
      ['honest.zip › bomb.png', zipMessages.tooLarge(0.5)],
      // Inflation stops where the header said it would end: the rest of the zeros never come out.
      ['lying.zip › liar.png', zipMessages.damaged],
      ['lying.zip › after.jpg', 'ok'],
    ])
    expect((await rowsOf(training.id)).map((r) => r.name)).toEqual(['good.jpg', 'after.jpg'])
    await expectNoTempFiles()
  })

  test('nested archives (by name and by content), non-images (by name and by content), encrypted entries, orphan captions', async () => {
    const { cookie, training } = await setup()
    const inner = await makeZip([{ name: 'x.jpg', content: await makeJpeg({ seed: 40 }) }])
    let zip = await makeZip([
      { name: 'inner.zip', content: inner },
      { name: 'more.tar.gz', content: 'not really' },
      { name: 'sneaky.jpg', content: inner },
      { name: 'notes.pdf', content: '%PDF-1.4' },
      { name: 'fake.png', content: 'hello, not a png' },
      { name: 'secret.jpg', content: await makeJpeg({ seed: 41 }) },
      { name: 'good.jpg', content: await makeJpeg({ seed: 42 }) },
      { name: 'good.txt', content: 'a caption' },
      { name: 'lonely.txt', content: 'no image for me' },
      { name: 'latin1.jpg', content: await makeJpeg({ seed: 43 }) },
      { name: 'latin1.txt', content: Buffer.from([0x63, 0x61, 0x66, 0xe9]) },
      { name: 'long.jpg', content: await makeJpeg({ seed: 44 }) },
      { name: 'long.txt', content: 'x'.repeat(2001) },
    ])
    zip = markEncrypted(zip, 'secret.jpg')
    const { body } = await upload(training.id, cookie, [{ name: 'mixed.zip', content: zip }])
    expect(verdicts(body)).toEqual([
      ['mixed.zip › inner.zip', zipMessages.nested],
      ['mixed.zip › more.tar.gz', zipMessages.nested],
      ['mixed.zip › sneaky.jpg', zipMessages.nested],
      ['mixed.zip › notes.pdf', zipMessages.notImageByName],
      ['mixed.zip › fake.png', imageMessages.notAnImage],
      ['mixed.zip › secret.jpg', zipMessages.encrypted],
      ['mixed.zip › good.jpg', 'ok'],
      ['mixed.zip › lonely.txt', zipMessages.orphanCaption],
      ['mixed.zip › latin1.jpg', 'ok'],
      ['mixed.zip › long.jpg', 'ok'],
    ])
    expect(body.results[8]).toMatchObject({
      warnings: [zipMessages.captionNotUsed('latin1.txt', zipMessages.captionNotUtf8)],
    })
    expect(body.results[9]).toMatchObject({
      warnings: [zipMessages.captionNotUsed('long.txt', zipMessages.captionTooLong)],
    })
    expect(await rowsOf(training.id)).toEqual([
      { name: 'good.jpg', text: 'a caption' },
      { name: 'latin1.jpg', text: null },
      { name: 'long.jpg', text: null },
    ])
    await expectNoTempFiles()
  })

  test('a truncated archive is refused with a sentence; one damaged midway keeps the entries before the damage', async () => {
    const { cookie, training } = await setup()
    const whole = await makeZip([
      { name: 'first.jpg', content: await makeJpeg({ seed: 50 }) },
      { name: 'second.jpg', content: await makeJpeg({ seed: 51 }) },
      { name: 'third.jpg', content: await makeJpeg({ seed: 52 }) },
    ])
    const damaged = breakCentralHeader(whole, 'second.jpg')
    const { body } = await upload(training.id, cookie, [
      { name: 'cut.zip', content: whole.subarray(0, Math.floor(whole.length * 0.7)) },
      { name: 'damaged.zip', content: damaged },
      { name: 'text.zip', content: Buffer.from('this is not a zip') },
      { name: 'after.jpg', content: await makeJpeg({ seed: 53 }) },
    ])
    expect(verdicts(body)).toEqual([
      ['cut.zip', zipMessages.notAZip],
      ['damaged.zip › first.jpg', 'ok'],
      ['damaged.zip', zipMessages.brokenAfter(1)],
      ['text.zip', zipMessages.notAZip],
      ['after.jpg', 'ok'],
    ])
    expect((await rowsOf(training.id)).map((r) => r.name)).toEqual(['first.jpg', 'after.jpg'])
    await expectNoTempFiles()
  })

  test('an archive larger than the whole upload may be is refused while it is read, and nothing of it is kept', async () => {
    const { cookie, training } = await setup()
    // 3 MB is the upload's limit here (6 images of 0.5 MB); random bytes do not compress.
    const zip = await makeZip([{ name: 'a.jpg', content: await makeJpeg({ seed: 55 }) }])
    const padded = Buffer.concat([zip, Buffer.alloc(3 * 1024 * 1024)])
    const { body } = await upload(training.id, cookie, [{ name: 'huge.zip', content: padded }])
    expect(verdicts(body)).toEqual([['huge.zip', uploadMessages.archiveTooLarge(3)]])
    expect(await rowsOf(training.id)).toEqual([])
    await expectNoTempFiles()
  })
})

describe('zip upload: temp files', () => {
  test('a body cut off in the middle of an archive keeps nothing of it and leaves no temp file', async () => {
    const { cookie, training } = await setup()
    const zip = await makeZip([
      { name: 'a.jpg', content: await makeJpeg({ seed: 60 }) },
      { name: 'b.jpg', content: await makeJpeg({ seed: 61 }) },
    ])
    const full = multipartBody([{ filename: 'cut.zip', content: zip, type: 'application/zip' }])
    const { status, body } = await send(
      training.id,
      new Request(url(training.id), {
        method: 'POST',
        body: new Uint8Array(full.subarray(0, full.length - Math.floor(zip.length / 2))),
        headers: { cookie, 'content-type': MULTIPART_CONTENT_TYPE },
      }),
    )
    expect(status).toBe(400)
    expect(verdicts(body)).toEqual([['cut.zip', uploadMessages.cutOff]])
    expect(await rowsOf(training.id)).toEqual([])
    await expectNoTempFiles()
  })

  test('a canceled request stops unpacking between entries; what it unpacked is removed', async () => {
    const dir = await fs.mkdtemp(path.join(dirs.tmp, 'cancel-'))
    const zipPath = path.join(dir, 'a.zip')
    await fs.writeFile(
      zipPath,
      await makeZip([
        { name: 'a.jpg', content: await makeJpeg({ seed: 70 }) },
        { name: 'b.jpg', content: await makeJpeg({ seed: 71 }) },
      ]),
    )
    const controller = new AbortController()
    const seen: string[] = []
    const results = await readArchive(
      { name: 'a.zip', path: zipPath },
      {
        dir,
        maxEntryBytes: 1024 * 1024,
        maxEntryMb: 1,
        maxTotalBytes: 10 * 1024 * 1024,
        signal: controller.signal,
        storeImage: async (image) => {
          seen.push(image.name)
          // The entry's temp file exists while the pipeline works on it.
          await fs.access(image.path)
          controller.abort()
          return { name: image.name, ok: true, image: { id: 'x', caption: null }, warnings: [] }
        },
        setCaption: async () => {},
      },
    )
    expect(seen).toEqual(['a.zip › a.jpg'])
    expect(results.map((r) => [r.name, r.ok ? 'ok' : r.error])).toEqual([
      ['a.zip › a.jpg', 'ok'],
      ['a.zip', zipMessages.canceled],
    ])
    expect(await fs.readdir(dir)).toEqual(['a.zip'])
    await fs.rm(dir, { recursive: true })
  })

  test('a caption that cannot be saved (the image deleted meanwhile) is a warning on the image, not a failed upload', async () => {
    const dir = await fs.mkdtemp(path.join(dirs.tmp, 'caption-'))
    const zipPath = path.join(dir, 'c.zip')
    await fs.writeFile(
      zipPath,
      await makeZip([
        { name: 'a.jpg', content: await makeJpeg({ seed: 72 }) },
        { name: 'a.txt', content: 'hello' },
      ]),
    )
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {})
    const results = await readArchive(
      { name: 'c.zip', path: zipPath },
      {
        dir,
        maxEntryBytes: 1024 * 1024,
        maxEntryMb: 1,
        maxTotalBytes: 10 * 1024 * 1024,
        storeImage: async (image) => ({ name: image.name, ok: true, image: { id: 'gone', caption: null }, warnings: [] }),
        setCaption: async () => {
          throw new Error('Record to update not found.')
        },
      },
    )
    expect(results).toEqual([
      {
        name: 'c.zip › a.jpg',
        ok: true,
        image: { id: 'gone', caption: null },
        warnings: [zipMessages.captionNotUsed('a.txt', 'it could not be saved. Add it on the image.')],
      },
    ])
    expect(logged).toHaveBeenCalledTimes(1)
    await fs.rm(dir, { recursive: true })
  })

  test('an entry that compresses more than 100 to 1 past 1 MB is refused as a bomb, inflating no more than that', async () => {
    const dir = await fs.mkdtemp(path.join(dirs.tmp, 'ratio-'))
    const zipPath = path.join(dir, 'r.zip')
    await fs.writeFile(zipPath, await makeZip([{ name: 'flat.png', content: Buffer.alloc(5 * 1024 * 1024) }]))
    const results = await readArchive(
      { name: 'r.zip', path: zipPath },
      {
        dir,
        // The per-file limit is not what stops it here.
        maxEntryBytes: 50 * 1024 * 1024,
        maxEntryMb: 50,
        maxTotalBytes: 100 * 1024 * 1024,
        storeImage: () => {
          throw new Error('a bomb must not reach the pipeline')
        },
        setCaption: async () => {},
      },
    )
    expect(results).toEqual([{ name: 'r.zip › flat.png', ok: false, error: zipMessages.bomb }])
    expect(await fs.readdir(dir)).toEqual(['r.zip'])
    await fs.rm(dir, { recursive: true })
  })
})
