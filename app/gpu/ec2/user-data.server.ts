// The user data of an EC2 machine: a small bash script cloud-init runs as root at first boot. It
// schedules the hard power-off, then hands over to a boot step in Python (standard library only: the
// AMI has python3, and nothing else is assumed, not even curl) that fetches the agent by a short-lived
// signed URL, checks its SHA-256, and starts it. The agent itself no longer travels in the user data:
// the job gets nearly all of EC2's 16 KB, and the script stays small enough to read in the console.
//
// The job travels inside the script while it fits and carries no secrets; otherwise the app stores it
// and the script carries only its signed URL (app/runs/job.server.ts decides, from inlineJobBytes). A job
// with secrets (the Hugging Face token) never travels here: anyone allowed to describe the instance's
// attributes can read its user data. The whole script is gzipped: EC2 counts its 16 KB before base64,
// and cloud-init recognises gzip by its magic bytes and runs what it unpacks.
import zlib from 'node:zlib'
import type { AgentJob, LaunchRequest, SignedFile } from '../provider.server'

/** EC2's limit on user data, counted before base64 (here: the gzipped script's bytes). */
export const USER_DATA_MAX_BYTES = 16 * 1024

/** Where the boot step saves the stand-in trainer, under the agent's folder; the job's `standInPath` says so. */
export const STAND_IN_BOOT_PATH = 'stand-in-ai-toolkit/run.py'

/** What the agent runs on an EC2 machine (EC2_TRAINER, EC2_AI_TOOLKIT_DIR, EC2_TRAINER_COMMAND, SIMULATED_TRAINING_SECONDS). */
export type Ec2Trainer = {
  trainer: 'ai-toolkit' | 'simulate'
  aiToolkitDir: string
  simulateSeconds: number
  /** EC2_TRAINER_COMMAND as argv ({config} = the config file); unset: the job's own command. */
  trainerCommand?: string[]
}

export type UserDataOptions = { request: LaunchRequest; agentPort: number; trainer?: Ec2Trainer }

/** The files the boot step fetches, by their names in the request's boot plan. */
export type Ec2BootFiles = { agent: SignedFile; standIn?: SignedFile }

const JOB_END = 'TRAINYARD_JOB_EOF'
const BOOT_END = 'TRAINYARD_BOOT_EOF'

/** Whether the job carries secrets (they go to the trainer's environment, and must not reach user data). */
export function hasSecrets(job: AgentJob) {
  const secrets = job.secrets
  return typeof secrets === 'object' && secrets !== null && Object.keys(secrets).length > 0
}

/**
 * The job as the agent on the machine reads it, inline or fetched from its stored copy: the app's job
 * with this provider's trainer (ai-toolkit in the AMI's folder, or the simulation), the agent's own time
 * limit and the power-off when done (the instance terminates itself when it powers off). Idempotent:
 * stageLaunch applies it, and the stored copy applies it again.
 */
