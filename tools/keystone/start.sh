#!/bin/bash
# Start Keystone (setup.sh first) on 127.0.0.1:$KEYSTONE_PORT (default 5000):
# wsgi_serve.py, a threaded wsgiref server, one request at a time because the
# database is SQLite. Waits until GET /v3 answers. Idempotent: a running
# Keystone is left alone.
set -euo pipefail
KS_TOOLS=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$KS_TOOLS/../.." && pwd)
SANDBOX=$(realpath -m "${HEATSEEKER_SANDBOX:-$REPO/.sandbox}")
KS=$SANDBOX/keystone
KS_VENV=$SANDBOX/keystone-venv
LOGS=$SANDBOX/logs
RUN=$SANDBOX/run
PIDF=$RUN/keystone.pid
KEYSTONE_PORT=${KEYSTONE_PORT:-5000}
URL=http://127.0.0.1:$KEYSTONE_PORT/v3

log() { echo "[keystone] $*"; }
die() { echo "[keystone] ERROR: $*" >&2; exit 1; }
t0=$(date +%s.%N)
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}'; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ks_pid() {  # the recorded pid, if that process is alive and is ours
  local p
  [ -f "$PIDF" ] || return 1
  p=$(cat "$PIDF")
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF "wsgi_serve.py keystone" || return 1
  echo "$p"
}
v3_up() { curl -fs --max-time 5 -o /dev/null "$URL" 2>/dev/null; }

[ -x "$KS_VENV/bin/keystone-manage" ] && [ -f "$KS/etc/keystone.conf" ] && [ -f "$KS/.bootstrapped" ] ||
  die "keystone not installed at $KS: run tools/keystone/setup.sh first"

if p=$(ks_pid); then
  if v3_up; then log "already running (pid $p) at $URL"; exit 0; fi
  die "keystone pid $p is alive but $URL does not answer; see $LOGS/keystone.log (stop.sh, then start.sh)"
fi
rm -f "$PIDF"
port_open "$KEYSTONE_PORT" && die "port $KEYSTONE_PORT is taken by another process"

mkdir -p "$RUN" "$LOGS"
# setsid: it outlives this shell and stop.sh can stop its process group.
# The server writes its own pid to $PIDF (WSGI_PIDFILE) as it starts: setsid forks
# when it happens to be a process-group leader, and then $! is not the server.
OS_KEYSTONE_CONFIG_DIR=$KS/etc PYTHONWARNINGS=ignore WSGI_SERIALIZE=1 WSGI_PIDFILE=$PIDF \
  setsid "$KS_VENV/bin/python" "$KS_TOOLS/wsgi_serve.py" keystone 127.0.0.1 "$KEYSTONE_PORT" \
  </dev/null >>"$LOGS/keystone-server.out" 2>&1 &
spawned=$!
alive() {  # the server (its pid file), or what we spawned until it has written one
  if [ -s "$PIDF" ]; then kill -0 "$(cat "$PIDF")" 2>/dev/null; else kill -0 "$spawned" 2>/dev/null; fi
}
grace=20  # a forking setsid has exited before the server wrote its pid file
for _ in $(seq 1 600); do
  if v3_up && p=$(ks_pid); then log "keystone up (pid $p) at $URL in $(elapsed)s"; exit 0; fi
  if ! alive && { [ -s "$PIDF" ] || ((--grace <= 0)); }; then
    tail -n 20 "$LOGS/keystone-server.out" "$LOGS/keystone.log" >&2 || true
    rm -f "$PIDF"
    die "keystone exited; see $LOGS/keystone-server.out and keystone.log"
  fi
  sleep 0.1
done
die "keystone did not answer $URL in 60 s; see $LOGS/keystone.log"
