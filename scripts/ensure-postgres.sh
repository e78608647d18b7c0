#!/usr/bin/env bash
# The PostgreSQL tests start a throwaway cluster with Debian's PostgreSQL server binaries (initdb,
# pg_ctl): install them when missing. Nothing is started here and no system cluster is used.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then exit 0; fi
if command -v initdb >/dev/null 2>&1; then exit 0; fi
echo "== installing Debian's postgresql (needed by the PostgreSQL tests)"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
# The package's own cluster is not wanted: the tests make their own in a temporary folder.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
ls /usr/lib/postgresql/*/bin/initdb
