// The caption estimate's starting table: how long a caption job takes per provider, part by part, and
// the pure arithmetic over it. No I/O and no server imports (the forms may show the same numbers); the
// server (estimateCaptionJob) picks the row for the configured provider, says whether the weights are in
// the machine image and prices the seconds.
//
// The captioner is ai-toolkit's Qwen3VLCaptioner with Qwen/Qwen3-VL-4B-Instruct in bf16 at max_res 512,
// batch 1. The numbers come from three kinds of source, named on each field:
// - measured here: the local provider's simulated machine (the agent, the stand-in, the supervisor), by
//   the training estimate's own measurements (app/runs/estimate.server.ts LOCAL_SIMULATED_TABLE) and
//   `npm run bench -- --only captions`;
// - taken from the training estimate's table for the same EC2 machine: boot and install at boot;
// - on paper, for a g5.xlarge (NVIDIA A10G): nothing here ran on one. The arithmetic follows.
//
// A g5.xlarge on paper. Qwen3-VL-4B-Instruct (its config.json): a text model of 36 layers, hidden size
// 2560, MLP 9728, 32 query and 8 key/value heads of 128, vocabulary ~152k with tied embeddings; a vision
// encoder of 24 layers, hidden size 1024, 16 px patches merged 2 × 2.
//   parameters, text: per layer 2560·4096·2 (q, o) + 2560·1024·2 (k, v) + 3·2560·9728 (MLP) ≈ 100.9 M,
//     × 36 ≈ 3.63 B, + 152k · 2560 ≈ 0.39 B of embeddings ≈ 4.0 B;
//   vision: per layer 4·1024² + 2·1024·4096 ≈ 12.6 M, × 24 ≈ 0.30 B, + merger ≈ 0.4 B;
//   ≈ 4.4 B in all: × 2 bytes (bf16) ≈ 8.9 GB, the size of its two safetensors shards.
// Memory: 8.9 GB of weights + activations and KV cache for ~450 tokens (36 layers · 2 · 8 · 128 · 2 bytes
//   = 147 kB per token, 66 MB) fit the A10G's 24 GB with room to spare; ai-toolkit loads the model on
//   the CPU first (device_map "cpu"), so 8.9 GB of RAM: a g5.xlarge has 16 GiB. A T4 (g4dn) has no bf16
//   tensor cores and the captioner runs in bf16, so g5.xlarge is the smallest machine.
// Prefill per image: max_res 512 → at most 512² px (BaseCaptioner.load_pil_image) = 1,024 patches of
//   16² px → 256 tokens after the 2 × 2 merge, + ~60 prompt tokens ≈ 320 text-model tokens.
//   FLOPs ≈ 2 · 0.30 B · 1,024 (vision) + 2 · 4.0 B · 320 (text) ≈ 0.6 + 2.6 = 3.2 TFLOP. The A10G's bf16
//   tensor cores give about 70 TFLOPS dense (AWS's A10G is clocked below the A10's 125); at a third of
//   that (batch 1, eager) ≈ 0.14 s, + ~0.05 s to open, resize and tokenize the image ≈ 0.2 s.
// Decoding per token: every new token reads the text model's weights once: 4.0 B · 2 bytes = 8.0 GB at
//   the A10G's 600 GB/s (GDDR6, 24 GB) = 13.4 ms at best. transformers' generate at batch 1 reaches about
//   60 % of the bandwidth on a model this size (≈ 22 ms) and adds ~8 ms of kernel launches and Python per
//   token over 36 layers: ≈ 30 ms a token, ~33 tokens/s.
// Per image at the token budget: 0.2 s + 100 tokens × 0.030 s ≈ 3.2 s. 100 is the budget of the default
//   options (maxChars 300, a token per ~3 characters) and an upper bound: generation stops at the end of
//   the caption (a one-sentence caption is ~50–80 tokens, so a real job is likely faster).
// The model's download (not in the image): 8.9 GB from the Hugging Face Hub at an assumed 100 MB/s (a
//   g5.xlarge has "up to 10 Gbit/s"; the gp3 disk writes 125 MB/s at its baseline) ≈ 90 s.
// Loading: importing torch, transformers and ai-toolkit's job machinery ≈ 15 s, the weights from the
//   page cache just filled by the download into RAM and over PCIe to the GPU ≈ 10 s, the processor ≈ 5 s:
//   ≈ 30 s. Baked into the image, the weights are read from a volume restored from the AMI's snapshot,
//   whose blocks come from S3 on first read: at best gp3's 125 MB/s, 8.9 GB / 125 MB/s ≈ 71 s, + 20 s ≈
//   90 s. So baking saves the download (and a dependency on the Hub) rather than much time.
import type { ProviderName } from '../gpu/provider-env'

export type CaptionTableRow = {
  /** What the provider launches for a caption job, and for people. */
  instanceType: string
  gpu: string
  /** Launch to the agent's first word. */
  bootSeconds: number
  /** Installing ai-toolkit at boot (EC2 without an AMI of our own). */
  installSeconds: number
  /** Downloading the model when the machine image does not hold it (0: the stand-in downloads nothing). */
  downloadSeconds: number
  /** Loading the model after a download (weights in the page cache). */
  loadingSeconds: number
  /** Loading it from the machine image's own disk (weights baked in). */
  bakedLoadingSeconds: number
  /** The agent fetching one image by its signed URL. */
  imageFetchSeconds: number
  /** Per image: the vision encoder and the prompt, before the first new token. */
  prefillSeconds: number
  /** Per new token. */
  tokenSeconds: number
  /** The token budget per image assumed when none is given (the default options' max_new_tokens). */
  maxNewTokens: number
  /**
   * A simulated captioner (the stand-in): its whole captioning time, whatever the number of images (the
   * job's simulateSeconds, which the local provider sets to SIMULATED_TRAINING_SECONDS as for training;
   * 60 is its default), or null for a real captioner.
   */
  simulatedSeconds: number | null
}

