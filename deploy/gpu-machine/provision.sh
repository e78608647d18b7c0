#!/usr/bin/env bash
# Installs ai-toolkit into a venv on AWS's "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04)",
# the way ai-toolkit's README installs it by hand (python -m venv venv; torch for CUDA 13.0 from PyTorch's
# index; pip install -r requirements.txt), with the pins of its manager (manager/spec.py). Used twice:
# Packer runs it once to bake an AMI (gpu-machine.pkr.hcl), and the agent runs it at boot when the app
# launches the plain Deep Learning Base AMI. Run it as root. A second run on a provisioned machine
# only checks the driver and returns.
#
# Environment (all optional):
#   AI_TOOLKIT_COMMIT  the ai-toolkit commit to install (default: the one Trainyard targets)
#   AI_TOOLKIT_DIR     where it goes; the venv is $AI_TOOLKIT_DIR/venv, where the agent looks for it
#   AI_TOOLKIT_REPO    the git remote (default: GitHub's ostris/ai-toolkit)
#   PRELOAD_MODELS     Hugging Face repos to download into the machine's Hugging Face cache (HF_HOME, or
#                      ~/.cache/huggingface of the user running this), separated by spaces
#   PRELOAD_CAPTIONER  true: also download the caption jobs' model, Qwen/Qwen3-VL-4B-Instruct (~8.9 GB,
#                      Apache-2.0, not gated), so a caption job on this image skips its download
#   HF_TOKEN           a token that may read the gated ones (FLUX.1-dev): never written to disk here
#   DRY_RUN=1          print every command that would change the machine instead of running it; the
#                      read-only checks (nvidia-smi, the Python version, what is installed) still run
#
# Exit status: 0 done; 3 no NVIDIA GPU or driver; 4 driver too old for the torch build; 5 Python too
# old; 1 anything else. Each failure ends with one line "provision: <sentence>" on stderr.
set -euo pipefail

AI_TOOLKIT_COMMIT="${AI_TOOLKIT_COMMIT:-27a03a91f23eb1b757d5ec2e80ee3e129cfcc350}"
AI_TOOLKIT_DIR="${AI_TOOLKIT_DIR:-/opt/ai-toolkit}"
AI_TOOLKIT_REPO="${AI_TOOLKIT_REPO:-https://github.com/ostris/ai-toolkit.git}"
PRELOAD_MODELS="${PRELOAD_MODELS:-}"
PRELOAD_CAPTIONER="${PRELOAD_CAPTIONER:-false}"
DRY_RUN="${DRY_RUN:-0}"

# The torch build ai-toolkit pins at that commit (manager/spec.py, README "Manual installation"), and
# the driver it needs: CUDA 13.0 wheels run on driver 580 or newer (manager/spec.py asks Blackwell
# owners for "580+" for the same build). torchcodec is upgraded after requirements.txt, as the manager
# does, because requirements.txt still pins one built for an older torch.
TORCH_PACKAGES=(torch==2.13.0 torchvision==0.28.0 torchaudio==2.11.0)
TORCH_BACKEND=cu130
TORCH_INDEX="https://download.pytorch.org/whl/${TORCH_BACKEND}"
TORCHCODEC=torchcodec==0.15.0
MIN_DRIVER_MAJOR=580
MIN_PYTHON=3.10
# Only the diffusers folders (transformer/, text_encoder*/, vae/, tokenizer*/, scheduler/) and the
# top-level json: ai-toolkit loads each part from its subfolder, so the single-file checkpoints beside
# them (FLUX.1-dev's 23.8 GB flux1-dev.safetensors) would double the download for nothing.
PRELOAD_PATTERNS=("*.json" "*/*.json" "*/*.txt" "*/*.model" "*/*.safetensors")
# The captioner ai-toolkit runs for caption jobs (extensions_built_in/captioner/Qwen3VLCaptioner.py). It
# needs nothing beyond the requirements above: transformers 5.5.3 (requirements_base.txt) has Qwen3-VL,
# which transformers gained in 4.57.0; install_venv checks that the class imports. Its repo is a plain
# transformers one, everything at the top level (config, tokenizer, merges.txt, chat template, two
# safetensors shards), so it is preloaded with its own patterns: the diffusers ones above would take
# only its json.
CAPTIONER_MODEL=Qwen/Qwen3-VL-4B-Instruct
CAPTIONER_PATTERNS=("*.json" "*.txt" "*.jinja" "*.safetensors")

