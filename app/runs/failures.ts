// The kinds of failure a run can end with, and what a person can do about each: the one table the
// supervisor (which stores `TrainingRun.errorKind`) and the run page (which shows the title, the next
// step and its link) share. Shared with the browser: no secret, no price.
//
// Where each kind comes from:
//   - the agent, in a `failed` message's `kind` (it reads the trainer's output and the machine):
//       gpu-out-of-memory      CUDA out of memory (torch.OutOfMemoryError) while loading or training
//       system-out-of-memory   the trainer was killed by the kernel's OOM killer (SIGKILL, exit 137)
//       hub-access             Hugging Face answered 401/403: a gated model whose license is not
//                              accepted, or a missing or bad token
//       disk-full              "No space left on device" while downloading or saving
//       download-failed        the images or the base model could not be downloaded
//       config-refused         ai-toolkit refused the config before training
//       no-gpu                 no NVIDIA GPU visible on the machine (nvidia-smi, torch.cuda)
//       driver-too-old         the NVIDIA driver is older than the installed torch needs
//       not-enough-disk        less free disk than the base model needs, seen before downloading
//       diverged               the loss stayed NaN for a long stretch: the run was stopped
//       trainer-crashed        the trainer exited with an error not listed above
//       time-limit             the run reached MAX_RUN_MINUTES
//   - the supervisor, when a run reaches its owner's monthly budget while training (it stops and keeps
//     its newest checkpoint):
//       budget                 the owner's spend this month reached their budget (app/runs/budget.server.ts)
//       agent-error            the agent itself failed (a bad job, an upload refused)
//   - the supervisor, when the GPU provider refuses the launch (EC2's error codes):
//       launch-quota           VcpuLimitExceeded: the account's vCPU quota for G instances is too low
//                              (new accounts start at 0)
//       launch-ami             InvalidAMIID.*: the machine image does not exist in this region
//       launch-capacity        Unsupported / InsufficientInstanceCapacity: the instance type is not
//                              offered, or has no free capacity, in the subnet's zone
// A kind this table does not know (a newer agent) is shown with the sentence alone.

export const FAILURE_KINDS = [
  'gpu-out-of-memory',
  'system-out-of-memory',
  'hub-access',
  'disk-full',
  'download-failed',
  'config-refused',
  'no-gpu',
  'driver-too-old',
  'not-enough-disk',
  'diverged',
  'trainer-crashed',
  'time-limit',
  'budget',
  'agent-error',
  'launch-quota',
  'launch-ami',
  'launch-capacity',
] as const
export type FailureKind = (typeof FAILURE_KINDS)[number]

/** The quota to raise for G instances (the same for every region), and where AWS lets you ask. */
export const G_INSTANCE_QUOTA_NAME = 'Running On-Demand G and VT instances'
export const G_INSTANCE_QUOTA_URL = 'https://console.aws.amazon.com/servicequotas/home/services/ec2/quotas/L-DB2E81BA'

/** Where a next step points: a page of this app or an outside page (opened in a new tab). */
type LinkTarget = 'training-settings' | 'model-page' | 'quota'

type FailureAdvice = { title: string; nextStep: string; link: { target: LinkTarget; text: string } | null }

