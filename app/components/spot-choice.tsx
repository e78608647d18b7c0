// The spot-machine choice of a start form, as the operator's EC2_SPOT allows: a checkbox (offer: off
// by default, prefer: on), a note when every run is spot (always), nothing otherwise (never, or a
// provider without spot machines).
export type SpotChoiceProps = { offered: boolean; defaultSpot: boolean; always: boolean }

export function SpotChoice({ offered, defaultSpot, always }: SpotChoiceProps) {
  if (always) {
    return (
      <p className="text-xs text-slate-600" data-testid="spot-note">
        Runs use spot machines here (cheaper; one may be interrupted, and the run then resumes by itself on a new machine).
      </p>
    )
  }
  if (!offered) return null
  return (
    <label className="flex items-start gap-2 text-sm text-slate-700">
      {/* "false" first: an unchecked box still sends a value, so the server tells "off" from "not asked". */}
      <input type="hidden" name="spot" value="false" />
      <input type="checkbox" name="spot" value="true" defaultChecked={defaultSpot} className="mt-1" />
      <span>Use a spot machine (cheaper; may be interrupted and resume by itself)</span>
    </label>
  )
}
