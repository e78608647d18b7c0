// How much memory the images being decoded at once may take, all requests together. A job asks for
// its estimated peak before sharp starts; jobs wait in order until it fits. One job bigger than the
// whole budget still runs, alone. This, not a fixed number of jobs, keeps the server's memory flat
// under many parallel uploads while letting small or streamable images share the CPUs.
import os from 'node:os'

const MB = 1024 * 1024
/**
 * Measured with `npm run bench` (12-MP JPEGs): a photo that libvips can stream (no rotation, baseline
 * JPEG) peaks at ~24 MB; one it must hold whole (EXIF rotation, progressive JPEG, WebP) at ~16 MB
 * plus its decoded size (36 MB for 12 MP). 80 MB lets one rotated 12-MP photo run beside a streamed
 * one, or three streamed ones. With 100 MB the server's peak went over 200 MB above idle at 50 photos
 * (glibc keeps freed memory in per-thread arenas); with 120 MB, to ~230 MB.
 */
export const DECODE_BUDGET_BYTES = 80 * MB
const STREAMING_JOB_BYTES = 24 * MB
const WHOLE_IMAGE_OVERHEAD_BYTES = 16 * MB
const HEAD_MAX_WAIT_MS = 2000
/** More jobs than CPUs only queue inside libvips. */
const MAX_JOBS = Math.max(2, os.availableParallelism() + 1)

export function estimateDecodeBytes(image: {
  width: number
  height: number
  channels: number
  format: string
  orientation?: number
  isProgressive?: boolean
}) {
  const whole = (image.orientation ?? 1) > 1 || image.isProgressive || image.format === 'webp'
  return whole ? WHOLE_IMAGE_OVERHEAD_BYTES + image.width * image.height * Math.max(3, image.channels) : STREAMING_JOB_BYTES
}

let used = 0
let running = 0
const queue: Array<{ bytes: number; since: number; start: () => void }> = []

function fits(bytes: number) {
  return running === 0 || (running < MAX_JOBS && used + bytes <= DECODE_BUDGET_BYTES)
}

function startNext() {
  // First fit, so a small job does not leave a CPU idle behind a big one that must wait; but once the
  // job at the head has waited HEAD_MAX_WAIT_MS nothing overtakes it any more, so it is never starved.
  for (let i = 0; i < queue.length;) {
    const job = queue[i]!
    if (fits(job.bytes)) {
      queue.splice(i, 1)
      used += job.bytes
      running++
      job.start()
    } else if (i === 0 && Date.now() - job.since > HEAD_MAX_WAIT_MS) {
      return
    } else {
      i++
    }
  }
}

export async function withDecodeBudget<T>(bytes: number, work: () => Promise<T>): Promise<T> {
  if (!queue.length && fits(bytes)) {
    used += bytes
    running++
  } else {
    await new Promise<void>((start) => {
      queue.push({ bytes, since: Date.now(), start })
      startNext()
    })
  }
  try {
    return await work()
  } finally {
    used -= bytes
    running--
    startNext()
  }
}
