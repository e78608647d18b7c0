// The user data of an EC2 machine: a bash script cloud-init runs as root at first boot. It schedules the
// hard power-off, writes the agent and its job, and starts the agent. The whole script is gzipped: EC2
// counts its 16 KB before base64, and cloud-init recognises gzip by its magic bytes and runs what it
// unpacks as if it had been sent plain. Gzipping the script once (rather than base64 of a gzipped agent
// inside a plain script) saves base64's third: ~9.9 KB for the agent instead of ~13 KB. The job travels
// inside it while the gzipped script fits; a bigger job is stored by the app and the script only carries
// its signed URL (app/runs/job.server.ts decides, from the provider's capabilities).
import fs from 'node:fs'
import zlib from 'node:zlib'
import type { AgentJob, LaunchRequest } from '../provider.server'

/** EC2's limit on user data, counted before base64 (here: the gzipped script's bytes). */
export const USER_DATA_MAX_BYTES = 16 * 1024

/** What the agent runs on an EC2 machine (EC2_TRAINER, EC2_AI_TOOLKIT_DIR, SIMULATED_TRAINING_SECONDS). */
export type Ec2Trainer = {
  trainer: 'ai-toolkit' | 'simulate'
  aiToolkitDir: string
  simulateSeconds: number
}

export type UserDataOptions = { request: LaunchRequest; agentPort: number; agentScriptPath: string; trainer?: Ec2Trainer }

const AGENT_END = 'TRAINYARD_AGENT_EOF'
const JOB_END = 'TRAINYARD_JOB_EOF'

// The agent (~29 KB) is read once per file, not per launch.
const agentSourceCache = new Map<string, string>()

function agentSource(scriptPath: string) {
  let source = agentSourceCache.get(scriptPath)
  if (source === undefined) {
    source = fs.readFileSync(scriptPath, 'utf8')
    // It travels verbatim in a quoted here-document: a line equal to the end marker would cut it short.
    if (source.split('\n').includes(AGENT_END))
      throw new Error(`${scriptPath} has a line "${AGENT_END}": the user data cannot carry it`)
    if (!source.endsWith('\n')) source += '\n'
    agentSourceCache.set(scriptPath, source)
  }
  return source
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
 * The user data as EC2 takes it (before base64): the gzipped script. The fake EC2 unpacks it as cloud-init
 * does and runs the same script with TRAINYARD_AGENT_DIR/HOST/PORT set to a temporary folder, 127.0.0.1
 * and a free port.
 *
 * The job travels inside it, unless the job is a pointer `{ runId, token, jobUrl }`: a job too big for
 * 16 KB (hundreds of signed image URLs) is stored by the app and fetched by the agent from that signed
 * URL (TRAINYARD_JOB_URL). Throws when the gzipped script is over EC2's limit.
 */
export function buildUserData(options: UserDataOptions) {
  const userData = renderUserData(options)
  if (userData.length > USER_DATA_MAX_BYTES) {
    throw new Error(
      `EC2 user data for run ${options.request.runId} is ${userData.length} bytes, over EC2's limit of ${USER_DATA_MAX_BYTES}: the job is too big to ` +
        'travel in user data (store it and launch with a { runId, token, jobUrl } job instead)',
    )
  }
  return userData
}

/** The gzipped script, whatever its size (buildUserData refuses one over the limit). */
export function renderUserData(options: UserDataOptions) {
  return zlib.gzipSync(Buffer.from(renderUserDataScript(options)), { level: 9 })
}

/** A signed URL goes into the script between single quotes: nothing in it may end the quotes. */
const JOB_URL_PATTERN = /^https?:\/\/[A-Za-z0-9._~:/?#[\]@!$&()*+,;=%-]{1,4000}$/

/** The script itself, as cloud-init runs it once unpacked. */
export function renderUserDataScript({ request, agentPort, agentScriptPath, trainer }: UserDataOptions) {
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
    // One line of JSON (JSON.stringify escapes every newline), so it can never hold the end marker's line.
    const job = JSON.stringify(ec2MachineJob(request, trainer))
    jobLines = [`cat > "$D/job.json" <<'${JOB_END}'`, job, JOB_END]
    jobArgs = ' --job "$D/job.json"'
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
    // Quoted markers: bash expands nothing inside either document.
    `cat > "$D/agent.py" <<'${AGENT_END}'`,
    agentSource(agentScriptPath) + AGENT_END,
    ...jobLines,
    `exec python3 "$D/agent.py"${jobArgs} --workdir "$D/work" --host "\${TRAINYARD_AGENT_HOST:-0.0.0.0}" --port "\${TRAINYARD_AGENT_PORT:-${agentPort}}"`,
    '',
  ].join('\n')
}
