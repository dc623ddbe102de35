#!/bin/bash
# The sandbox's Keystone mode: a second Heat 27 beside the noauth one, behind the sandbox Keystone.
#
#   keystone-heat.sh setup    config files; Heat's user, the stack domain and the orchestration
#                             catalog entry in Keystone (needs tools/sandbox/setup.sh and a running,
#                             populated Keystone: tools/keystone/ensure.sh)
#   keystone-heat.sh start    vhost, database, heat-engine, heat-api on :8014 (waits until it answers)
#   keystone-heat.sh up       setup then start (what tools/test.sh runs)
#   keystone-heat.sh stop     stop this Heat's heat-api and heat-engine (nothing shared)
#   keystone-heat.sh status   one line per piece; exit 1 if anything is not healthy
#
# It shares the noauth sandbox's heat-venv, RabbitMQ (its own vhost heat_keystone) and MariaDB (its
# own database heat_keystone) and never stops, restarts or reconfigures them. Everything else is
# its own: $SANDBOX/keystone-heat/{etc,run}, logs in $SANDBOX/logs/keystone-heat. Idempotent: each
# step checks for the exact thing it provides; on a running Keystone-mode Heat, `up` takes ~2 s.
#
# Another region: KEYSTONE_HEAT_REGION=RegionTwo KEYSTONE_HEAT_PORT=8024 keystone-heat.sh up|...
# runs another instance of this Heat as region R (here RegionTwo; r = lowercase R) of the same
# Keystone: $SANDBOX/keystone-heat-<r>/{etc,run}, logs in $SANDBOX/logs/keystone-heat-<r>, vhost
# and database heat_keystone_<r>, its orchestration endpoints in region R (made if missing). It
# needs a port of its own: KEYSTONE_HEAT_PORT is required for any region but RegionOne. The Heat
# user and the stack domain are shared; every command acts on that instance only.
# Environment: HEATSEEKER_SANDBOX, KEYSTONE_PORT (5000), ADMIN_PASSWORD (secret),
# KEYSTONE_HEAT_PORT (8014), KEYSTONE_HEAT_REGION (RegionOne).
set -euo pipefail
source "$(dirname "$0")/common.sh"

log() { echo "[keystone-heat${SUFFIX:-}] $*"; }
die() { echo "[keystone-heat${SUFFIX:-}] ERROR: $*" >&2; exit 1; }

# The instance: RegionOne (the default) keeps the original names, another region gets suffixes
REGION=${KEYSTONE_HEAT_REGION:-RegionOne}
[[ $REGION =~ ^[A-Za-z][A-Za-z0-9_]*$ ]] ||
  die "KEYSTONE_HEAT_REGION=$REGION: letters, digits and _ only (it names a vhost and a database)"
if [ "$REGION" = RegionOne ]; then
  SUFFIX="" DB_SUFFIX=""
elif [ "${REGION,,}" = regionone ]; then
  die "KEYSTONE_HEAT_REGION=$REGION: the default region is spelt RegionOne"
else
  SUFFIX=-${REGION,,} DB_SUFFIX=_${REGION,,}
fi

# common.sh's functions read these when called: the Keystone mode's own places
KH=$SANDBOX/keystone-heat$SUFFIX
RUN=$KH/run
LOGS=$SANDBOX/logs/keystone-heat$SUFFIX
HEAT_CONF=$KH/etc/heat.conf
HEAT_API_PORT=${KEYSTONE_HEAT_PORT:-8014}
HEAT_API_URL=http://127.0.0.1:$HEAT_API_PORT
VHOST=heat_keystone$DB_SUFFIX
DATABASE=heat_keystone$DB_SUFFIX
HEAT_HOST=heatlab-keystone$SUFFIX  # heat.conf's host: publisher_id orchestration.<host>
KEYSTONE_URL=http://127.0.0.1:${KEYSTONE_PORT:-5000}
KS_VENV=$SANDBOX/keystone-venv
ADMIN_PASSWORD=${ADMIN_PASSWORD:-secret}
HEAT_PASSWORD=heatpw                 # Keystone user heat (service project, role admin)
DOMAIN_ADMIN_PASSWORD=heatdomainpw   # heat_domain_admin of the stack domain 'heat'

# -- what differs from the noauth Heat (common.sh) ---------------------------------------------

# This instance's processes only. common.sh's pid_of accepts any live process with $SANDBOX on its
# command line, which every instance's processes have: a stale pid file (pid reused) could then name
# another instance's heat-api. Ours were started with our heat.conf: heat-engine has it on its
# command line (its process title, "heat-engine: master process [... --config-file <conf>]"),
# run_api.py (heat-api) in its environment (HEAT_CONF).
pid_of() {  # pid_of NAME: the pid recorded in $RUN for NAME if that process is alive and ours
  local f=$RUN/$1.pid p cmd
  [ -f "$f" ] || return 1
  p=$(cat "$f")
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 1
  cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || return 1
  case $1 in
    heat-engine | heat-api)
      [[ " $cmd " == *" --config-file $HEAT_CONF"[\ \]]* ]] ||
        tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qxF "HEAT_CONF=$HEAT_CONF" ||
        return 1 ;;
    *) [[ $cmd == *"$SANDBOX"* ]] || return 1 ;;
  esac
  echo "$p"
}

