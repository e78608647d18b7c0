// The Images tab: its loader, caption edits (one, all, [trigger] prefix, clear) and deletions.
import { imageTestDirs } from '../../../../tests/image-env'
import fs from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, test, vi } from 'vitest'
import { prisma } from '~/utils/db.server'
import { getStorage } from '~/storage/storage.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../../../tests/db-utils'
import { createTraining, makeJpeg } from '../../../../tests/image-fixtures'
import { uploadImages } from '../../../../tests/image-upload'
import { action, loader } from './_index'

type Failure = { formErrors: string[]; fieldErrors: Record<string, string[] | undefined> }

function post(trainingId: string, cookie: string, form: Record<string, string | string[]>) {
  return callRoute(() =>
    action({ request: makeRequest(`/trainings/${trainingId}?index`, { form, cookie }), ...ctx, params: { trainingId } }),
  )
}

function load(trainingId: string, cookie: string) {
  return callRoute(() => loader({ request: makeRequest(`/trainings/${trainingId}`, { cookie }), ...ctx, params: { trainingId } }))
}

async function setup(count = 3) {
  const owner = await createUser()
  const { cookie } = await createSessionCookie(owner.id)
  const training = await createTraining(owner.id)
  const files = await Promise.all(
    Array.from({ length: count }, async (_, i) => ({ name: `photo-${i + 1}.jpg`, content: await makeJpeg({ seed: 500 + i }) })),
  )
  const images = await uploadImages(training.id, cookie, files)
  return { owner, cookie, training, images }
}

async function captions(trainingId: string) {
  const rows = await prisma.trainingImage.findMany({
    where: { trainingId },
    orderBy: { createdAt: 'asc' },
    select: { text: true },
  })
  return rows.map((r) => r.text)
}

async function objectExists(key: string) {
  return fs.stat(path.join(imageTestDirs.storage, key)).then(
    () => true,
    () => false,
  )
}

describe('the Images tab loader', () => {
  test('lists the training’s images in upload order with what the grid and the check need', async () => {
    const { cookie, training, images } = await setup(2)
    const response = await load(training.id, cookie)
    expect(response.status).toBe(200)
    const data = (await response.json()) as {
      training: { triggerWord: string }
      images: Array<{ id: string; name: string }>
      resolutionPx: number
      isOwner: boolean
      maxFileMb: number
    }
    expect(data.images.map((i) => i.name)).toEqual(['photo-1.jpg', 'photo-2.jpg'])
    expect(data.images.map((i) => i.id)).toEqual(images.map((i) => i.id))
    expect(data.images[0]).toMatchObject({ width: 64, height: 48, text: null, hash: expect.stringMatching(/^[0-9a-f]{64}$/) })
    expect(data).toMatchObject({ resolutionPx: 512, isOwner: true, maxFileMb: 25, training: { triggerWord: 'ohwx_ada' } })
  })

  test('someone else’s training is a 404, for the page and for every action', async () => {
    const { training, images } = await setup(1)
    const stranger = await createUser()
    const { cookie } = await createSessionCookie(stranger.id)
    expect((await load(training.id, cookie)).status).toBe(404)
    expect((await post(training.id, cookie, { intent: 'caption', imageId: images[0]!.id, text: 'mine now' })).status).toBe(404)
    expect((await post(training.id, cookie, { intent: 'delete', imageId: images[0]!.id })).status).toBe(404)
    expect((await post(training.id, cookie, { intent: 'replace-captions', find: 'x', replace: 'y' })).status).toBe(404)
    const restore = JSON.stringify([{ id: images[0]!.id, from: 'mine now', to: '' }])
    expect((await post(training.id, cookie, { intent: 'restore-captions', changes: restore })).status).toBe(404)
    expect(await captions(training.id)).toEqual([null])
  })
})