const ADVICE: Record<FailureKind, FailureAdvice> = {
  'gpu-out-of-memory': {
    title: 'The GPU ran out of memory',
    nextStep:
      'Choose a machine with more memory, or lower the memory the training needs (low_vram, quantizing, a smaller batch or resolution).',
    link: { target: 'training-settings', text: 'Choose a machine with more memory' },
  },
  'system-out-of-memory': {
    title: 'The machine ran out of memory',
    nextStep:
      'The trainer was stopped for using more system memory than the machine has: choose a machine with more memory, or turn on low_vram.',
    link: { target: 'training-settings', text: 'Choose a machine with more memory' },
  },
  'hub-access': {
    title: 'Hugging Face refused the base model',
    nextStep:
      'The model is gated or the token was refused: accept the model’s license on Hugging Face with the account of the token, or add your own token in Settings.',
    link: { target: 'model-page', text: 'Accept the license on Hugging Face' },
  },
  'disk-full': {
    title: 'The machine’s disk filled up',
    nextStep: 'Try again; if it happens again, the operator can give machines a larger disk (EC2_ROOT_VOLUME_GB).',
    link: null,
  },
  'download-failed': {
    title: 'A download failed',
    nextStep: 'The images or the base model could not be downloaded: try again in a few minutes.',
    link: null,
  },
  'config-refused': {
    title: 'ai-toolkit refused the config',
    nextStep: 'Fix the setting the output below names, then try again.',
    link: { target: 'training-settings', text: 'Edit the settings' },
  },
  'no-gpu': {
    title: 'The machine had no usable GPU',
    nextStep: 'Try again; if it happens again, the operator should check the machine image and instance type.',
    link: null,
  },
  'driver-too-old': {
    title: 'The machine’s NVIDIA driver is too old',
    nextStep: 'The operator must use a machine image with a newer driver (see docs/gpu-machines.md).',
    link: null,
  },
  'not-enough-disk': {
    title: 'The machine’s disk is too small for this model',
    nextStep: 'The operator can give machines a larger disk (EC2_ROOT_VOLUME_GB), or bake the model into the machine image.',
    link: null,
  },
  diverged: {
    title: 'The training diverged',
    nextStep: 'The loss stayed NaN, so the run was stopped: lower the learning rate and try again.',
    link: { target: 'training-settings', text: 'Lower the learning rate' },
  },
  'trainer-crashed': {
    title: 'The trainer crashed',
    nextStep: 'The output below says where: try again, and if it fails the same way, change the setting it names.',
    link: null,
  },
  'time-limit': {
    title: 'The run reached its time limit',
    nextStep: 'Train fewer steps, or ask the operator for a longer limit (MAX_RUN_MINUTES).',
    link: { target: 'training-settings', text: 'Train fewer steps' },
  },
  budget: {
    title: 'The run reached your monthly budget',
    nextStep: 'It stopped and kept its newest checkpoint. An administrator can raise your budget; it renews on the 1st.',
    link: null,
  },
  'agent-error': {
    title: 'The machine’s agent failed',
    nextStep: 'Try again; if it happens again, tell the operator what the output below says.',
    link: null,
  },
  'launch-quota': {
    title: 'AWS refused the machine: the vCPU quota is too low',
    nextStep: `The AWS account's vCPU quota for G instances is too low (new accounts start at 0): ask for more vCPUs of “${G_INSTANCE_QUOTA_NAME}” in Service Quotas, then try again.`,
    link: { target: 'quota', text: 'Ask for more in Service Quotas' },
  },
  'launch-ami': {
    title: 'AWS refused the machine image',
    nextStep:
      'The AMI is wrong or not in this region: the operator must set EC2_AMI_ID to an image of this region, or unset it to use the current Deep Learning Base AMI.',
    link: null,
  },
  'launch-capacity': {
    title: 'AWS has no such machine in this zone',
    nextStep:
      'The instance type is not offered, or has no free capacity, in that zone: try again later, or the operator can choose a subnet in another zone (EC2_SUBNET_ID).',
    link: null,
  },
}

export function isFailureKind(value: string | null | undefined): value is FailureKind {
  return (FAILURE_KINDS as readonly string[]).includes(value ?? '')
}

/** The longest kind name stored: one from a newer agent is kept as sent, within this. */
export const FAILURE_KIND_MAX_CHARS = 64

/**
 * What the run page says about a failure of this kind, with its link resolved; null for an unknown
 * kind (the sentence alone is shown). `modelPage` is the base model's page on the Hub (null when not known).
 */
export function failureAdvice(
  kind: string | null | undefined,
  { trainingId, modelPage }: { trainingId: string; modelPage: string | null },
) {
  if (!isFailureKind(kind)) return null
  const advice = ADVICE[kind]
  const href = (target: LinkTarget) => {
    switch (target) {
      case 'training-settings':
        return `/trainings/${trainingId}/settings`
      case 'model-page':
        return modelPage
      case 'quota':
        return G_INSTANCE_QUOTA_URL
    }
  }
  const target = advice.link ? href(advice.link.target) : null
  const link = advice.link && target ? { href: target, text: advice.link.text, external: /^https?:/.test(target) } : null
  return { kind, title: advice.title, nextStep: advice.nextStep, link }
}

/**
 * The kind of a launch refused by the provider, from its error code (the AWS SDK puts EC2's `Code` in
 * the error's name), or null when it is none of these (a network error, a provider bug).
 */
export function launchFailureKind(code: string): Extract<FailureKind, `launch-${string}`> | null {
  if (code === 'VcpuLimitExceeded') return 'launch-quota'
  if (code.startsWith('InvalidAMIID.')) return 'launch-ami'
  if (code === 'Unsupported' || code === 'InsufficientInstanceCapacity') return 'launch-capacity'
  return null
}
