#!/bin/bash
# Stop the Keystone that start.sh started, by its recorded pid (process group).
# Idempotent. The database and keys stay: start.sh brings the same Keystone back.
set -euo pipefail
KS_TOOLS=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$KS_TOOLS/../.." && pwd)
SANDBOX=$(realpath -m "${HEATSEEKER_SANDBOX:-$REPO/.sandbox}")
PIDF=$SANDBOX/run/keystone.pid

log() { echo "[keystone] $*"; }

p=$(cat "$PIDF" 2>/dev/null || true)
if [ -z "$p" ] || ! kill -0 "$p" 2>/dev/null ||
  ! tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF "wsgi_serve.py keystone"; then
  rm -f "$PIDF"
  log "keystone not running"
  exit 0
fi
# A dead process stays a zombie until PID 1 reaps it (up to ~2 s in this
# container) and kill -0 still succeeds on it: look at its state as well.
running() { kill -0 "$p" 2>/dev/null && [ "$(awk '/^State:/{print $2}' "/proc/$p/status" 2>/dev/null)" != Z ]; }
kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
for _ in $(seq 1 100); do
  running || break
  sleep 0.1
done
if running; then
  log "keystone (pid $p) ignored SIGTERM for 10 s: SIGKILL"
  kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
fi
rm -f "$PIDF"
log "keystone stopped (pid $p)"