describe('captions', () => {
  test('one caption is saved, trimmed; an empty one clears it', async () => {
    const { cookie, training, images } = await setup(2)
    const response = await post(training.id, cookie, {
      intent: 'caption',
      imageId: images[1]!.id,
      text: '  [trigger] on a bike, golden hour \n',
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ ok: true, message: 'Caption saved.', text: '[trigger] on a bike, golden hour' })
    expect(await captions(training.id)).toEqual([null, '[trigger] on a bike, golden hour'])
    await post(training.id, cookie, { intent: 'caption', imageId: images[1]!.id, text: '   ' })
    expect(await captions(training.id)).toEqual([null, null])
  })

  test('a caption of 10,000 characters is refused with its length, and the old caption stays', async () => {
    const { cookie, training, images } = await setup(1)
    await post(training.id, cookie, { intent: 'caption', imageId: images[0]!.id, text: 'the old caption' })
    const response = await post(training.id, cookie, { intent: 'caption', imageId: images[0]!.id, text: 'a'.repeat(10_000) })
    expect(response.status).toBe(400)
    const body = (await response.json()) as Failure
    expect(body.fieldErrors.text).toEqual(['A caption can be at most 2,000 characters; this one has 10,000.'])
    expect(await captions(training.id)).toEqual(['the old caption'])
  })

  test('an image of another training cannot be captioned through this one', async () => {
    const { cookie, training, owner } = await setup(1)
    const other = await createTraining(owner.id, { name: 'Other' })
    const [foreign] = await uploadImages(other.id, cookie, [{ name: 'x.jpg', content: await makeJpeg({ seed: 900 }) }])
    const response = await post(training.id, cookie, { intent: 'caption', imageId: foreign!.id, text: 'sneaky' })
    expect(response.status).toBe(404)
    expect(((await response.json()) as Failure).formErrors).toEqual(['This image no longer exists. Reload the page.'])
    expect(await captions(other.id)).toEqual([null])
  })

  test('set all, prefix all with [trigger] (twice changes nothing more), clear all', async () => {
    const { cookie, training, images } = await setup(3)
    await post(training.id, cookie, { intent: 'caption', imageId: images[0]!.id, text: 'already [trigger]' })

    const empty = await post(training.id, cookie, { intent: 'caption-all', text: ' ' })
    expect(empty.status).toBe(400)
    expect(((await empty.json()) as Failure).fieldErrors.text).toEqual([
      'Write the caption to give every image (to remove them all, use “Clear all captions”).',
    ])

    const prefix = await post(training.id, cookie, { intent: 'prefix-trigger' })
    expect(await prefix.json()).toEqual({ ok: true, message: '[trigger] added to 3 captions.' })
    expect(await captions(training.id)).toEqual(['[trigger] already [trigger]', '[trigger]', '[trigger]'])
    const again = await post(training.id, cookie, { intent: 'prefix-trigger' })
    expect(await again.json()).toEqual({ ok: true, message: 'Every caption already starts with [trigger].' })
    expect(await captions(training.id)).toEqual(['[trigger] already [trigger]', '[trigger]', '[trigger]'])

    const setAll = await post(training.id, cookie, { intent: 'caption-all', text: 'a photo of [trigger]' })
    expect(await setAll.json()).toEqual({ ok: true, message: 'Caption set on 3 images.' })
    expect(await captions(training.id)).toEqual(['a photo of [trigger]', 'a photo of [trigger]', 'a photo of [trigger]'])

    const clear = await post(training.id, cookie, { intent: 'clear-captions' })
    expect(await clear.json()).toEqual({ ok: true, message: 'Captions cleared on 3 images.' })
    expect(await captions(training.id)).toEqual([null, null, null])
  })

  test('the prefix is refused, changing nothing, when it would push a caption over the limit', async () => {
    const { cookie, training, images } = await setup(2)
    await post(training.id, cookie, { intent: 'caption', imageId: images[0]!.id, text: 'b'.repeat(1995) })
    const response = await post(training.id, cookie, { intent: 'prefix-trigger' })
    expect(response.status).toBe(400)
    expect(((await response.json()) as Failure).formErrors).toEqual([
      '1 caption would be longer than 2,000 characters with the prefix: shorten it first. Nothing was changed.',
    ])
    expect(await captions(training.id)).toEqual(['b'.repeat(1995), null])
  })
})

