#!/bin/bash
# Stop everything start.sh started, by pid (and RabbitMQ through rabbitmqctl,
# which waits for the node to exit). Idempotent.
set -euo pipefail
source "$(dirname "$0")/common.sh"

stop_api
stop_engine
stop_mariadb
stop_rabbit
# epmd (Erlang's port mapper) was started by the RabbitMQ node; '-kill' asks
# that daemon to exit and is refused while any Erlang node is still registered.
if port_open 4369; then epmd -kill >/dev/null 2>&1 || true; fi
log "sandbox stopped"
