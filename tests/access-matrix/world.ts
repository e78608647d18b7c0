// The world the access matrix runs in: an admin, an owner with one of everything (a training ready to
// run, an image with its three stored variants, a finished run with its weights and a sample in
// storage, the GPU that ran it, a GitHub connection, a second session), a stranger who owns nothing,
// and a custom role. Every route is called with the ids of the OWNER's objects, so for the stranger
// they are "another user's training, image, run and GPU".
import crypto from 'node:crypto'
import { prisma } from '~/utils/db.server'
import { getSessionExpirationDate } from '~/utils/auth.server'
import { newRunId } from '~/runs/runs.server'
import { imageKey } from '~/storage/keys'
import { getStorage } from '~/storage/storage.server'
import { createUser, uniqueEmail } from '../db-utils'
import { createTraining, makeJpeg, makeWebp } from '../image-fixtures'
import { createReadyTraining } from '../run-fixtures'

export const PRINCIPALS = ['anonymous', 'stranger', 'owner', 'admin'] as const
export type Principal = (typeof PRINCIPALS)[number]

/** The GitHub account linked to the owner (settings.connections is called to disconnect it). */
const OWNER_GITHUB_ID = 'matrix-owner-github-id'

export type World = Awaited<ReturnType<typeof createWorld>>

export async function createWorld() {
  const admin = await createUser({ email: uniqueEmail('matrix-admin'), roles: ['admin', 'user'] })
  const owner = await createUser({ email: uniqueEmail('matrix-owner'), roles: ['user'] })
  const stranger = await createUser({ email: uniqueEmail('matrix-stranger'), roles: ['user'] })

  // Five captioned images at the training resolution: the dataset check passes, so Start can succeed.
  const training = await createReadyTraining(owner.id, { name: 'Matrix portraits' })
  const storage = await getStorage()

  // One image with all three variants stored, as the upload pipeline leaves them.
  const imageId = randomId()
  const jpeg = await makeJpeg({ width: 512, height: 512, seed: 42 })
  const thumb = await makeWebp({ width: 256, height: 256, seed: 42 })
  const keys = {
    url: imageKey(training.id, imageId, 'training', 'jpg'),
    originalKey: imageKey(training.id, imageId, 'original', 'jpg'),
    thumbnailKey: imageKey(training.id, imageId, 'thumb', 'webp'),
  }
  await storage.put(keys.url, jpeg, { contentType: 'image/jpeg', contentLength: jpeg.length })
  await storage.put(keys.originalKey, jpeg, { contentType: 'image/jpeg', contentLength: jpeg.length })
  await storage.put(keys.thumbnailKey, thumb, { contentType: 'image/webp', contentLength: thumb.length })
  const image = await prisma.trainingImage.create({
    select: { id: true },
    data: {
      id: imageId,
      trainingId: training.id,
      ...keys,
      name: 'matrix.jpg',
      type: 'image/jpeg',
      text: 'a photo of [trigger], the matrix image',
      isResized: true,
      width: 512,
      height: 512,
      size: jpeg.length,
      hash: `hash-matrix-${imageId}`,
    },
  })

  const { runId, run, weightsKey, sampleKey, startedAt } = await createSucceededRun(training.id, owner.id)
  // The machine of that run, still running (shutting down after the upload), so Terminate has work.
  const gpu = await prisma.gpu.create({
    select: { id: true, instanceId: true },
    data: {
      instanceId: `local-${runId}`,
      provider: 'local',
      status: 'running',
      instanceType: 'local',
      pricePerHour: 0,
      launchedAt: startedAt,
      trainingId: training.id,
      runId,
    },
  })

  const role = await prisma.role.create({
    select: { id: true },
    data: { name: 'matrix-role', description: 'Made by the access matrix' },
  })
  const userRole = await prisma.role.findUniqueOrThrow({ where: { name: 'user' }, select: { id: true } })
  // The owner's webhook endpoint (its secret is never opened here).
  const webhook = await prisma.webhookEndpoint.create({
    select: { id: true },
    data: { userId: owner.id, url: 'https://93.184.215.14/matrix', secret: 'v1.not.a.box' },
  })

  return {
    webhook,
    admin,
    owner,
    stranger,
    training,
    image,
    run,
    runKeys: { weightsKey, sampleKey },
    gpu,
    role,
    userRoleId: userRole.id,
    /** Set by the cases that need an active run (cancel): the owner's training's run in progress. */
    activeRunId: null as string | null,
    /** The owner's second session (another device), which settings.sessions is asked to sign out. */
    ownerOtherSessionId: '',
    ownerConnection: { providerName: 'github', providerId: OWNER_GITHUB_ID },
    /** The owner's GitHub connection, which settings.connections is asked to disconnect. Made again when gone. */
    ownerConnectionId: '',
    /** A training and an image of the owner made just to be deleted (one per call). */
    spareTrainingId: '',
    spareImageId: '',
  }
}

