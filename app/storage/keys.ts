// Every storage key the app builds, and what makes a key valid. Rows hold keys, never paths or URLs
// (docs/decisions/005-storage.md), so the layout of the bucket (or the STORAGE_DIR folder) is decided
// here and nowhere else:
//
//   trainings/<trainingId>/images/<imageId>.<ext>             the training copy the agent downloads
//   trainings/<trainingId>/images/<imageId>.original.<ext>    the upload as received (metadata stripped)
//   trainings/<trainingId>/images/<imageId>.thumb.<ext>       the thumbnail the pages show
//   runs/<runId>/lora.safetensors                             the weights the agent uploads
//   runs/<runId>/samples/<n>.jpg                              the sample images the agent uploads
//   runs/<runId>/samples/<step:09d>_<prompt>.jpg              a sample taken while training, per step
//   runs/<runId>/checkpoints/<step:09d>.safetensors           a step save the agent uploaded
//   runs/<runId>/optimizer.pt                                 the optimizer state of the newest save
//   runs/<runId>/job.json                                     a job too big to pass to the machine inline
//   machine-files/<sha256>/<name>                             a file GPU machines fetch at boot (the agent)
//
// No imports: the drivers, the engines and the tests all build keys from this one module.

/** Keys are relative, slash-separated, made of safe characters, and never climb with "..". */
const KEY_PATTERN = /^(?!\/)(?!.*\/\/)[A-Za-z0-9._\-/]{1,512}$/

export class InvalidStorageKeyError extends Error {
  constructor(key: string) {
    super(`Invalid storage key: ${JSON.stringify(key).slice(0, 100)}`)
    this.name = 'InvalidStorageKeyError'
  }
}

/** The key itself when it is valid; throws InvalidStorageKeyError otherwise (both drivers check every key). */
export function assertValidKey(key: string) {
  if (!KEY_PATTERN.test(key) || key.split('/').some((part) => part === '..' || part === '.' || part === '')) {
    throw new InvalidStorageKeyError(key)
  }
  return key
}

/** One image of a training, in one of its three variants. */
export function imageKey(trainingId: string, imageId: string, variant: 'training' | 'original' | 'thumb', ext: string) {
  const name = variant === 'training' ? `${imageId}.${ext}` : `${imageId}.${variant}.${ext}`
  return assertValidKey(`trainings/${trainingId}/images/${name}`)
}

/**
 * The folder of a run's objects. A key a run recorded is trusted only under it: one outside would
 * serve another run's file through this run's access check.
 */
export function runKeyPrefix(runId: string) {
  return `runs/${runId}/`
}

export function weightsKey(runId: string) {
  return assertValidKey(`${runKeyPrefix(runId)}lora.safetensors`)
}

export function sampleKey(runId: string, n: number) {
  return assertValidKey(`${runKeyPrefix(runId)}samples/${n}.jpg`)
}

/** A sample taken at `step` for prompt `prompt` of the config (zero-padded: keys sort by step). */
export function stepSampleKey(runId: string, step: number, prompt: number) {
  return assertValidKey(`${runKeyPrefix(runId)}samples/${String(step).padStart(9, '0')}_${prompt}.jpg`)
}

/** A step save (ai-toolkit's `<name>_<step:09d>.safetensors`), stored under the run. */
export function checkpointKey(runId: string, step: number) {
  return assertValidKey(`${runKeyPrefix(runId)}checkpoints/${String(step).padStart(9, '0')}.safetensors`)
}

/** ai-toolkit's optimizer.pt of the newest save (TrainingRun.optimizerStep says which). */
export function optimizerKey(runId: string) {
  return assertValidKey(`${runKeyPrefix(runId)}optimizer.pt`)
}

/**
 * Where a job too big to travel inline (capabilities.maxInlineJobBytes) waits for its agent. It holds
 * the token: deleted when the run ends, for providers that declare storedJobCleanup.
 */
export function jobKey(runId: string) {
  return assertValidKey(`${runKeyPrefix(runId)}job.json`)
}

/**
 * A file GPU machines fetch at boot (the agent, the install script, the stand-in trainer), named by the
 * SHA-256 of its content: stored once per version, and a machine that checks the hash knows it got
 * exactly that version. Never deleted: a few KB per version of the app.
 */
export function machineFileKey(sha256: string, name: string) {
  if (!/^[0-9a-f]{64}$/.test(sha256) || name.includes('/')) throw new InvalidStorageKeyError(`machine-files/${sha256}/${name}`)
  return assertValidKey(`machine-files/${sha256}/${name}`)
}