# the engine's RPC queue lives in this Heat's vhost
engine_consumer_up() {
  timeout 20 rabbitmqctl -q list_queues -p "$VHOST" name consumers 2>/dev/null |
    grep -qE '^engine[[:space:]]+[1-9]'
}

admin_token() {  # a cloud admin's token, kept for this run (api_up polls)
  [ -n "${ADMIN_TOKEN:-}" ] && return 0
  ADMIN_TOKEN=$(OS_AUTH_URL=$KEYSTONE_URL/v3 bash "$SANDBOX_TOOLS/../keystone/tokens.sh" \
    admin "$ADMIN_PASSWORD" admin 2>/dev/null) || ADMIN_TOKEN=""
  [ -n "$ADMIN_TOKEN" ]
}

admin_project_id() {
  sed -n 's/^ADMIN_PROJECT_ID=//p' "$SANDBOX/keystone/ids.env" 2>/dev/null
}

api_up() {  # a stack index through auth_token: Keystone, api, engine, rabbit and db all answer
  local pid
  pid=$(admin_project_id)
  [ -n "$pid" ] && admin_token &&
    curl -sf --max-time 10 -o /dev/null -H "X-Auth-Token: $ADMIN_TOKEN" "$HEAT_API_URL/v1/$pid/stacks"
}

starttime() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $20}'; }  # after the (comm)

# A RabbitMQ node restarted under a running engine (the noauth sandbox's ctl.sh rabbitmq-restart
# restarts only its own engine): heat-engine reconnects, but not always all of its consumers, and a
# create could then hang. An engine older than the node is restarted.
engine_stale() {
  local e r
  e=$(pid_of heat-engine) || return 1
  r=$(rabbit_pid) || return 1
  [ "$(starttime "$e")" -lt "$(starttime "$r")" ]
}

healthy() {
  rabbit_up && mariadb_up && pid_of heat-engine >/dev/null && ! engine_stale &&
    pid_of heat-api >/dev/null && api_up
}

install_file() {  # install_file CONTENT_FILE DEST: replace DEST only when it differs
  if ! cmp -s "$1" "$2"; then mv "$1" "$2"; log "wrote $2"; else rm -f "$1"; fi
}

# -- steps --------------------------------------------------------------------------------------

setup() {
  local t0=$SECONDS tmp
  [ -x "$VENV/bin/heat-engine" ] && [ -d "$SANDBOX/etc/templates" ] ||
    die "the Heat venv is not installed: bash tools/sandbox/setup.sh"
  [ -x "$KS_VENV/bin/python" ] && [ -f "$SANDBOX/keystone/ids.env" ] ||
    die "the Keystone sandbox is not set up: bash tools/keystone/ensure.sh"
  curl -sf --max-time 5 -o /dev/null "$KEYSTONE_URL/v3" ||
    die "Keystone does not answer at $KEYSTONE_URL/v3: bash tools/keystone/ensure.sh"
  mkdir -p "$KH/etc" "$RUN" "$LOGS"
  tmp=$(mktemp)
  sed -e '/^##/d' -e "s#@SANDBOX@#$SANDBOX#g" -e "s#@KH@#$KH#g" -e "s#@LOGS@#$LOGS#g" \
    -e "s#@VHOST@#$VHOST#g" -e "s#@DATABASE@#$DATABASE#g" -e "s#@HOST@#$HEAT_HOST#g" \
    -e "s#@KEYSTONE@#$KEYSTONE_URL#g" -e "s#@HEAT_PASSWORD@#$HEAT_PASSWORD#g" \
    -e "s#@DOMAIN_ADMIN_PASSWORD@#$DOMAIN_ADMIN_PASSWORD#g" \
    "$SANDBOX_TOOLS/heat-keystone.conf.in" >"$tmp"
  install_file "$tmp" "$HEAT_CONF"
  tmp=$(mktemp); cp "$SANDBOX_TOOLS/policy-keystone.yaml" "$tmp"; install_file "$tmp" "$KH/etc/policy.yaml"
  # Heat's stock api-paste.ini, unchanged
  tmp=$(mktemp); cp "$VENV/etc/heat/api-paste.ini" "$tmp"; install_file "$tmp" "$KH/etc/api-paste.ini"
  KS_URL=$KEYSTONE_URL/v3 KS_ADMIN_PASSWORD=$ADMIN_PASSWORD HEAT_PASSWORD=$HEAT_PASSWORD \
    DOMAIN_ADMIN_PASSWORD=$DOMAIN_ADMIN_PASSWORD SETUP_DOMAIN=$VENV/bin/heat-keystone-setup-domain \
    HEAT_URL="$HEAT_API_URL/v1/%(tenant_id)s" REGION="$REGION" PYTHONWARNINGS=ignore \
    "$KS_VENV/bin/python" "$SANDBOX_TOOLS/keystone_heat_register.py"
  log "setup done in $((SECONDS - t0))s"
}

