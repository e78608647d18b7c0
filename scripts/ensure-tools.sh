#!/usr/bin/env bash
# The machine-image tests check deploy/gpu-machine/ with Debian's shellcheck and packer: install them
# when missing. One apt-get update, and only when something is missing.
set -euo pipefail
missing=()
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v packer >/dev/null 2>&1 || missing+=(packer)
if [ "${#missing[@]}" -eq 0 ]; then exit 0; fi
echo "== installing Debian's ${missing[*]} (needed by the machine-image tests)"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
shellcheck --version | sed -n 2p
packer version