VENV="$AI_TOOLKIT_DIR/venv"
MARKER="$AI_TOOLKIT_DIR/.trainyard-provisioned"
PRELOADED="$AI_TOOLKIT_DIR/.trainyard-preloaded"
INSTALLED="commit=$AI_TOOLKIT_COMMIT torch=${TORCH_PACKAGES[*]} backend=$TORCH_BACKEND $TORCHCODEC"

say() { echo "== provision: $*"; }
fail() {
  echo "provision: $2" >&2
  exit "$1"
}
# Every command that changes the machine goes through run, so DRY_RUN shows exactly what a real run does.
run() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

check_driver() {
  command -v nvidia-smi >/dev/null 2>&1 ||
    fail 3 "nvidia-smi is missing: this machine has no NVIDIA driver. Use AWS's Deep Learning Base OSS Nvidia Driver GPU AMI on a GPU instance (g5, g6e)."
  local version
  if ! version="$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n 1)" ||
    [ -z "$version" ]; then
    fail 3 "nvidia-smi sees no NVIDIA GPU: launch a GPU instance type (g5, g6e), not a CPU one."
  fi
  local major="${version%%.*}"
  [[ "$major" =~ ^[0-9]+$ ]] || fail 3 "nvidia-smi reported an unreadable driver version: $version"
  if [ "$major" -lt "$MIN_DRIVER_MAJOR" ]; then
    fail 4 "the NVIDIA driver is $version, too old for torch built for CUDA 13.0 (${TORCH_BACKEND}), which needs driver $MIN_DRIVER_MAJOR or newer: use a current Deep Learning Base OSS Nvidia Driver GPU AMI."
  fi
  say "NVIDIA driver $version (needs $MIN_DRIVER_MAJOR or newer)"
}

check_python() {
  command -v python3 >/dev/null 2>&1 || fail 5 "python3 is missing: ai-toolkit needs Python $MIN_PYTHON or newer."
  PY_VERSION="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  if ! python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
    fail 5 "python3 is $PY_VERSION: ai-toolkit needs Python $MIN_PYTHON or newer."
  fi
  say "Python $PY_VERSION"
}

# git and the venv module (Ubuntu packs ensurepip separately); apt only when one is missing. The lock
# timeout waits for the unattended upgrades Ubuntu starts at first boot instead of failing on their lock.
install_system_packages() {
  local wanted=()
  command -v git >/dev/null 2>&1 || wanted+=(git)
  dpkg -s "python${PY_VERSION}-venv" >/dev/null 2>&1 || wanted+=("python${PY_VERSION}-venv")
  [ "${#wanted[@]}" -eq 0 ] && return 0
  say "installing ${wanted[*]}"
  run env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
  run env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${wanted[@]}"
}

# The exact commit, shallow: GitHub serves a fetch by commit id.
checkout_commit() {
  if [ -d "$AI_TOOLKIT_DIR/.git" ] &&
    [ "$(git -C "$AI_TOOLKIT_DIR" rev-parse HEAD 2>/dev/null)" = "$AI_TOOLKIT_COMMIT" ]; then
    say "ai-toolkit $AI_TOOLKIT_COMMIT is checked out in $AI_TOOLKIT_DIR"
    return 0
  fi
  say "fetching ai-toolkit $AI_TOOLKIT_COMMIT into $AI_TOOLKIT_DIR"
  if [ ! -d "$AI_TOOLKIT_DIR/.git" ]; then
    run mkdir -p "$AI_TOOLKIT_DIR"
    run git -C "$AI_TOOLKIT_DIR" init -q
    run git -C "$AI_TOOLKIT_DIR" remote add origin "$AI_TOOLKIT_REPO"
  fi
  run git -C "$AI_TOOLKIT_DIR" fetch -q --depth 1 origin "$AI_TOOLKIT_COMMIT"
  run git -C "$AI_TOOLKIT_DIR" checkout -q --force --detach FETCH_HEAD
}