/**
 * A run of the training that succeeded, with what it leaves in storage: its LoRA (kept as the checkpoint
 * of its last step, 100) and one sample of prompt 0 there. Also used by the API's contract test.
 */
export async function createSucceededRun(trainingId: string, startedById: string) {
  const storage = await getStorage()
  const runId = newRunId()
  const weightsKey = `runs/${runId}/lora.safetensors`
  const sampleKey = `runs/${runId}/samples/0.jpg`
  const weights = safetensors()
  const sample = await makeJpeg({ width: 64, height: 64, seed: 7 })
  await storage.put(weightsKey, weights, { contentType: 'application/octet-stream', contentLength: weights.length })
  await storage.put(sampleKey, sample, { contentType: 'image/jpeg', contentLength: sample.length })
  const startedAt = new Date(Date.now() - 10 * 60_000)
  const run = await prisma.trainingRun.create({
    select: { id: true },
    data: {
      id: runId,
      trainingId: trainingId,
      startedById,
      status: 'succeeded',
      provider: 'local',
      instanceType: 'local',
      pricePerHour: 0,
      step: 100,
      totalSteps: 100,
      weightsKey,
      weightsSize: weights.length,
      sampleKeys: JSON.stringify([sampleKey]),
      startedAt,
      finishedAt: new Date(),
    },
  })
  // What it kept: its final file as the checkpoint of its last step, and a sample taken there.
  await prisma.runCheckpoint.create({ data: { runId, step: 100, key: weightsKey, bytes: weights.length, final: true } })
  await prisma.runSample.create({ data: { runId, step: 100, prompt: 0, key: sampleKey } })
  return { runId, run, weightsKey, sampleKey, startedAt }
}

export function userIdOf(world: World, principal: Principal) {
  return principal === 'anonymous' ? null : world[principal].id
}

/** The owner's "other device": a session row the sessions page may sign out. Made again when gone. */
export async function ensureOwnerOtherSession(world: World) {
  const existing = world.ownerOtherSessionId
    ? await prisma.session.findUnique({ where: { id: world.ownerOtherSessionId }, select: { id: true } })
    : null
  if (existing) return
  const session = await prisma.session.create({
    select: { id: true },
    data: { userId: world.owner.id, expirationDate: getSessionExpirationDate(), userAgent: 'Mozilla/5.0 (Matrix) Firefox/130.0' },
  })
  world.ownerOtherSessionId = session.id
}

export async function ensureOwnerConnection(world: World) {
  const where = { providerName_providerId: world.ownerConnection }
  const existing = await prisma.connection.findUnique({ where, select: { id: true } })
  if (existing) return existing.id
  const created = await prisma.connection.create({
    select: { id: true },
    data: { ...world.ownerConnection, providerDisplayName: 'matrix-owner', userId: world.owner.id },
  })
  return created.id
}

/** A training of the owner that a call may delete: made again before each call. */
export async function makeSpareTraining(world: World) {
  world.spareTrainingId = (await createTraining(world.owner.id, { name: 'Spare to delete' })).id
}

/**
 * An image row of the owner's training that a call may delete (no stored files: deleting tolerates
 * that). Refused calls leave theirs behind, so it is one the dataset check accepts.
 */
export async function makeSpareImage(world: World) {
  const id = randomId()
  await prisma.trainingImage.create({
    data: {
      id,
      trainingId: world.training.id,
      url: imageKey(world.training.id, id, 'training', 'jpg'),
      name: 'spare.jpg',
      type: 'image/jpeg',
      text: 'a photo of [trigger], a spare',
      isResized: true,
      width: 512,
      height: 512,
      hash: `hash-spare-${id}`,
    },
  })
  world.spareImageId = id
}

/** Images other rows uploaded have no caption yet: give them one, so the dataset check lets a run start. */
export async function captionUncaptioned(world: World) {
  await prisma.trainingImage.updateMany({
    where: { trainingId: world.training.id, OR: [{ text: null }, { text: '' }] },
    data: { text: 'a photo of [trigger]' },
  })
}

/** A cuid-like id: 25 characters of [a-z0-9], as the app's own ids look. */
function randomId() {
  return `m${crypto.randomBytes(16).toString('hex').slice(0, 24)}`
}

/** A tiny but valid .safetensors file: an 8-byte header length, a JSON header, one f32 tensor. */
function safetensors() {
  const header = Buffer.from(JSON.stringify({ lora: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }))
  const length = Buffer.alloc(8)
  length.writeBigUInt64LE(BigInt(header.length))
  return Buffer.concat([length, header, Buffer.alloc(4)])
}
