#!/bin/bash
# Small controls for end-to-end tests:
#   ctl.sh status                    state of each service (exit 0 when all healthy)
#   ctl.sh rabbitmq-stop             stop the RabbitMQ node only (Heat keeps retrying)
#   ctl.sh rabbitmq-start            start it again; waits until heat-engine has
#                                    reconnected (restarts the engine if it does not)
#   ctl.sh rabbitmq-restart          both of the above
#   ctl.sh heat-api-stop             stop heat-api only: port 8004 refuses connections,
#                                    heat-engine keeps running
#   ctl.sh heat-api-start            start heat-api again; waits until it answers
#   ctl.sh notifications-purge       empty the queues notifications.info/.error, where
#                                    oslo.messaging keeps every notification nobody read
set -euo pipefail
source "$(dirname "$0")/common.sh"

rabbitmq_start() {
  start_rabbit
  # RabbitMQ lost its (non-durable) queues. heat-engine reconnects and declares
  # its 'engine' queue again within a few seconds (heat.conf shortens the
  # backoff). An API request sent before that would hang 60 s: wait for it.
  # heat-engine reconnects by itself, but not always all of its consumers (convergence's worker
  # queues): a create accepted after the restart could then hang (seen in CI). These controls
  # exist for heatseeker's tests, which need a working Heat afterwards: restart the engine.
  if pid_of heat-engine >/dev/null; then
    log "restarting heat-engine after the rabbitmq restart"
    stop_engine
    start_engine
  fi
  # heat-api's RPC client reconnects lazily on its next request; check it now
  if pid_of heat-api >/dev/null; then
    local i
    for ((i = 0; i < 60; i++)); do api_up && break; sleep 0.5; done
    api_up || die "heat-api does not answer after the rabbitmq restart"
  fi
}

status() {
  local rc=0 p
  if rabbit_up; then
    log "rabbitmq     up   (pid $(rabbit_pid || echo '?'), 127.0.0.1:5672)"
  else log "rabbitmq     DOWN"; rc=1; fi
  if mariadb_up; then
    log "mariadb      up   (pid $(pid_of mariadb || echo '?'), 127.0.0.1:$MYSQL_PORT)"
  else log "mariadb      DOWN"; rc=1; fi
  if p=$(pid_of heat-engine); then
    if rabbit_up && engine_consumer_up; then log "heat-engine  up   (pid $p, consuming queue 'engine')"
    else log "heat-engine  up   (pid $p, NOT consuming queue 'engine')"; rc=1; fi
  else log "heat-engine  DOWN"; rc=1; fi
  if p=$(pid_of heat-api); then
    if api_up; then log "heat-api     up   (pid $p, $HEAT_API_URL answers)"
    else log "heat-api     up   (pid $p, $HEAT_API_URL does NOT answer)"; rc=1; fi
  else log "heat-api     DOWN"; rc=1; fi
  log "sandbox: $SANDBOX"
  return $rc
}

case "${1:-}" in
  status) status ;;
  rabbitmq-stop) stop_rabbit ;;
  rabbitmq-start) rabbitmq_start ;;
  rabbitmq-restart) stop_rabbit; rabbitmq_start ;;
  heat-api-stop) stop_api ;;
  heat-api-start) start_api ;;
  notifications-purge)
    for q in notifications.info notifications.error; do
      rabbitmqctl -q purge_queue "$q" >/dev/null 2>&1 && log "purged $q" || true
    done ;;
  *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