describe('captions saved as they are typed', () => {
  const prev = (text: string) => JSON.stringify(text)

  test('each save names the caption it started from; a late answer to an older save cannot put older text over newer', async () => {
    const { cookie, training, images } = await setup(1)
    const imageId = images[0]!.id
    const first = await post(training.id, cookie, { intent: 'caption', imageId, text: 'a dog', previous: prev('') })
    expect(await first.json()).toMatchObject({ ok: true, text: 'a dog' })
    const second = await post(training.id, cookie, {
      intent: 'caption',
      imageId,
      text: 'a dog on a beach',
      previous: prev('a dog'),
    })
    expect(second.status).toBe(200)
    // An older save (typed before "a dog") arriving last: refused, and the newer text stays.
    const stale = await post(training.id, cookie, { intent: 'caption', imageId, text: 'a do', previous: prev('') })
    expect(stale.status).toBe(409)
    const body = (await stale.json()) as Failure & { current: string }
    expect(body.current).toBe('a dog on a beach')
    expect(body.formErrors[0]).toMatch(/^This caption was changed elsewhere .* Retry to save yours over it\.$/)
    expect(await captions(training.id)).toEqual(['a dog on a beach'])
  })

  test('a retried save of what is already stored is answered as saved; the retry after a conflict names what is stored now', async () => {
    const { cookie, training, images } = await setup(1)
    const imageId = images[0]!.id
    await post(training.id, cookie, { intent: 'caption', imageId, text: 'a cat', previous: prev('') })
    const again = await post(training.id, cookie, { intent: 'caption', imageId, text: 'a cat', previous: prev('') })
    expect(await again.json()).toMatchObject({ ok: true })
    const retry = await post(training.id, cookie, { intent: 'caption', imageId, text: 'mine', previous: prev('a cat') })
    expect(retry.status).toBe(200)
    expect(await captions(training.id)).toEqual(['mine'])
  })

  test('clearing a caption through a conditional save, and a starting point that is not readable', async () => {
    const { cookie, training, images } = await setup(1)
    const imageId = images[0]!.id
    await post(training.id, cookie, { intent: 'caption', imageId, text: 'x', previous: prev('') })
    expect((await post(training.id, cookie, { intent: 'caption', imageId, text: '', previous: prev('x') })).status).toBe(200)
    expect(await captions(training.id)).toEqual([null])
    const bad = await post(training.id, cookie, { intent: 'caption', imageId, text: 'y', previous: '{not json' })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as Failure).fieldErrors.previous).toEqual([
      'The caption this edit started from is not readable. Reload the page.',
    ])
    expect(await captions(training.id)).toEqual([null])
  })
})

describe('find and replace in all captions', () => {
  async function captioned(texts: Array<string | null>) {
    const s = await setup(texts.length)
    for (const [i, text] of texts.entries()) {
      if (text !== null) await post(s.training.id, s.cookie, { intent: 'caption', imageId: s.images[i]!.id, text })
    }
    return s
  }

  test('replaces literal text in every caption that has it, with or without case, and says how many', async () => {
    const { cookie, training } = await captioned(['A red car', 'a RED door', null, 'blue sky'])
    const cased = await post(training.id, cookie, { intent: 'replace-captions', find: 'red', replace: 'green', matchCase: 'on' })
    expect(await cased.json()).toMatchObject({ ok: true, message: 'Replaced in 1 caption.' })
    expect(await captions(training.id)).toEqual(['A green car', 'a RED door', null, 'blue sky'])
    const anyCase = await post(training.id, cookie, { intent: 'replace-captions', find: 'RED', replace: 'green' })
    expect(await anyCase.json()).toMatchObject({ ok: true, message: 'Replaced in 1 caption.' })
    expect(await captions(training.id)).toEqual(['A green car', 'a green door', null, 'blue sky'])
    const none = await post(training.id, cookie, { intent: 'replace-captions', find: 'purple', replace: 'x' })
    expect(await none.json()).toEqual({ ok: true, message: 'No caption contains “purple”.', changes: [] })
  })

  test('text that looks like a regular expression is treated literally', async () => {
    const { cookie, training } = await captioned(['a.b and axb', '(ab)+ here', 'plain'])
    await post(training.id, cookie, { intent: 'replace-captions', find: 'a.b', replace: '$&$1' })
    await post(training.id, cookie, { intent: 'replace-captions', find: '(ab)+', replace: '.*' })
    await post(training.id, cookie, { intent: 'replace-captions', find: '.*', replace: 'X' })
    expect(await captions(training.id)).toEqual(['$&$1 and axb', 'X here', 'plain'])
  })

  test('refused, changing nothing, when a caption would grow past the limit; a missing find is a field error', async () => {
    const { cookie, training } = await captioned(['b'.repeat(1990) + ' cat', 'a cat'])
    const long = await post(training.id, cookie, { intent: 'replace-captions', find: 'cat', replace: 'x'.repeat(20) })
    expect(long.status).toBe(400)
    expect(((await long.json()) as Failure).formErrors).toEqual([
      '1 caption would be longer than 2,000 characters after the replacement: shorten it first. Nothing was changed.',
    ])
    expect(await captions(training.id)).toEqual(['b'.repeat(1990) + ' cat', 'a cat'])
    const missing = await post(training.id, cookie, { intent: 'replace-captions', find: '', replace: 'x' })
    expect(missing.status).toBe(400)
    expect(((await missing.json()) as Failure).fieldErrors.find).toEqual(['Write the text to find.'])
    const tooLong = await post(training.id, cookie, { intent: 'replace-captions', find: 'c', replace: 'y'.repeat(2001) })
    expect(((await tooLong.json()) as Failure).fieldErrors.replace).toEqual(['The replacement can be at most 2,000 characters.'])
  })

  test('only this training’s captions change, and undo puts back those not changed again since', async () => {
    const { cookie, training, owner, images } = await captioned(['a cat', 'the cat sat', 'dog'])
    const other = await createTraining(owner.id, { name: 'Other' })
    const [foreign] = await uploadImages(other.id, cookie, [{ name: 'x.jpg', content: await makeJpeg({ seed: 902 }) }])
    await post(other.id, cookie, { intent: 'caption', imageId: foreign!.id, text: 'a cat' })

    const replaced = await post(training.id, cookie, { intent: 'replace-captions', find: 'cat', replace: 'lion' })
    const { changes } = (await replaced.json()) as { changes: Array<{ id: string; from: string; to: string }> }
    expect(changes).toHaveLength(2)
    expect(await captions(training.id)).toEqual(['a lion', 'the lion sat', 'dog'])
    expect(await captions(other.id)).toEqual(['a cat'])

    // One caption edited after the replacement: undo leaves it as it is.
    await post(training.id, cookie, { intent: 'caption', imageId: images[1]!.id, text: 'edited since' })
    const undo = await post(training.id, cookie, { intent: 'restore-captions', changes: JSON.stringify(changes) })
    expect(await undo.json()).toEqual({
      ok: true,
      message: 'Restored 1 caption. 1 caption changed since and was left as it is.',
    })
    expect(await captions(training.id)).toEqual(['a cat', 'edited since', 'dog'])

    // A forged undo naming another training's image changes nothing there.
    const forged = JSON.stringify([{ id: foreign!.id, from: 'pwned', to: 'a cat' }])
    expect(await (await post(training.id, cookie, { intent: 'restore-captions', changes: forged })).json()).toMatchObject({
      message: 'Restored 0 captions. 1 caption changed since and was left as it is.',
    })
    expect(await captions(other.id)).toEqual(['a cat'])
    const garbage = await post(training.id, cookie, { intent: 'restore-captions', changes: 'not json' })
    expect(garbage.status).toBe(400)
  })
})

