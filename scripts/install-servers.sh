#!/bin/bash
# Install the real database servers the test suite and the demo need (Debian/Ubuntu, as root).
# Idempotent and quiet: does nothing when every package is already installed; otherwise runs
# `apt-get update` at most once per boot and installs only what is missing. Output goes to
# $DUMPMASK_APT_LOG (default /tmp/dumpmask-apt.log); on failure the log tail is printed.
set -euo pipefail

PACKAGES=(postgresql postgresql-client mariadb-server mariadb-client poppler-utils)
LOG=${DUMPMASK_APT_LOG:-/tmp/dumpmask-apt.log}
STAMP=/tmp/dumpmask-apt-updated

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-servers: apt-get not found; install by hand: ${missing[*]}" >&2
  exit 1
fi
SUDO=
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-servers: need root to install ${missing[*]}" >&2; exit 1; }
  SUDO="sudo -n"
fi

echo "install-servers: installing ${missing[*]} (log: $LOG)" >&2
export DEBIAN_FRONTEND=noninteractive
# Debian's maintainer scripts would try to start the services; we run private instances.
run() { "$@" >>"$LOG" 2>&1 || { echo "install-servers: '$*' failed; last lines of $LOG:" >&2; tail -n 20 "$LOG" >&2; exit 1; }; }
if [ ! -f "$STAMP" ]; then
  run $SUDO apt-get update -q
  touch "$STAMP"
fi
run $SUDO apt-get install -y -q --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
echo "install-servers: done" >&2