install_venv() {
  if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$INSTALLED" ] && [ -x "$VENV/bin/python" ]; then
    say "the venv in $VENV already has this commit's packages"
    return 0
  fi
  say "installing torch (${TORCH_BACKEND}) and ai-toolkit's requirements into $VENV"
  run "python${PY_VERSION}" -m venv "$VENV"
  run "$VENV/bin/python" -m pip install -q --upgrade pip
  run "$VENV/bin/python" -m pip install -q --no-cache-dir "${TORCH_PACKAGES[@]}" --index-url "$TORCH_INDEX"
  # The constraints keep requirements.txt from swapping the CUDA build of torch for a PyPI one (what the
  # manager's torch_constraints() guards against).
  local constraints="$AI_TOOLKIT_DIR/.trainyard-torch-constraints.txt"
  if [ "$DRY_RUN" = 1 ]; then
    say "would write $constraints: ${TORCH_PACKAGES[*]/%/+$TORCH_BACKEND}"
  else
    printf '%s\n' "${TORCH_PACKAGES[@]/%/+$TORCH_BACKEND}" >"$constraints"
  fi
  run "$VENV/bin/python" -m pip install -q --no-cache-dir -r "$AI_TOOLKIT_DIR/requirements.txt" -c "$constraints"
  run "$VENV/bin/python" -m pip install -q --no-cache-dir --upgrade "$TORCHCODEC" -c "$constraints"
  run "$VENV/bin/python" -c 'import torch, diffusers, transformers; print("torch", torch.__version__)'
  # Caption jobs load the model through AutoModelForImageTextToText, which maps qwen3_vl to this class: a
  # transformers without it would fail only at a user's first caption job, on a rented GPU.
  if ! run "$VENV/bin/python" -c 'import transformers
from transformers import Qwen3VLForConditionalGeneration
print("transformers", transformers.__version__, "has", Qwen3VLForConditionalGeneration.__name__)'; then
    fail 1 "transformers in $VENV has no Qwen3VLForConditionalGeneration: caption jobs need transformers 4.57 or newer (ai-toolkit pins 5.5.3 in requirements_base.txt)."
  fi
  if [ "$DRY_RUN" = 1 ]; then
    say "would write $MARKER: $INSTALLED"
  else
    printf '%s' "$INSTALLED" >"$MARKER"
  fi
}

# snapshot_download reads HF_TOKEN from the environment: the token never reaches a command line or a file.
preload_models() {
  local repo models patterns
  # read -a splits on spaces without expanding a stray * against the current folder.
  read -r -a models <<<"$PRELOAD_MODELS"
  # Once, even when PRELOAD_MODELS names it too.
  if [ "$PRELOAD_CAPTIONER" = true ] && [[ " ${models[*]} " != *" $CAPTIONER_MODEL "* ]]; then
    models+=("$CAPTIONER_MODEL")
  fi
  for repo in "${models[@]}"; do
    if [[ ! "$repo" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$ ]]; then
      fail 1 "PRELOAD_MODELS has \"$repo\", which is not a Hugging Face repo id like black-forest-labs/FLUX.1-dev."
    fi
    if [ -f "$PRELOADED" ] && grep -qxF "$repo" "$PRELOADED"; then
      say "$repo is already in the Hugging Face cache"
      continue
    fi
    if [ "$repo" = "$CAPTIONER_MODEL" ]; then
      patterns=("${CAPTIONER_PATTERNS[@]}")
    else
      patterns=("${PRELOAD_PATTERNS[@]}")
    fi
    say "downloading $repo into the Hugging Face cache${HF_TOKEN:+ (with HF_TOKEN)}"
    run "$VENV/bin/python" -c 'import sys
from huggingface_hub import snapshot_download
print(snapshot_download(sys.argv[1], allow_patterns=sys.argv[2:]))' "$repo" "${patterns[@]}"
    if [ "$DRY_RUN" = 1 ]; then
      say "would add $repo to $PRELOADED"
    else
      echo "$repo" >>"$PRELOADED"
    fi
  done
}

# Checked before anything is installed, so a typo does not cost a half-hour install first.
case "$PRELOAD_CAPTIONER" in
  true | 1 | yes) PRELOAD_CAPTIONER=true ;;
  false | 0 | no | "") PRELOAD_CAPTIONER=false ;;
  *) fail 1 "PRELOAD_CAPTIONER is \"$PRELOAD_CAPTIONER\": say true or false." ;;
esac
if [ "$DRY_RUN" != 1 ] && [ "$(id -u)" -ne 0 ]; then
  fail 1 "run this as root (sudo): it installs system packages and writes $AI_TOOLKIT_DIR."
fi
check_driver
check_python
install_system_packages
checkout_commit
install_venv
preload_models
say "ai-toolkit $AI_TOOLKIT_COMMIT is ready: $VENV/bin/python $AI_TOOLKIT_DIR/run.py <config>"