/**
 * The part of a simulated caption job's seconds the stand-in spends before its first image (as training's
 * Pace); it spreads the rest evenly over the images.
 */
export const SIMULATED_LOADING_SHARE = 0.15

/** A g5.xlarge on paper (see the arithmetic above). */
const G5_XLARGE: CaptionTableRow = {
  instanceType: 'g5.xlarge',
  gpu: 'NVIDIA A10G',
  // The training estimate's EC2 figures (app/runs/estimate.server.ts EC2_BOOT_SECONDS,
  // EC2_INSTALL_SECONDS): the same machine and the same script; the test keeps them equal.
  bootSeconds: 120,
  installSeconds: 600,
  downloadSeconds: 90,
  loadingSeconds: 30,
  bakedLoadingSeconds: 90,
  // A few MB from S3 in the same region.
  imageFetchSeconds: 0.1,
  prefillSeconds: 0.2,
  tokenSeconds: 0.03,
  maxNewTokens: 100,
  simulatedSeconds: null,
}

export const CAPTION_TABLE: { readonly [P in ProviderName]: CaptionTableRow } = {
  // The simulated machine: the agent and the stand-in captioner as processes on this computer. Boot as
  // the training estimate measured it (LOCAL_SIMULATED_TABLE.bootSeconds); each image is a local HTTP
  // fetch; the captioning itself is the stand-in's simulatedSeconds (SIMULATED_TRAINING_SECONDS, 60 by
  // default; the server passes its own). With LOCAL_TRAINER_COMMAND (a real ai-toolkit on a GPU of the developer's) the server passes
  // simulatedSeconds: null and the paper figures below apply, as if that GPU were an A10G.
  local: {
    ...G5_XLARGE,
    instanceType: 'local',
    gpu: 'simulated',
    bootSeconds: 0.3,
    installSeconds: 0,
    downloadSeconds: 0,
    imageFetchSeconds: 0.01,
    simulatedSeconds: 60,
  },
  ec2: G5_XLARGE,
}

export type CaptionPart = 'boot' | 'download' | 'loading' | 'captioning'

export type CaptionSetup = {
  /** The machine image holds the model (EC2_AMI_MODELS names Qwen/Qwen3-VL-4B-Instruct). */
  weightsBaked?: boolean
  /** The machine installs ai-toolkit at boot (EC2 without EC2_AMI_ID). */
  installsAtBoot?: boolean
  /** The token budget per image (the job's max_new_tokens); default the row's. */
  maxNewTokens?: number
  /**
   * A number: the captioner is simulated and takes this long (the job's simulateSeconds); null: a real
   * captioner. Unset: as the row says.
   */
  simulatedSeconds?: number | null
}

/** Not a count (NaN, negative, fractional): no images, rather than a NaN that reaches a page. */
function countOf(imageCount: number) {
  return Number.isFinite(imageCount) ? Math.max(0, Math.floor(imageCount)) : 0
}

/** Seconds per part of a caption job of this many images, in tenths (a short job's parts do not round away). */
export function captionPartsFor(
  imageCount: number,
  table: CaptionTableRow,
  setup: CaptionSetup = {},
): Array<{ part: CaptionPart; seconds: number }> {
  const images = countOf(imageCount)
  const simulated = setup.simulatedSeconds !== undefined ? setup.simulatedSeconds : table.simulatedSeconds
  const tokens = setup.maxNewTokens ?? table.maxNewTokens
  const boot = table.bootSeconds + (setup.installsAtBoot ? table.installSeconds : 0)
  const fetch = images * table.imageFetchSeconds
  let download: number
  let loading: number
  let captioning: number
  if (simulated !== null) {
    // The stand-in's own pacing: nothing to download, SIMULATED_LOADING_SHARE of its seconds loading,
    // the rest over the images.
    download = fetch
    loading = SIMULATED_LOADING_SHARE * simulated
    captioning = (1 - SIMULATED_LOADING_SHARE) * simulated
  } else {
    download = fetch + (setup.weightsBaked ? 0 : table.downloadSeconds)
    loading = setup.weightsBaked ? table.bakedLoadingSeconds : table.loadingSeconds
    captioning = images * (table.prefillSeconds + Math.max(0, tokens) * table.tokenSeconds)
  }
  return (
    [
      ['boot', boot],
      ['download', download],
      ['loading', loading],
      ['captioning', captioning],
    ] as const
  ).map(([part, seconds]) => ({ part, seconds: Math.max(0, Math.round(seconds * 10) / 10) }))
}

/** Whole seconds of a caption job of this many images on this row: the sum of captionPartsFor. */
export function captionSecondsFor(imageCount: number, table: CaptionTableRow, setup: CaptionSetup = {}): number {
  return Math.round(captionPartsFor(imageCount, table, setup).reduce((sum, p) => sum + p.seconds, 0))
}