describe('deleting images', () => {
  test('a selection goes with its three objects; the other images stay', async () => {
    const { cookie, training, images } = await setup(3)
    const rows = await prisma.trainingImage.findMany({ where: { trainingId: training.id }, orderBy: { createdAt: 'asc' } })
    const doomed = rows.slice(0, 2)
    const response = await post(training.id, cookie, { intent: 'delete', imageId: doomed.map((r) => r.id) })
    expect(await response.json()).toEqual({ ok: true, message: '2 images deleted.' })
    expect((await prisma.trainingImage.findMany({ where: { trainingId: training.id } })).map((r) => r.id)).toEqual([
      images[2]!.id,
    ])
    for (const row of doomed) {
      for (const key of [row.url, row.originalKey!, row.thumbnailKey!]) expect(await objectExists(key)).toBe(false)
    }
    const kept = rows[2]!
    for (const key of [kept.url, kept.originalKey!, kept.thumbnailKey!]) expect(await objectExists(key)).toBe(true)
  })

  test('one image; nothing selected is refused; an image of another training is not touched', async () => {
    const { cookie, training, images, owner } = await setup(2)
    const one = await post(training.id, cookie, { intent: 'delete', imageId: images[0]!.id })
    expect(await one.json()).toEqual({ ok: true, message: 'Image deleted.' })
    const none = await post(training.id, cookie, { intent: 'delete' })
    expect(none.status).toBe(400)
    expect(((await none.json()) as Failure).fieldErrors.imageId).toEqual(['Select the images to delete first.'])
    const other = await createTraining(owner.id, { name: 'Other' })
    const [foreign] = await uploadImages(other.id, cookie, [{ name: 'x.jpg', content: await makeJpeg({ seed: 901 }) }])
    const cross = await post(training.id, cookie, { intent: 'delete', imageId: foreign!.id })
    expect(cross.status).toBe(404)
    expect(await prisma.trainingImage.count({ where: { id: foreign!.id } })).toBe(1)
    expect(await prisma.trainingImage.count({ where: { trainingId: training.id } })).toBe(1)
  })

  test('when storage fails to delete, the row is gone anyway (never a row without its objects) and the keys are logged', async () => {
    const { cookie, training, images } = await setup(1)
    const storage = await getStorage()
    vi.spyOn(storage, 'deleteMany').mockRejectedValueOnce(new Error('EACCES: simulated'))
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {})
    const response = await post(training.id, cookie, { intent: 'delete', imageId: images[0]!.id })
    expect(await response.json()).toEqual({ ok: true, message: 'Image deleted.' })
    expect(await prisma.trainingImage.count({ where: { trainingId: training.id } })).toBe(0)
    expect(logged).toHaveBeenCalledWith(
      expect.stringContaining(`trainings/${training.id}/images/${images[0]!.id}.jpg`),
      expect.any(Error),
    )
  })
})
