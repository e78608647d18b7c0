// The sample images a run left, each with the prompt it was made from and the step it was made at,
// so a reader can tell what the LoRA learned from what was asked.

export type RunSampleItem = { src: string; prompt: string | null; step: number | null }

export function RunSamples({ samples, active }: { samples: RunSampleItem[]; active: boolean }) {
  if (!samples.length) {
    return (
      <p className="text-sm text-slate-600">
        {active ? 'Sample images appear here when the run finishes.' : 'This run left no sample images.'}
      </p>
    )
  }
  return (
    <ul className="grid grid-cols-1 gap-4 min-[420px]:grid-cols-2 sm:grid-cols-3" aria-label="Samples">
      {samples.map((sample, i) => (
        <li key={sample.src}>
          <figure className="flex flex-col gap-1.5">
            <a href={sample.src} target="_blank" rel="noreferrer">
              <img
                src={sample.src}
                alt={sample.prompt ? `Sample ${i + 1}: ${sample.prompt}` : `Sample ${i + 1}`}
                loading="lazy"
                className="aspect-square w-full rounded-md border border-slate-200 object-cover"
              />
            </a>
            <figcaption className="flex flex-col gap-0.5 text-xs">
              <span className="break-words text-slate-800" data-testid="sample-prompt">
                {sample.prompt ?? <span className="text-slate-500">Prompt not recorded</span>}
              </span>
              {sample.step !== null ? <span className="tabular-nums text-slate-500">Step {sample.step}</span> : null}
            </figcaption>
          </figure>
        </li>
      ))}
    </ul>
  )
}
