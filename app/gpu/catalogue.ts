// What a provider rents: its offers, and how the training model picks one ("the smallest offer with at
// least N GB of GPU memory and M GiB of RAM"). Each provider keeps its own table in
// app/gpu/<provider>/catalogue.ts. Server-only in practice: the tables hold prices the browser does not
// need, so pages get the text they show from their loaders (describeNeed).

export type GpuOffer = {
  /** What the provider launches, e.g. g5.xlarge. */
  readonly instanceType: string
  /** For people: "NVIDIA A10G". */
  readonly gpu: string
  readonly gpuMemoryGb: number
  /** System memory (RAM). */
  readonly ramGib: number
  readonly vcpus: number
  /** What the run page and the fleet page show as cost; 0 for a machine that costs nothing. */
  readonly pricePerHourUsd: number
}

/** Offers, smallest first: the first that meets a need is the one chosen. */
export type Catalogue = readonly GpuOffer[]

export type HardwareNeed = {
  gpuMemoryGb: number
  ramGib?: number
  /** The base model's family ("flux"): a provider may let the operator name a machine per family. */
  family?: string
}

/** The smallest offer with at least this GPU memory and RAM, or null when none is big enough. */
export function smallestOffer(catalogue: Catalogue, need: HardwareNeed): GpuOffer | null {
  return catalogue.find((o) => o.gpuMemoryGb >= need.gpuMemoryGb && o.ramGib >= (need.ramGib ?? 0)) ?? null
}

/** "24 GB · g5.xlarge (NVIDIA A10G)" — how the forms describe what a model needs and what it gets. */
export function describeNeed(catalogue: Catalogue, need: HardwareNeed, offer = smallestOffer(catalogue, need)) {
  return offer
    ? `${need.gpuMemoryGb} GB · ${offer.instanceType} (${offer.gpu})`
    : `${need.gpuMemoryGb} GB · no instance type fits`
}

export function largestGpuMemoryGb(catalogue: Catalogue) {
  return Math.max(...catalogue.map((o) => o.gpuMemoryGb))
}