export function ec2MachineJob(request: LaunchRequest, trainer?: Ec2Trainer): AgentJob {
  let job: AgentJob = request.job
  if (trainer && job.trainer === 'ai-toolkit') {
    if (trainer.trainer === 'simulate') {
      const { trainerCommand: _command, trainerCwd: _folder, ...rest } = job
      job = { ...rest, trainer: 'simulate', simulateSeconds: job.simulateSeconds ?? trainer.simulateSeconds }
    } else {
      job = {
        ...job,
        trainerCwd: trainer.aiToolkitDir,
        ...(trainer.trainerCommand ? { trainerCommand: trainer.trainerCommand } : {}),
      }
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
 * and a free port. Throws when the gzipped script is over EC2's limit.
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
const SIGNED_URL_PATTERN = /^https?:\/\/[A-Za-z0-9._~:/?#[\]@!$&()*+,;=%-]{1,4000}$/
const SHA256_PATTERN = /^[0-9a-f]{64}$/

function signedFileLines(runId: string, name: string, what: string, file: SignedFile) {
  if (!SIGNED_URL_PATTERN.test(file.url)) throw new Error(`run ${runId}: the ${what} URL is not a plain http(s) URL`)
  if (!SHA256_PATTERN.test(file.sha256)) throw new Error(`run ${runId}: the ${what} SHA-256 is not 64 hex digits`)
  return [`export TRAINYARD_BOOT_${name}_URL='${file.url}'`, `export TRAINYARD_BOOT_${name}_SHA256=${file.sha256}`]
}

/** The boot files of a staged request (stageLaunch signs them); throws for a request that was not staged. */
export function bootFilesOf(request: LaunchRequest): Ec2BootFiles {
  const { agent, standIn } = request.boot?.files ?? {}
  if (!agent) throw new Error(`run ${request.runId}: the launch has no agent URL (stageLaunch stores the agent and signs it)`)
  return { agent, ...(standIn ? { standIn } : {}) }
}

/** The script itself, as cloud-init runs it once unpacked. */
export function renderUserDataScript({ request, agentPort, trainer }: UserDataOptions) {
  const { runId, maxRunMinutes } = request
  if (!Number.isFinite(maxRunMinutes) || maxRunMinutes <= 0) {
    throw new Error(`maxRunMinutes must be a positive number (got ${maxRunMinutes})`)
  }
  // Only [A-Za-z0-9_-] reaches the script's comment; the id is also the ClientToken (≤ 64 ASCII).
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(runId)) throw new Error(`runId must be 1-64 of [A-Za-z0-9_-] (got ${JSON.stringify(runId)})`)
  const hardStopMinutes = Math.ceil(maxRunMinutes)
  const files = bootFilesOf(request)
  const jobUrl = typeof request.job.jobUrl === 'string' ? request.job.jobUrl : null
  let jobLines: string[]
  if (jobUrl !== null) {
    if (!SIGNED_URL_PATTERN.test(jobUrl)) throw new Error(`run ${runId}: the job URL is not a plain http(s) URL`)
    // In the environment rather than on a command line: `ps` would show the URL to every local user.
    jobLines = [`export TRAINYARD_JOB_URL='${jobUrl}'`]
  } else {
    const job = ec2MachineJob(request, trainer)
    if (hasSecrets(job))
      throw new Error(`run ${runId}: a job with secrets never travels in user data (store it and pass its URL)`)
    // One line of JSON (JSON.stringify escapes every newline), so it can never hold the end marker's line.
    jobLines = [`cat > "$D/job.json" <<'${JOB_END}'`, JSON.stringify(job), JOB_END]
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
    ...signedFileLines(runId, 'AGENT', 'agent', files.agent),
    ...(files.standIn ? signedFileLines(runId, 'STAND_IN', 'stand-in trainer', files.standIn) : []),
    ...jobLines,
    `export TRAINYARD_AGENT_HOST="\${TRAINYARD_AGENT_HOST:-0.0.0.0}" TRAINYARD_AGENT_PORT="\${TRAINYARD_AGENT_PORT:-${agentPort}}"`,
    // A quoted marker: bash expands nothing inside the boot step.
    `exec python3 - "$D" <<'${BOOT_END}'`,
    BOOT_STEP,
    BOOT_END,
    '',
  ].join('\n')
}

/**
 * The boot step: fetches the agent (and the stand-in trainer, when simulating) and checks each against
 * its SHA-256 before anything runs, reads the job (inline, or by its signed URL), tells it where the
 * stand-in is, and execs the agent. A failure powers the machine off: nothing could report it to the
 * app yet, and the boot log (cloud-init's) says why. No URL reaches that log: they are signed.
 */
const BOOT_STEP = `import hashlib, json, os, subprocess, sys, time, urllib.request
D, E = sys.argv[1], os.environ


def give_up(reason):
    sys.stderr.write("trainyard boot: %s; powering off\\n" % reason)
    sys.stderr.flush()
    subprocess.call(["shutdown", "-h", "now"])
    sys.exit(1)


def fetch(url, what, tries=6):
    for attempt in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                return r.read()
        except Exception as e:
            if attempt == tries - 1:
                give_up("cannot fetch the %s (%s)" % (what, e if hasattr(e, "code") else getattr(e, "reason", e)))
            time.sleep(2 ** attempt)


def fetch_checked(name, path, what):
    data = fetch(E.pop("TRAINYARD_BOOT_%s_URL" % name), what)
    if hashlib.sha256(data).hexdigest() != E.pop("TRAINYARD_BOOT_%s_SHA256" % name):
        give_up("the %s does not match its SHA-256, so it is not run" % what)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


agent = fetch_checked("AGENT", os.path.join(D, "agent.py"), "agent")
job_file = os.path.join(D, "job.json")
try:
    if "TRAINYARD_JOB_URL" in E:
        job = json.loads(fetch(E.pop("TRAINYARD_JOB_URL"), "job").decode("utf-8"))
    else:
        with open(job_file, encoding="utf-8") as f:
            job = json.load(f)
except ValueError as e:
    give_up("the job is not JSON (%s)" % e)
if "TRAINYARD_BOOT_STAND_IN_URL" in E:
    job["standInPath"] = fetch_checked("STAND_IN", os.path.join(D, "${STAND_IN_BOOT_PATH}"), "stand-in trainer")
with open(job_file, "w", encoding="utf-8") as f:
    json.dump(job, f)
os.execv(sys.executable, [sys.executable, agent, "--job", job_file, "--workdir", os.path.join(D, "work"),
                          "--host", E["TRAINYARD_AGENT_HOST"], "--port", E["TRAINYARD_AGENT_PORT"]])`
