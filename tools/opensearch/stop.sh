#!/usr/bin/env bash
# Stop OpenSearch test node N (SIGTERM, then SIGKILL after 30 s). Its data is kept.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
sandbox="${HEATSEEKER_SANDBOX:-$repo/.sandbox}"
n="${1:?usage: stop.sh N}"
pidfile="$sandbox/opensearch/node$n/pid"
[[ -f "$pidfile" ]] || exit 0
pid="$(cat "$pidfile")"
if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
fi
rm -f "$pidfile"
