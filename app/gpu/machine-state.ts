// The states of a GPU machine as the app sees them, whatever the cloud calls them. Shared with the
// browser (the run page says "shutting down" while a machine of an ended run is still live), so this
// module holds names only.

export const MACHINE_STATES = ['pending', 'running', 'stopping', 'terminated'] as const
export type MachineState = (typeof MACHINE_STATES)[number]

/** Not terminated yet: still costs money, and the fleet page's "live" filter shows it. */
export const LIVE_MACHINE_STATES = ['pending', 'running', 'stopping'] as const satisfies readonly MachineState[]

export function isLiveMachineState(state: string | null | undefined): boolean {
  return (LIVE_MACHINE_STATES as readonly string[]).includes(state ?? '')
}
