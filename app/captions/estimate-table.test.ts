// The caption estimate's table and its arithmetic: the paper figures for a g5.xlarge add up as the
// comment in estimate-table.ts says, the simulated machine follows the stand-in's seconds, and the
// figures shared with the training estimate stay equal to its own.
import fs from 'node:fs'
import path from 'node:path'
import { expect, test } from 'vitest'
import { repoRoot } from '../../tests/setup/paths'
import { EC2_BOOT_SECONDS, EC2_INSTALL_SECONDS, LOCAL_SIMULATED_TABLE } from '~/runs/estimate.server'
import { EC2_CATALOGUE } from '~/gpu/ec2/catalogue'
import { CAPTION_TABLE, captionPartsFor, captionSecondsFor, SIMULATED_LOADING_SHARE, type CaptionPart } from './estimate-table'

const part = (parts: Array<{ part: CaptionPart; seconds: number }>, name: CaptionPart) =>
  parts.find((p) => p.part === name)!.seconds

test('a g5.xlarge on paper: boot, the model download, loading and 3.2 s per image at 100 tokens', () => {
  const g5 = CAPTION_TABLE.ec2
  // 0.2 s prefill + 100 tokens × 30 ms; 100 = the default options' budget (maxChars 300).
  expect(g5.maxNewTokens).toBe(100)
  expect(g5.prefillSeconds + g5.maxNewTokens * g5.tokenSeconds).toBeCloseTo(3.2, 5)
  const twenty = captionPartsFor(20, g5)
  expect(twenty).toEqual([
    { part: 'boot', seconds: 120 },
    { part: 'download', seconds: 92 }, // 90 s of model, 20 × 0.1 s of images
    { part: 'loading', seconds: 30 },
    { part: 'captioning', seconds: 64 },
  ])
  expect(captionSecondsFor(20, g5)).toBe(306)
  expect(captionSecondsFor(200, g5)).toBe(120 + 90 + 20 + 30 + 640)
})

test('weights baked into the image: no download, loading from the image disk instead', () => {
  const g5 = CAPTION_TABLE.ec2
  const baked = captionPartsFor(20, g5, { weightsBaked: true })
  expect(part(baked, 'download')).toBe(2)
  expect(part(baked, 'loading')).toBe(g5.bakedLoadingSeconds)
  expect(captionSecondsFor(200, g5, { weightsBaked: true })).toBe(120 + 20 + 90 + 640)
})

test('installing ai-toolkit at boot adds its minutes to the boot', () => {
  expect(part(captionPartsFor(20, CAPTION_TABLE.ec2, { installsAtBoot: true }), 'boot')).toBe(720)
  // The simulated machine installs nothing.
  expect(part(captionPartsFor(20, CAPTION_TABLE.local, { installsAtBoot: true }), 'boot')).toBe(0.3)
})

test('the token budget sets the time per image, linearly', () => {
  const g5 = CAPTION_TABLE.ec2
  const at = (maxNewTokens: number) => part(captionPartsFor(100, g5, { maxNewTokens }), 'captioning')
  expect(at(64)).toBeCloseTo(100 * (0.2 + 64 * 0.03), 5)
  expect(at(256) - at(128)).toBeCloseTo(100 * 128 * 0.03, 5)
  // A nonsense budget costs the prefill, never negative seconds.
  expect(at(-5)).toBeCloseTo(20, 5)
})

test('the simulated machine: the stand-in spends its seconds whatever the count, 15 % of them loading', () => {
  const local = CAPTION_TABLE.local
  expect(local.simulatedSeconds).toBe(60)
  const parts = captionPartsFor(200, local)
  expect(part(parts, 'boot')).toBe(0.3)
  expect(part(parts, 'download')).toBe(2) // 200 local fetches
  expect(part(parts, 'loading')).toBe(SIMULATED_LOADING_SHARE * 60)
  expect(part(parts, 'captioning')).toBe(51)
  // The job's own simulateSeconds (the server's SIMULATED_TRAINING_SECONDS) replaces the row's; 200
  // images then differ from 20 only by their fetches.
  const fixed = (n: number) => captionSecondsFor(n, local, { simulatedSeconds: 4 })
  expect(fixed(20)).toBe(Math.round(0.3 + 0.2 + 4))
  expect(fixed(200)).toBe(Math.round(0.3 + 2 + 4))
  // A real trainer on the local provider (LOCAL_TRAINER_COMMAND): the paper figures apply.
  expect(captionSecondsFor(20, local, { simulatedSeconds: null })).toBe(Math.round(0.3 + 0.2 + 30 + 64))
  // An EC2 machine told to simulate (the EC2 stand-in): its boot, the stand-in's seconds.
  expect(captionSecondsFor(20, CAPTION_TABLE.ec2, { simulatedSeconds: 10 })).toBe(Math.round(120 + 2 + 10))
})

test('odd counts: none, negative, fractional or not a number give finite seconds', () => {
  const g5 = CAPTION_TABLE.ec2
  expect(captionSecondsFor(0, g5)).toBe(120 + 90 + 30)
  expect(captionSecondsFor(-3, g5)).toBe(captionSecondsFor(0, g5))
  expect(captionSecondsFor(Number.NaN, g5)).toBe(captionSecondsFor(0, g5))
  expect(captionSecondsFor(Number.POSITIVE_INFINITY, g5)).toBe(captionSecondsFor(0, g5))
  expect(captionSecondsFor(2.9, g5)).toBe(captionSecondsFor(2, g5))
  for (const p of captionPartsFor(Number.NaN, CAPTION_TABLE.local)) expect(Number.isFinite(p.seconds)).toBe(true)
})

test('the figures shared with the training estimate and the catalogue stay equal to theirs', () => {
  expect(CAPTION_TABLE.ec2.bootSeconds).toBe(EC2_BOOT_SECONDS)
  expect(CAPTION_TABLE.ec2.installSeconds).toBe(EC2_INSTALL_SECONDS)
  expect(CAPTION_TABLE.local.bootSeconds).toBe(LOCAL_SIMULATED_TABLE.bootSeconds)
  const offer = EC2_CATALOGUE.find((o) => o.instanceType === CAPTION_TABLE.ec2.instanceType)
  expect(offer?.gpu).toBe(CAPTION_TABLE.ec2.gpu)
  // The captioner needs ≥ 24 GB of GPU memory and 8.9 GB of RAM to load on the CPU first.
  expect(offer!.gpuMemoryGb).toBeGreaterThanOrEqual(24)
  expect(offer!.ramGib).toBeGreaterThan(8.9)
})

test('the paper table in docs/gpu-machines.md says what the table computes', () => {
  const doc = fs.readFileSync(path.join(repoRoot, 'docs', 'gpu-machines.md'), 'utf8')
  const g5 = CAPTION_TABLE.ec2
  const price = EC2_CATALOGUE.find((o) => o.instanceType === g5.instanceType)!.pricePerHourUsd
  for (const images of [20, 200]) {
    const row = doc.split('\n').find((line) => line.startsWith(`| ${images} `))
    expect(row, `a row for ${images} images`).toBeDefined()
    const cells = row!.split('|').slice(2, 5)
    const setups = [{}, { weightsBaked: true }, { installsAtBoot: true }]
    setups.forEach((setup, i) => {
      const seconds = captionSecondsFor(images, g5, setup)
      expect(cells[i]).toContain(`${seconds.toLocaleString('en-US')} s`)
      expect(cells[i]).toContain(`$${((seconds * price) / 3600).toFixed(3)}`)
    })
  }
})
