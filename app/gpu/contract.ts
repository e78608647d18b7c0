// What every GPU provider promises, as tests. app/gpu/local/provider.server.test.ts runs this suite
// against the real local provider and app/gpu/ec2/provider.server.test.ts against the ec2 provider
// pointed at the fake EC2 (tests/fake-ec2/server.ts), so a provider cannot drift from what the
// supervisor and the reaper rely on. A new provider's tests run it too (docs/adding-a-gpu-provider.md).
import { describe, expect, test } from 'vitest'
import { MACHINE_STATES, type MachineState } from './machine-state'
import type { GpuProvider, LaunchRequest, Machine } from './provider.server'

export type GpuProviderHarness = {
  provider: GpuProvider
  /** A launch request for a new run whose machine boots and keeps running for the length of a test. */
  request(): LaunchRequest
  /** An id in the provider's own format that no machine has. */
  unknownInstanceId: string
  /** Every state the provider's cloud reports for a machine (its own names)… */
  cloudStates: readonly string[]
  /** …and the one of ours each becomes. */
  toMachineState(cloudState: string): MachineState
  /** How long a machine may take to boot, or to be gone after terminate. */
  deadlineMs?: number
}

const DEFAULT_DEADLINE_MS = 15_000
const POLL_INTERVAL_MS = 100

async function until(what: string, deadlineMs: number, probe: () => Promise<Machine | null>): Promise<Machine> {
  const deadline = Date.now() + deadlineMs
  for (;;) {
    const machine = await probe()
    if (machine) return machine
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS))
  }
}

/** Launches a machine for a new run, runs `body`, and terminates the machine whatever happened. */
async function withMachine(harness: GpuProviderHarness, body: (machine: Machine, request: LaunchRequest) => Promise<void>) {
  const request = harness.request()
  const machine = await harness.provider.launch(request)
  try {
    await body(machine, request)
  } finally {
    await harness.provider.terminate([machine.instanceId])
  }
}

function describedAs(harness: GpuProviderHarness, instanceId: string, wanted: (m: Machine) => boolean) {
  return async () => {
    const [machine] = await harness.provider.describe([instanceId])
    return machine && wanted(machine) ? machine : null
  }
}

export function defineGpuProviderContract(getHarness: () => GpuProviderHarness) {
  describe('GPU provider contract', () => {
    test('two launches for one run give one machine', async () => {
      const harness = getHarness()
      const { provider } = harness
      const request = harness.request()
      // At once (two clicks, two processes) and once more after (a retried cycle).
      const [first, second] = await Promise.all([provider.launch(request), provider.launch(request)])
      try {
        const third = await provider.launch(request)
        expect(second.instanceId).toBe(first.instanceId)
        expect(third.instanceId).toBe(first.instanceId)
        expect(first).toMatchObject({ provider: provider.name, runId: request.runId, instanceType: request.instanceType })
        const tagged = (await provider.listTagged()).filter((m) => m.runId === request.runId)
        expect(tagged.map((m) => m.instanceId)).toEqual([first.instanceId])
      } finally {
        await provider.terminate([first.instanceId])
      }
    })

    test('unknown ids are left out of describe', async () => {
      const harness = getHarness()
      await withMachine(harness, async (machine) => {
        const described = await harness.provider.describe([
          harness.unknownInstanceId,
          machine.instanceId,
          harness.unknownInstanceId,
        ])
        expect(described.map((m) => m.instanceId)).toEqual([machine.instanceId])
        expect(await harness.provider.describe([harness.unknownInstanceId])).toEqual([])
        expect(await harness.provider.describe([])).toEqual([])
      })
    })

    test('terminating an unknown or an already terminated machine is not an error', async () => {
      const harness = getHarness()
      const { provider } = harness
      await withMachine(harness, async (machine) => {
        await provider.terminate([machine.instanceId])
        await until(
          'terminated',
          harness.deadlineMs ?? DEFAULT_DEADLINE_MS,
          describedAs(harness, machine.instanceId, (m) => m.state === 'terminated'),
        )
        await expect(provider.terminate([machine.instanceId])).resolves.toBeUndefined()
        await expect(provider.terminate([harness.unknownInstanceId, machine.instanceId])).resolves.toBeUndefined()
        await expect(provider.terminate([harness.unknownInstanceId])).resolves.toBeUndefined()
        await expect(provider.terminate([])).resolves.toBeUndefined()
      })
    })

    test('listTagged excludes terminated machines', async () => {
      const harness = getHarness()
      const { provider } = harness
      await withMachine(harness, async (live) => {
        await withMachine(harness, async (ended) => {
          await provider.terminate([ended.instanceId])
          await until(
            'terminated',
            harness.deadlineMs ?? DEFAULT_DEADLINE_MS,
            describedAs(harness, ended.instanceId, (m) => m.state === 'terminated'),
          )
          const tagged = await provider.listTagged()
          expect(tagged.map((m) => m.instanceId)).toContain(live.instanceId)
          expect(tagged.map((m) => m.instanceId)).not.toContain(ended.instanceId)
          expect(tagged.every((m) => m.state !== 'terminated')).toBe(true)
        })
      })
    })

    test('the address is null until the machine runs, and once it is terminated', async () => {
      const harness = getHarness()
      const { provider } = harness
      const seen: Machine[] = []
      await withMachine(harness, async (launched) => {
        seen.push(launched)
        const running = await until('running', harness.deadlineMs ?? DEFAULT_DEADLINE_MS, async () => {
          const [machine] = await provider.describe([launched.instanceId])
          if (machine) seen.push(machine)
          return machine?.state === 'running' ? machine : null
        })
        expect(running.agentUrl).toMatch(/^https?:\/\//)
        await provider.terminate([launched.instanceId])
        seen.push(
          await until(
            'terminated',
            harness.deadlineMs ?? DEFAULT_DEADLINE_MS,
            describedAs(harness, launched.instanceId, (m) => m.state === 'terminated'),
          ),
        )
      })
      for (const machine of seen) {
        if (machine.state === 'running') expect(machine.agentUrl).not.toBeNull()
        else expect(machine.agentUrl, `a ${machine.state} machine has no address`).toBeNull()
      }
      expect(seen.at(-1)?.state).toBe('terminated')
    })

    test('every cloud state maps to one of ours', () => {
      const harness = getHarness()
      expect(harness.cloudStates.length).toBeGreaterThan(0)
      const mapped = harness.cloudStates.map((state) => harness.toMachineState(state))
      for (const state of mapped) expect(MACHINE_STATES).toContain(state)
      // A machine must be able to be seen running, and seen gone.
      expect(mapped).toContain('running')
      expect(mapped).toContain('terminated')
    })

    test('capabilities are declared', () => {
      const { capabilities } = getHarness().provider
      expect(capabilities.maxInlineJobBytes).toBeGreaterThan(0)
      expect(['client-token', 'claim-file', 'name-or-label']).toContain(capabilities.idempotentLaunchBy)
      expect(['tags', 'names', 'labels']).toContain(capabilities.reapBy)
      expect(typeof capabilities.endsItselfAtHardLimit).toBe('boolean')
      expect(typeof capabilities.storedJobCleanup).toBe('boolean')
      expect(typeof capabilities.runsOnAppHost).toBe('boolean')
    })
  })
}
