// "Your LoRA is ready": the download with the file's key format and where it loads, the base model's
// licence where it restricts use (FLUX.1-dev), and a snippet for diffusers that fits the family.
import type { LoraFacts } from '~/trainings/lora-usage'
import { CopyButton } from './copy-button'
import { buttonVariants } from './ui/button'

export type LoraResultProps = {
  weights: { href: string; fileName: string; size: string | null }
  facts: LoraFacts
  snippet: string | null
  triggerWord: string
  /** Which checkpoint the download and snippet use; null: the run's final file, nothing to say. */
  from?: { step: number; final: boolean } | null
}

export function LoraResult({ weights, facts, snippet, triggerWord, from = null }: LoraResultProps) {
  return (
    <section aria-labelledby="result-title" className="card flex flex-col gap-4 border-green-200 p-4 sm:p-6">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <div>
          <h3 id="result-title" className="font-semibold">
            Your LoRA is ready
          </h3>
          <p className="text-sm text-slate-600">
            <code>{weights.fileName}</code>
            {weights.size ? ` · ${weights.size}` : null}
          </p>
          {from ? (
            <p className="text-sm text-slate-600" data-testid="lora-from">
              {from.final
                ? `The final file (step ${from.step.toLocaleString('en-US')})`
                : `The checkpoint at step ${from.step.toLocaleString('en-US')}, which you chose`}
              : the download and the code below use it.
            </p>
          ) : null}
        </div>
        <a href={weights.href} download={weights.fileName} className={buttonVariants()}>
          Download LoRA
        </a>
      </div>
      {facts.format ? (
        <p className="text-sm text-slate-700" data-testid="lora-format">
          Safetensors with {facts.format.name} keys (<code className="break-all">{facts.format.keys}</code>): loads in{' '}
          {facts.format.loadsIn}.
        </p>
      ) : null}
      {facts.license ? (
        <p className="rounded-md bg-amber-50 p-3 text-sm text-amber-900" data-testid="lora-license">
          {facts.license.text}{' '}
          <a href={facts.license.href} className="underline" target="_blank" rel="noreferrer">
            {facts.license.name}
          </a>
        </p>
      ) : null}
      {snippet ? (
        <div className="flex flex-col gap-2">
          <div className="flex flex-wrap items-center justify-between gap-2">
            <h4 className="text-sm font-medium text-slate-700">Use it with diffusers</h4>
            <CopyButton text={snippet} label="Copy code" />
          </div>
          <pre
            className="overflow-x-auto rounded-md bg-slate-900 p-3 text-xs leading-relaxed text-slate-100"
            aria-label="Usage code"
          >
            <code>{snippet}</code>
          </pre>
          <p className="text-xs text-slate-500">
            Put <code>{triggerWord}</code> in your prompts to call up what the LoRA learned.
            {facts.hubLoginUrl ? (
              <>
                {' '}
                The base model is gated: accept its license at{' '}
                <a href={facts.hubLoginUrl} className="underline" target="_blank" rel="noreferrer">
                  {facts.hubLoginUrl.replace(/^https:\/\//, '')}
                </a>{' '}
                and run <code>huggingface-cli login</code> once.
              </>
            ) : null}
          </p>
        </div>
      ) : null}
    </section>
  )
}
