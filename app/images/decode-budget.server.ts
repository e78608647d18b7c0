// How much memory the images being decoded at once may take, all requests together, shared fairly
// between the people uploading. A job asks for its estimated peak before sharp starts and waits
// until it fits. One job bigger than the whole budget still runs, alone. This, not a fixed number of
// jobs, keeps the server's memory flat under many parallel uploads while letting small or
// streamable images share the CPUs.
//
// Fairness: each owner (the uploading user) has a queue of their own, served in order, and the
// owners take turns: the next job comes from the owner served least recently. Someone with forty
// large images queued delays another person's single photo by about one decode (the one running
// when it arrived), instead of by all forty as one first-come queue would.
//
// Written here rather than on p-limit (installed, see app/utils/concurrency.ts) or p-queue: both
// count jobs, not bytes, and neither has per-key turns; p-queue's priorities would let one owner
// starve another instead of taking turns. What is needed is ~60 lines.
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

/**
 * Whether libvips must hold the whole decoded image: EXIF rotation, a progressive JPEG or an
 * interlaced PNG (sharp reports both as `isProgressive`), and any WebP (its decoder writes the whole
 * frame). A baseline JPEG or a plain PNG is decoded row by row.
 */
export function decodesWhole(image: { format: string; orientation?: number; isProgressive?: boolean }) {
  return (image.orientation ?? 1) > 1 || Boolean(image.isProgressive) || image.format === 'webp'
}

export function estimateDecodeBytes(image: {
  width: number
  height: number
  channels: number
  format: string
  orientation?: number
  isProgressive?: boolean
}) {
  return decodesWhole(image)
    ? WHOLE_IMAGE_OVERHEAD_BYTES + image.width * image.height * Math.max(3, image.channels)
    : STREAMING_JOB_BYTES
}

type Job = { bytes: number; since: number; start: () => void }
/** An owner with jobs running or waiting; forgotten when it has neither. */
type Owner = { jobs: Job[]; running: number; lastServed: number }

let used = 0
let running = 0
let waiting = 0
/** Counts every start: an owner's `lastServed` says when its latest job started, 0 for never. */
let turn = 0
const owners = new Map<string, Owner>()

function fits(bytes: number) {
  return running === 0 || (running < MAX_JOBS && used + bytes <= DECODE_BUDGET_BYTES)
}

function begin(owner: Owner, bytes: number) {
  used += bytes
  running++
  owner.running++
  owner.lastServed = ++turn
}

function startNext() {
  while (waiting) {
    // Least recently served first; a newcomer (0) goes before everyone already served. Ties keep
    // the order in which owners arrived (the sort is stable and the map keeps insertion order).
    const queued = [...owners.values()].filter((o) => o.jobs.length).sort((a, b) => a.lastServed - b.lastServed)
    const next = queued.find((owner) => fits(owner.jobs[0]!.bytes))
    // First fit, so a small job does not leave a CPU idle behind a big one that must wait; but once
    // the job whose turn it is has waited HEAD_MAX_WAIT_MS nothing overtakes it, so no owner is
    // starved. Within one owner the order is kept: only the head of each queue is considered.
    const head = queued[0]!.jobs[0]!
    if (!next || (next !== queued[0] && Date.now() - head.since > HEAD_MAX_WAIT_MS)) return
    const job = next.jobs.shift()!
    waiting--
    begin(next, job.bytes)
    job.start()
  }
}

/**
 * Runs `work` once `bytes` fit in the decode budget, taking turns with the other owners' jobs.
 * `ownerId` is who the work is for (the uploading user): their own jobs run in the order asked.
 */
export async function withDecodeBudget<T>(ownerId: string, bytes: number, work: () => Promise<T>): Promise<T> {
  let owner = owners.get(ownerId)
  if (!owner) owners.set(ownerId, (owner = { jobs: [], running: 0, lastServed: 0 }))
  if (!waiting && fits(bytes)) {
    begin(owner, bytes)
  } else {
    const queue = owner.jobs
    await new Promise<void>((start) => {
      queue.push({ bytes, since: Date.now(), start })
      waiting++
      startNext()
    })
  }
  try {
    return await work()
  } finally {
    used -= bytes
    running--
    owner.running--
    if (!owner.running && !owner.jobs.length) owners.delete(ownerId)
    startNext()
  }
}
