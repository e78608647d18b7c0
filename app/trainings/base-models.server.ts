// What each base model gets from the configured GPU provider, as text for the forms: "24 GB · g5.xlarge
// (NVIDIA A10G)". On the server because the provider's catalogue holds prices the browser does not need.
import { describeHardwareNeed } from '../gpu/registry.server'
import { BASE_MODELS, hardwareNeedOf, type BaseModel } from './base-models'

/** "24 GB · g5.xlarge (NVIDIA A10G)" for one model. */
export function describeModelGpu(model: BaseModel) {
  return describeHardwareNeed(hardwareNeedOf(model))
}

/** The same text for every base model, by slug: what the base model select shows. */
export function describeModelGpus(): Record<string, string> {
  return Object.fromEntries(BASE_MODELS.map((m) => [m.slug, describeModelGpu(m)]))
}
