// The one GPU-provider interface (DESIGN.md "Run lifecycle rules"): launch a machine for a run, describe
// many in one call, list the machines this app tagged, terminate. Two implementations: `local` (the agent as a
// child process on 127.0.0.1, the default) and `ec2` (@aws-sdk/client-ec2). Not wired into the app yet: the
// supervisor of issue 4 will use it.

/** What the agent needs to run (scripts/agent/README.md, "Job format"); passed through as JSON. */
export type AgentJob = Record<string, unknown> & { runId: string; token: string }

export type LaunchRequest = {
  runId: string
  /** e.g. g5.xlarge; the local provider records it and ignores it. */
  instanceType: string
  job: AgentJob
  /** Hard stop: the machine powers itself off after this many minutes whatever happens. */
  maxRunMinutes: number
}

export type MachineState = 'pending' | 'running' | 'stopping' | 'terminated'

export type Machine = {
  provider: 'local' | 'ec2'
  instanceId: string
  runId: string | null
  instanceType: string
  state: MachineState
  /** Where the supervisor polls the agent (http://host:port), once known. */
  agentUrl: string | null
  launchedAt: Date | null
}

export interface GpuProvider {
  readonly name: 'local' | 'ec2'
  /** Starts a machine for the run. Idempotent: a second call for the same runId returns the same machine. */
  launch(request: LaunchRequest): Promise<Machine>
  /** The machines with these ids, in one call; unknown ids are left out (they are gone). */
  describe(instanceIds: string[]): Promise<Machine[]>
  /** Every machine this app has tagged and that is not terminated (for the reaper). */
  listTagged(): Promise<Machine[]>
  /** Terminates; already gone is not an error. */
  terminate(instanceIds: string[]): Promise<void>
}

/** The agent's port on a GPU machine (EC2 security groups must let the app reach it). */
export const AGENT_PORT = 8787