ensure_vhost() {  # the vhost, and guest's full permissions on it
  if ! rabbitmqctl -q list_vhosts name 2>/dev/null | grep -qxF "$VHOST"; then
    log "rabbitmq: creating vhost $VHOST"
    rabbitmqctl -q add_vhost "$VHOST" >/dev/null
  fi
  if ! rabbitmqctl -q list_permissions -p "$VHOST" 2>/dev/null |
    grep -qxP 'guest\t\.\*\t\.\*\t\.\*'; then
    log "rabbitmq: granting guest all on vhost $VHOST"
    rabbitmqctl -q set_permissions -p "$VHOST" guest '.*' '.*' '.*' >/dev/null
  fi
}

ensure_database() {  # the database, and user heat's grant on it
  local sql=(mariadb --no-defaults -S "$MYSQL_SOCK" -uroot -N -e)
  if [ -n "$("${sql[@]}" "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA
      WHERE SCHEMA_NAME = '$DATABASE'")" ] &&
    "${sql[@]}" "SHOW GRANTS FOR 'heat'@'127.0.0.1'" 2>/dev/null |
    grep -qF "GRANT ALL PRIVILEGES ON \`$DATABASE\`.* TO"; then
    return 0
  fi
  log "mariadb: creating database $DATABASE"
  "${sql[@]}" "CREATE DATABASE IF NOT EXISTS \`$DATABASE\` CHARACTER SET utf8mb4;
    CREATE USER IF NOT EXISTS 'heat'@'127.0.0.1' IDENTIFIED BY 'heat';
    GRANT ALL ON \`$DATABASE\`.* TO 'heat'@'127.0.0.1';"
}

start() {
  local t0=$SECONDS
  [ -f "$HEAT_CONF" ] && [ -f "$KH/etc/policy.yaml" ] || die "not set up: keystone-heat.sh setup"
  if healthy; then
    log "already running and healthy: $HEAT_API_URL"
    return 0
  fi
  start_rabbit     # shared with the noauth Heat: started only if it is down
  start_mariadb
  ensure_vhost
  ensure_database
  if engine_stale; then
    log "heat-engine is older than the RabbitMQ node: restarting it"
    stop_engine
  fi
  pid_of heat-engine >/dev/null || db_sync
  start_engine
  port_open "$HEAT_API_PORT" && ! pid_of heat-api >/dev/null &&
    die "port $HEAT_API_PORT is taken by another process (KEYSTONE_HEAT_PORT moves this Heat)"
  start_api
  log "Keystone-mode Heat ready at $HEAT_API_URL in $((SECONDS - t0))s (logs: $LOGS)"
}

status() {
  local rc=0 p
  if rabbit_up && rabbitmqctl -q list_vhosts name 2>/dev/null | grep -qx "$VHOST"; then
    log "rabbitmq     up   (vhost $VHOST)"
  else log "rabbitmq     DOWN or no vhost $VHOST"; rc=1; fi
  if mariadb_up; then log "mariadb      up   (database $DATABASE)"
  else log "mariadb      DOWN"; rc=1; fi
  if p=$(pid_of heat-engine); then
    if engine_stale; then log "heat-engine  up   (pid $p, older than the RabbitMQ node: restart it)"; rc=1
    elif engine_consumer_up; then log "heat-engine  up   (pid $p, consuming queue 'engine' in $VHOST)"
    else log "heat-engine  up   (pid $p, NOT consuming queue 'engine')"; rc=1; fi
  else log "heat-engine  DOWN"; rc=1; fi
  if p=$(pid_of heat-api); then
    if api_up; then log "heat-api     up   (pid $p, $HEAT_API_URL answers a cloud admin's token)"
    else log "heat-api     up   (pid $p, $HEAT_API_URL does NOT answer)"; rc=1; fi
  else log "heat-api     DOWN"; rc=1; fi
  return $rc
}

case "${1:-}" in
  setup | start | up | status)
    # another region on 8014 would register RegionOne's Heat (or collide with it)
    [ "$REGION" = RegionOne ] || [ -n "${KEYSTONE_HEAT_PORT:-}" ] ||
      die "KEYSTONE_HEAT_REGION=$REGION needs a port of its own:" \
        "KEYSTONE_HEAT_PORT (8014 is RegionOne's)" ;;
esac
case "${1:-}" in
  setup) setup ;;
  start) start ;;
  up) setup; start ;;
  stop) stop_api; stop_engine ;;
  status) status ;;
  *) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 2 ;;
esac
