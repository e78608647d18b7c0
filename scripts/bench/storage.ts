// What a run leaves in storage, per preset: the stand-in ai-toolkit trains each preset's own config (its
// steps, saves and sample rounds) on a few generated photos, as the agent runs it, and what Trainyard keeps
// of that is counted and weighed: the step saves left by the config's keep rule (the server prunes by the
// same rule), the final file, optimizer.pt, and every round of samples (all kept). The counts are what a
// real run stores. The bytes are the stand-in's: its LoRA files hold a handful of each model's layers and
// its samples are small JPEGs, so they show the shape, not a bill — multiply the LoRA count by the size
// of a real LoRA of that rank.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import sharp from 'sharp'
import { agentEnvironment } from '../../app/gpu/local/provider.server'
import { STAND_IN_SCRIPT_PATH } from '../../app/gpu/provider.server'
import { planOfConfig } from '../../app/runs/checkpoints.server'
import { formatBaseModel, getBaseModel } from '../../app/trainings/base-models'
import { renderJobConfig } from '../../app/trainings/config'
import { TRAINING_PRESETS } from '../../app/trainings/presets'
import { log } from './io'

const PHOTOS = 4
/** How long the stand-in takes for a whole preset (it paces saves and samples within it). */
const STAND_IN_SECONDS = 4
const STAND_IN_TIMEOUT_MS = 120_000

export type StorageFigures = {
  preset: string
  steps: number
  /** step saves kept (the config's max_step_saves_to_keep of those made) and the final file */
  checkpointsKept: number
  checkpointsMade: number
  sampleImages: number
  /** rounds × prompts the job signs URLs for: the stand-in must have written exactly these */
  sampleImagesPlanned: number
  loraFileBytes: number
  optimizerBytes: number
  sampleBytes: number
  totalBytes: number
}

function runStandIn(configPath: string, cwd: string) {
  return new Promise<void>((resolve, reject) => {
    const child = spawn('python3', [path.resolve(STAND_IN_SCRIPT_PATH), configPath], {
      cwd,
      // The allow-list the local provider gives its agents, and the stand-in's pace.
      env: { ...agentEnvironment(process.env), TRAINYARD_STAND_IN_SECONDS: String(STAND_IN_SECONDS) },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)))
    const timer = setTimeout(() => child.kill('SIGKILL'), STAND_IN_TIMEOUT_MS)
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve()
      else reject(new Error(`the stand-in exited with ${code ?? signal}: ${stderr}`))
    })
  })
}

const sizeOf = (file: string) => fs.statSync(file).size

export async function runStorageBench({ workDir }: { workDir: string }): Promise<StorageFigures[]> {
  const figures: StorageFigures[] = []
  for (const preset of TRAINING_PRESETS) {
    const dir = fs.mkdtempSync(path.join(workDir, `storage-${preset.id}-`))
    const dataset = path.join(dir, 'dataset')
    fs.mkdirSync(dataset)
    for (let i = 0; i < PHOTOS; i++) {
      const photo = await sharp({ create: { width: 512, height: 512, channels: 3, background: { r: 40 * i, g: 90, b: 160 } } })
        .jpeg()
        .toBuffer()
      fs.writeFileSync(path.join(dataset, `${i}.jpg`), photo)
      fs.writeFileSync(path.join(dataset, `${i}.txt`), 'a photo of ohwx')
    }
    const training = {
      name: preset.id,
      triggerWord: 'ohwx',
      baseModel: formatBaseModel(getBaseModel(preset.baseModelSlug)),
      config: JSON.stringify(preset.config),
    }
    const config = renderJobConfig(training, { datasetFolder: dataset, outputFolder: path.join(dir, 'output') })
    const configPath = path.join(dir, 'config.json')
    fs.writeFileSync(configPath, JSON.stringify(config))
    log(`storage: ${preset.id} (${config.config.process[0]!.train.steps} steps) through the stand-in`)
    await runStandIn(configPath, path.dirname(path.resolve(STAND_IN_SCRIPT_PATH)))

    const name = config.config.name ?? preset.id
    const saveRoot = path.join(dir, 'output', name)
    const files = fs.readdirSync(saveRoot)
    const saves = files.filter((f) => new RegExp(`^${name}_\\d{9}\\.safetensors$`).test(f))
    const final = path.join(saveRoot, `${name}.safetensors`)
    const samplesDir = path.join(saveRoot, 'samples')
    const samples = fs.readdirSync(samplesDir).filter((f) => /^\d+__\d{9}_\d+\.jpg$/.test(f))
    const loraFileBytes = sizeOf(final)
    const optimizerBytes = fs.existsSync(path.join(saveRoot, 'optimizer.pt')) ? sizeOf(path.join(saveRoot, 'optimizer.pt')) : 0
    const sampleBytes = samples.reduce((total, f) => total + sizeOf(path.join(samplesDir, f)), 0)
    const checkpointBytes = saves.reduce((total, f) => total + sizeOf(path.join(saveRoot, f)), 0) + loraFileBytes
    const plan = planOfConfig(config, { startStep: 0 })
    figures.push({
      preset: preset.id,
      steps: config.config.process[0]!.train.steps,
      checkpointsKept: saves.length + 1,
      checkpointsMade: plan.checkpointSteps.length + 1,
      sampleImages: samples.length,
      sampleImagesPlanned: plan.sampleSteps.length * plan.prompts,
      loraFileBytes,
      optimizerBytes,
      sampleBytes,
      totalBytes: checkpointBytes + optimizerBytes + sampleBytes,
    })
  }
  return figures
}
