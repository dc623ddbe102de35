#!/bin/bash
# Start the sandbox on 127.0.0.1: RabbitMQ (5672), MariaDB (3306), heat-engine
# and heat-api (8004, noauth). Waits until a stack listing answers. Idempotent:
# if everything is already up and healthy it says so; a partly running sandbox
# gets only its missing pieces started.
set -euo pipefail
source "$(dirname "$0")/common.sh"
t0=$SECONDS

[ -x "$VENV/bin/heat-engine" ] && [ -f "$HEAT_CONF" ] && [ -d "$SANDBOX/mysql/mysql" ] ||
  die "sandbox not installed at $SANDBOX: run tools/sandbox/setup.sh first"

if healthy; then
  log "already running and healthy: $HEAT_API_URL (sandbox $SANDBOX)"
  exit 0
fi

start_rabbit
start_mariadb
# the engine must not run while the schema is migrated
pid_of heat-engine >/dev/null || db_sync
start_engine   # waits for the engine's RPC queue consumer (see common.sh)
start_api      # waits until GET /v1/admin/stacks answers 200
log "heat ready at $HEAT_API_URL in $((SECONDS - t0))s (logs: $LOGS)"
