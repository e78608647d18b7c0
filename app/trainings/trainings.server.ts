// The training engine: create, change, duplicate and delete a training. The pages (/trainings/new and
// the settings tab) and the API (app/api/v1/trainings.server.ts) both call these, so a training is made
// and changed one way, with the same checks and the same words.
import { prisma } from '~/utils/db.server'
import { getStorage } from '~/storage/storage.server'
import { copyName } from './validation'
import { ACTIVE_RUN_STATUSES } from '~/runs/status'
import { formatBaseModel, parseBaseModel, type BaseModel } from './base-models'
import {
  adaptConfigToBaseModel,
  formatIssue,
  parseConfigText,
  serializeConfig,
  validateConfig,
  withServerFields,
  type ConfigIssue,
  type TrainingConfig,
} from './config'
import { findPreset } from './presets'

/**
 * A new training of `ownerId`: the preset's config moved to the chosen base model, or — from the API —
 * a config of the caller's own, checked as the settings page checks a pasted JSON. `notes` say what
 * was switched to suit the model.
 */
export async function createTraining({
  ownerId,
  name,
  triggerWord,
  model,
  presetId,
  config: ownConfig,
}: {
  ownerId: string
  name: string
  triggerWord: string
  model: BaseModel
  presetId: string
  config?: unknown
}): Promise<{ ok: true; id: string; notes: string[] } | { ok: false; issues: ConfigIssue[] }> {
  let config: TrainingConfig
  let notes: string[] = []
  if (ownConfig !== undefined) {
    const checked = checkConfigValue(ownConfig, model)
    if (!checked.success) return { ok: false, issues: checked.issues }
    config = withServerFields(checked.config, model).config
  } else {
    const preset = findPreset(presetId)
    if (!preset) throw new Error(`Unknown preset: ${presetId}`)
    const adapted = adaptConfigToBaseModel(preset.config, model)
    // Every preset fits every model (a unit test says so); a failure here is a bug, not bad input.
    const valid = validateConfig(adapted.config, model)
    if (!valid.success)
      throw new Error(`Preset ${presetId} is invalid for ${model.slug}: ${valid.issues.map(formatIssue).join('; ')}`)
    config = valid.config
    notes = adapted.notes
  }
  const training = await prisma.training.create({
    select: { id: true },
    data: { name, triggerWord, baseModel: formatBaseModel(model), config: serializeConfig(config), ownerId },
  })
  return { ok: true, id: training.id, notes }
}

/**
 * A config sent as a JSON value (the API's body), checked exactly as the settings page checks the text
 * of its JSON editor: the same size limit, the same messages with the same paths.
 */
export function checkConfigValue(value: unknown, model: Pick<BaseModel, 'family'>) {
  return parseConfigText(JSON.stringify(value) ?? '', model)
}

type StoredTraining = { id: string; baseModel: string; config: string }

/**
 * Name, trigger word and base model. A change of base model moves the config to it (server fields,
 * scheduler); refused when the stored config is not valid, since it could not be moved.
 */
export async function updateTrainingDetails(
  training: StoredTraining,
  { name, triggerWord, model }: { name: string; triggerWord: string; model: BaseModel },
): Promise<{ ok: true; notes: string[]; config: string } | { ok: false; message: string }> {
  let config = training.config
  let notes: string[] = []
  if (parseBaseModel(training.baseModel)?.slug !== model.slug) {
    // No family check here: the config is about to be moved to the new family.
    const stored = parseConfigText(training.config)
    if (!stored.success) {
      const problems = stored.issues.map(formatIssue).join('; ')
      return {
        ok: false,
        message: `The trainer config has problems, so it cannot be moved to ${model.label}. Fix them first: ${problems}`,
      }
    }
    const adapted = adaptConfigToBaseModel(stored.config, model)
    config = serializeConfig(adapted.config)
    notes = adapted.notes
  }
  await prisma.training.update({
    where: { id: training.id },
    data: { name, triggerWord, baseModel: formatBaseModel(model), config },
  })
  return { ok: true, notes, config }
}

/**
 * Stores a config that passed validateConfig, with the fields the server owns put back; `replaced`
 * names those that had been typed otherwise, for the page to say so.
 */
export async function writeTrainingConfig(trainingId: string, model: BaseModel, valid: TrainingConfig) {
  const { config, replaced } = withServerFields(valid, model)
  await prisma.training.update({ where: { id: trainingId }, data: { config: serializeConfig(config) } })
  return { replaced }
}

/** The id of the training's active run, if one is active (at most one is: TrainingRun.activeTrainingId). */
export async function activeRunIdOf(trainingId: string) {
  const run = await prisma.trainingRun.findFirst({
    where: { trainingId, status: { in: [...ACTIVE_RUN_STATUSES] } },
    select: { id: true },
  })
  return run?.id ?? null
}

/** A copy owned by `ownerId`: name + " (copy)", trigger word, base model and config — not images or runs. */
export async function duplicateTraining(
  training: { name: string; triggerWord: string; baseModel: string; config: string },
  ownerId: string,
) {
  return prisma.training.create({
    select: { id: true, name: true },
    data: {
      name: copyName(training.name),
      triggerWord: training.triggerWord,
      baseModel: training.baseModel,
      config: training.config,
      ownerId,
    },
  })
}

/**
 * Deletes a training, its rows (images, runs… by cascade) and its images' storage objects. Refused
 * while a run is active: its GPU would be left without a training to account for it.
 */
export async function deleteTraining(trainingId: string) {
  if (await activeRunIdOf(trainingId)) return { deleted: false as const, reason: 'active-run' as const }
  const images = await prisma.trainingImage.findMany({
    where: { trainingId },
    select: { url: true, originalKey: true, thumbnailKey: true },
  })
  const keys = images
    .flatMap((image) => [image.url, image.originalKey, image.thumbnailKey])
    .filter((key): key is string => Boolean(key))
  // Rows first, objects second: a failure in between leaves objects nobody points at (wasted bytes),
  // never a row pointing at a missing object.
  await prisma.training.delete({ where: { id: trainingId } })
  if (keys.length) {
    try {
      await (await getStorage()).deleteMany(keys)
    } catch (error) {
      console.error(`Training ${trainingId} deleted, but ${keys.length} of its storage objects could not be:`, error)
    }
  }
  return { deleted: true as const, imageCount: images.length }
}
