// A succeeded run with something to publish, as the supervisor leaves one: the final LoRA and a kept
// checkpoint at step 500 (real-shaped .safetensors in storage, RunCheckpoint rows), the final samples
// with their prompts (TrainingRun.sampleKeys) and the step-500 samples (RunSample rows); its owner has
// saved a Hugging Face token (the stand-in's write token unless told otherwise).
import { prisma } from '~/utils/db.server'
import { saveUserHuggingFaceToken } from '~/utils/huggingface.server'
import { checkpointKey, sampleKey, stepSampleKey, weightsKey } from '~/storage/keys'
import { getStorage } from '~/storage/storage.server'
import { serializeSamples } from '~/runs/samples'
import { createUser } from '../db-utils'
import { createTraining, makeJpeg } from '../image-fixtures'
import { FAKE_HUB_TOKENS } from './server'

/** A small but real-shaped .safetensors file; `fill` tells two apart. */
export function safetensorsBytes(fill: number, floats = 64) {
  const header = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [floats], data_offsets: [0, floats * 4] } }))
  const length = Buffer.alloc(8)
  length.writeBigUInt64LE(BigInt(header.length))
  return Buffer.concat([length, header, Buffer.from(new Float32Array(floats).fill(fill).buffer)])
}

export const FINAL_PROMPTS = ['ohwx_ada smiling', 'ohwx_ada in the rain']

export async function createPublishableRun({
  hubToken = FAKE_HUB_TOKENS.writer as string | null,
  name = 'Portraits of Ada',
  status = 'succeeded',
  owner: given,
}: { hubToken?: string | null; name?: string; status?: string; owner?: { id: string } } = {}) {
  const owner = given ?? (await createUser())
  if (hubToken) await saveUserHuggingFaceToken(owner.id, hubToken)
  const training = await createTraining(owner.id, { name })
  const run = await prisma.trainingRun.create({ data: { trainingId: training.id, status, step: 1000, totalSteps: 1000 } })
  const storage = await getStorage()
  const put = (key: string, bytes: Buffer, contentType: string) =>
    storage.put(key, bytes, { contentType, contentLength: bytes.length })

  const lora = safetensorsBytes(1)
  const checkpoint = safetensorsBytes(0.5)
  await put(weightsKey(run.id), lora, 'application/octet-stream')
  await put(checkpointKey(run.id, 500), checkpoint, 'application/octet-stream')
  await prisma.runCheckpoint.createMany({
    data: [
      { runId: run.id, step: 500, key: checkpointKey(run.id, 500), bytes: checkpoint.length },
      { runId: run.id, step: 1000, key: weightsKey(run.id), bytes: lora.length, final: true },
    ],
  })
  const finalSamples = await Promise.all(FINAL_PROMPTS.map((_, i) => makeJpeg({ seed: i + 1 })))
  for (const [i, bytes] of finalSamples.entries()) await put(sampleKey(run.id, i), bytes, 'image/jpeg')
  const stepSample = await makeJpeg({ seed: 9 })
  await put(stepSampleKey(run.id, 500, 0), stepSample, 'image/jpeg')
  await prisma.runSample.create({ data: { runId: run.id, step: 500, prompt: 0, key: stepSampleKey(run.id, 500, 0) } })
  await prisma.trainingRun.update({
    where: { id: run.id },
    data: {
      weightsKey: weightsKey(run.id),
      weightsSize: lora.length,
      sampleKeys: serializeSamples(FINAL_PROMPTS.map((prompt, i) => ({ key: sampleKey(run.id, i), prompt, step: 1000 }))),
    },
  })
  return { owner, training, run, lora, checkpoint, finalSamples, stepSample }
}
