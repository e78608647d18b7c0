// The user data of an EC2 machine: a bash script cloud-init runs as root at first boot. It schedules the
// hard power-off, writes the agent (gzipped, base64) and its job, and starts the agent. The job travels
// inside it while the whole script fits EC2's 16 KB; a bigger job is stored by the app and the script
// only carries its signed URL (app/runs/job.server.ts decides, from the provider's capabilities).
import fs from 'node:fs'
import zlib from 'node:zlib'
import type { AgentJob, LaunchRequest } from '../provider.server'

/** EC2's limit on user data, counted before base64. */
export const USER_DATA_MAX_BYTES = 16 * 1024

/** What the agent runs on an EC2 machine (EC2_TRAINER, EC2_AI_TOOLKIT_DIR, SIMULATED_TRAINING_SECONDS). */
export type Ec2Trainer = {
  trainer: 'ai-toolkit' | 'simulate'
  aiToolkitDir: string
  simulateSeconds: number
}

export type UserDataOptions = { request: LaunchRequest; agentPort: number; agentScriptPath: string; trainer?: Ec2Trainer }

// The agent is ~29 KB; gzip + base64 is done once per file, not per launch.
const agentPayloadCache = new Map<string, string>()

function agentPayload(scriptPath: string) {
  let payload = agentPayloadCache.get(scriptPath)
  if (payload === undefined) {
    payload = zlib.gzipSync(fs.readFileSync(scriptPath), { level: 9 }).toString('base64')
    agentPayloadCache.set(scriptPath, payload)
  }
  return payload
}

/**
 * The job as the agent on the machine reads it, inline or fetched from its stored copy: the app's job
 * with this provider's trainer (ai-toolkit in the AMI's folder, or the simulation), the agent's own time
 * limit and the power-off when done (the instance terminates itself when it powers off).
 */
export function ec2MachineJob(request: LaunchRequest, trainer?: Ec2Trainer): AgentJob {
  let job: AgentJob = request.job
  if (trainer && job.trainer === 'ai-toolkit') {
    if (trainer.trainer === 'simulate') {
      const { trainerCommand: _command, trainerCwd: _folder, ...rest } = job
      job = { ...rest, trainer: 'simulate', simulateSeconds: job.simulateSeconds ?? trainer.simulateSeconds }
    } else {
      job = { ...job, trainerCwd: trainer.aiToolkitDir }
    }
  }
  return {
    ...job,
    // The agent's own time limit fails the run with a reason; the power-off is the hard stop.
    maxRunMinutes: job.maxRunMinutes ?? request.maxRunMinutes,
    powerOffWhenDone: true,
  }
}

/**
 * The user data. The fake EC2 runs the same script with TRAINYARD_AGENT_DIR/HOST/PORT set to a temporary
 * folder, 127.0.0.1 and a free port.
 *
 * The job travels inside it (gzipped), unless the job is a pointer `{ runId, token, jobUrl }`: a job
 * too big for 16 KB (hundreds of signed image URLs) is stored by the app and fetched by the agent from
 * that signed URL (TRAINYARD_JOB_URL). Throws when the script is over EC2's limit.
 */
export function buildUserData(options: UserDataOptions) {
  const script = renderUserData(options)
  const bytes = Buffer.byteLength(script)
  if (bytes > USER_DATA_MAX_BYTES) {
    throw new Error(
      `EC2 user data for run ${options.request.runId} is ${bytes} bytes, over EC2's limit of ${USER_DATA_MAX_BYTES}: the job is too big to ` +
        'travel in user data (store it and launch with a { runId, token, jobUrl } job instead)',
    )
  }
  return script
}

/** A signed URL goes into the script between single quotes: nothing in it may end the quotes. */
const JOB_URL_PATTERN = /^https?:\/\/[A-Za-z0-9._~:/?#[\]@!$&()*+,;=%-]{1,4000}$/

/** The script, whatever its size (buildUserData refuses one over the limit). */
export function renderUserData({ request, agentPort, agentScriptPath, trainer }: UserDataOptions) {
  const { runId, maxRunMinutes } = request
  if (!Number.isFinite(maxRunMinutes) || maxRunMinutes <= 0) {
    throw new Error(`maxRunMinutes must be a positive number (got ${maxRunMinutes})`)
  }
  // Only [A-Za-z0-9_-] reaches the script's comment; the id is also the ClientToken (≤ 64 ASCII).
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(runId)) throw new Error(`runId must be 1-64 of [A-Za-z0-9_-] (got ${JSON.stringify(runId)})`)
  const hardStopMinutes = Math.ceil(maxRunMinutes)
  const jobUrl = typeof request.job.jobUrl === 'string' ? request.job.jobUrl : null
  if (jobUrl !== null && !JOB_URL_PATTERN.test(jobUrl)) throw new Error(`run ${runId}: the job URL is not a plain http(s) URL`)
  let jobLines: string[]
  let jobArgs: string
  if (jobUrl !== null) {
    // In the environment rather than on the command line: `ps` would show the URL to every local user.
    jobLines = [`export TRAINYARD_JOB_URL='${jobUrl}'`]
    jobArgs = ''
  } else {
    const job = ec2MachineJob(request, trainer)
    const jobPayload = zlib.gzipSync(Buffer.from(JSON.stringify(job)), { level: 9 }).toString('base64')
    jobLines = ['base64 -d > "$D/job.json.gz" <<\'TRAINYARD_JOB_EOF\'', jobPayload, 'TRAINYARD_JOB_EOF']
    // The agent reads a gzipped job file as well as a plain one.
    jobArgs = ' --job "$D/job.json.gz"'
  }
  return [
    '#!/bin/bash',
    `# Trainyard GPU machine for run ${runId} (written by app/gpu/ec2/user-data.server.ts).`,
    'set -eu',
    'umask 077',
    '# Hard stop before anything else: the instance terminates itself when it powers off.',
    `if ! shutdown -h +${hardStopMinutes}; then echo "trainyard: cannot schedule the hard stop" >&2; shutdown -h now || poweroff; exit 1; fi`,
    'D="${TRAINYARD_AGENT_DIR:-/opt/trainyard}"',
    'mkdir -p "$D"',
    'base64 -d > "$D/agent.py.gz" <<\'TRAINYARD_AGENT_EOF\'',
    agentPayload(agentScriptPath),
    'TRAINYARD_AGENT_EOF',
    ...jobLines,
    'gunzip -f "$D/agent.py.gz"',
    `exec python3 "$D/agent.py"${jobArgs} --workdir "$D/work" --host "\${TRAINYARD_AGENT_HOST:-0.0.0.0}" --port "\${TRAINYARD_AGENT_PORT:-${agentPort}}"`,
    '',
  ].join('\n')
}
