// The help texts: one for the whole command line (with the exit codes scripts rely on) and one per command.
import type { CommandName } from './args'

export const MAIN_HELP = `trainyard — train LoRA image models on a Trainyard server, from the terminal

Usage: trainyard <command> [arguments] [flags]

Commands:
  login                         Save the server's URL and an API token (checked with the server)
  whoami                        Who the saved token acts as
  trainings                     List your trainings
  create <folder>               Create a training from a folder of images (name.txt beside an image is its caption)
  estimate <trainingId>         What a run would cost and how long it would take
  start <trainingId>            Start a run (--follow to watch it)
  follow <runId>                Watch a run to its end with a progress bar
  download <runId>              Download the LoRA (or a checkpoint with --step N)
  runs [trainingId]             List runs (of one training, or all of yours)
  cancel <runId>                Cancel a run, keeping its newest checkpoint (--discard to keep nothing)

Flags for every command:
  --json                        Machine-readable output on stdout (errors as {"error":{…}} on stderr)
  --url URL, --token TOKEN      Use these instead of the saved login (TRAINYARD_URL, TRAINYARD_TOKEN too)
  -h, --help                    Help for a command: trainyard <command> --help
                                (through npx, say \`npx trainyard help\`: npx keeps a --help or --version given first)

Exit codes:
  0  done
  1  the server or the network failed (after retries), or something unexpected
  2  bad arguments: nothing was sent
  3  not logged in, or the token was refused (HTTP 401/403)
  4  not found (HTTP 404): a wrong id, or not yours
  5  refused by the server (HTTP 400/402/409/413/422), or some files of an upload refused
  6  the run failed
  7  the run was canceled
  8  stopped following after --timeout (the run goes on)

Calls answered 429, 502 or 503 are retried with back-off (Retry-After honoured), at most 5 times.
The login is kept in $XDG_CONFIG_HOME/trainyard/config.json (or ~/.config/trainyard/config.json), mode 0600.
`

export const COMMAND_HELP: Record<CommandName, string> = {
  login: `Usage: trainyard login [--url URL] [--token TOKEN]

Checks the token with the server (GET /api/v1/me) and saves both, readable by you only.
Without flags they come from TRAINYARD_URL and TRAINYARD_TOKEN, or are asked for (the token unseen).
Prefer the variable or the prompt to --token: a flag shows in the process list.
Create a token in the web app: Settings › API tokens.
`,
  whoami: `Usage: trainyard whoami [--json]

The account and the scopes of the saved token.
`,
  trainings: `Usage: trainyard trainings [--limit N] [--json]

Your trainings, newest first (20 unless --limit).
`,
  create: `Usage: trainyard create <folder> --name NAME --trigger WORD --base-model SLUG [--preset ID] [--batch N] [--json]

Creates a training and uploads the folder's images (.jpg, .jpeg, .png, .webp; .zip archives too), N at a time
(10 unless --batch). A text file beside an image with the same name (photo.txt for photo.jpg) becomes its caption.
Prints each file's result and the dataset check. Exit code 5 if some files were refused (the rest are kept).
Base models and presets: see the training form in the web app (e.g. --base-model flux-dev --preset flux-balanced).
`,
  estimate: `Usage: trainyard estimate <trainingId> [--json]

The machine, time and cost of a run, as the Start button shows them.
`,
  start: `Usage: trainyard start <trainingId> [--continue-from RUN:STEP] [--follow] [--idempotency-key KEY] [--json]

Starts a run. Every start sends an Idempotency-Key, so a retried request never starts a second run; pass your
own --idempotency-key to make a whole command safe to run again (the same key answers with the same run).
--follow watches the run to its end, like \`trainyard follow\` (with its --interval and --timeout).
`,
  follow: `Usage: trainyard follow <runId> [--interval SECONDS] [--timeout SECONDS] [--json]

Shows the run's phase, step, loss, time left and cost until it ends (polling every 2 s unless --interval).
Exit code 0 when it succeeded, 6 when it failed, 7 when it was canceled, 8 after --timeout (48 h unless set).
`,
  download: `Usage: trainyard download <runId> [--step N] [-o PATH] [--force] [--json]

Downloads the run's LoRA (or the checkpoint of step N) to PATH (a file or a folder; the current folder unless
given), named <runId>.safetensors or <runId>-step-N.safetensors. An existing file is kept unless --force.
`,
  runs: `Usage: trainyard runs [trainingId] [--limit N] [--json]

The runs of one training, or all of yours, newest first.
`,
  cancel: `Usage: trainyard cancel <runId> [--discard] [--json]

Cancels a run. Its newest checkpoint is kept unless --discard.
`,
}
