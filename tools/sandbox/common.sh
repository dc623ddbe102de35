# Shared by setup.sh, start.sh, stop.sh and ctl.sh: paths and one function per
# start / stop / health check of each sandbox service. Source it, don't run it.
# shellcheck shell=bash

SANDBOX_TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SANDBOX_TOOLS/../.." && pwd)
SANDBOX=$(realpath -m "${HEATSEEKER_SANDBOX:-$REPO/.sandbox}")
VENV=$SANDBOX/heat-venv
ETC=$SANDBOX/etc
LOGS=$SANDBOX/logs
RUN=$SANDBOX/run                 # pid files of what we started
HEAT_CONF=$ETC/heat.conf
HEAT_API_PORT=8004
HEAT_API_URL=http://127.0.0.1:$HEAT_API_PORT
MYSQL_SOCK=$SANDBOX/mysql.sock
MYSQL_PORT=3306

# RabbitMQ. Debian's rabbitmq-server/rabbitmqctl are wrappers that `su` to the
# 'rabbitmq' user when run as root, keeping the environment: so the node's data,
# logs and pid file go to a directory that user owns (see setup.sh), and the
# Erlang cookie is /var/lib/rabbitmq/.erlang.cookie for the server and the CLI
# alike. Don't call /usr/lib/rabbitmq/bin/* directly as root: another cookie.
RABBIT_DIR=$SANDBOX/rabbitmq
# setup.sh writes another place here if 'rabbitmq' cannot write under $SANDBOX
[ -f "$SANDBOX/rabbitmq.dir" ] && RABBIT_DIR=$(cat "$SANDBOX/rabbitmq.dir")
export RABBITMQ_MNESIA_BASE=$RABBIT_DIR/mnesia
export RABBITMQ_LOG_BASE=$RABBIT_DIR/log
export RABBITMQ_PID_FILE=$RABBIT_DIR/rabbitmq.pid
# Listen on loopback only: AMQP, epmd and Erlang distribution alike.
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=5672 ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"

log() { echo "[sandbox] $*"; }
die() { echo "[sandbox] ERROR: $*" >&2; exit 1; }

# --- generic helpers --------------------------------------------------------

port_open() {  # port_open PORT: something accepts TCP connections on 127.0.0.1:PORT
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pid_of() {  # pid_of NAME: the pid recorded for NAME if that process is alive
  local f=$RUN/$1.pid p
  [ -f "$f" ] || return 1
  p=$(cat "$f")
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 1
  # a stale pid file (machine restarted, pid reused): every process we start
  # has a path under $SANDBOX on its command line
  tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF "$SANDBOX" || return 1
  echo "$p"
}

# Start a long-running process in its own session (setsid), so it survives the
# shell that started it and its whole process group can be stopped by its id.
spawn() {  # spawn NAME LOGFILE CMD...
  local name=$1 logfile=$2; shift 2
  mkdir -p "$RUN" "$LOGS"
  setsid "$@" </dev/null >>"$logfile" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

stop_pid() {  # stop_pid NAME [SECONDS]: TERM the process group, KILL after SECONDS
  local name=$1 secs=${2:-20} p i
  if ! p=$(pid_of "$name"); then rm -f "$RUN/$name.pid"; return 0; fi
  kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
  for ((i = 0; i < secs * 5; i++)); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$p" 2>/dev/null; then
    log "$name (pid $p) ignored SIGTERM for ${secs}s: SIGKILL"
    kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
  fi
  rm -f "$RUN/$name.pid"
  log "$name stopped (pid $p)"
}

# --- RabbitMQ ----------------------------------------------------------------

rabbit_pid() {
  local p
  [ -f "$RABBITMQ_PID_FILE" ] || return 1
  p=$(cat "$RABBITMQ_PID_FILE")
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"
}

rabbit_up() { port_open 5672; }

start_rabbit() {
  if rabbit_up; then log "rabbitmq already running"; return 0; fi
  log "starting rabbitmq"
  mkdir -p "$LOGS"
  (cd / && rabbitmq-server -detached) >>"$LOGS/rabbitmq-start.log" 2>&1
  local i
  # await_startup fails at once while the node has not registered with epmd yet
  for ((i = 0; i < 60; i++)); do
    rabbitmqctl -q await_startup >/dev/null 2>&1 && rabbit_up && break
    sleep 1
  done
  rabbit_up || die "rabbitmq did not start; see $RABBITMQ_LOG_BASE and $LOGS/rabbitmq-start.log"
  log "rabbitmq up (pid $(rabbit_pid || echo '?'))"
}

stop_rabbit() {
  local p i
  p=$(rabbit_pid) || p=""
  if [ -z "$p" ] && ! rabbit_up; then log "rabbitmq not running"; return 0; fi
  log "stopping rabbitmq"
  # 'shutdown' stops the node and waits until its OS process has exited
  timeout 60 rabbitmqctl -q shutdown >/dev/null 2>&1 || true
  if [ -n "$p" ]; then
    for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$p" 2>/dev/null && { log "rabbitmq (pid $p) still alive: SIGKILL"; kill -KILL "$p" || true; }
  fi
  rm -f "$RABBITMQ_PID_FILE"
  log "rabbitmq stopped"
}

# heat-engine consumes from the 'engine' queue. An RPC call sent before the
# engine has (re)bound that queue is dropped and the API then waits
# rpc_response_timeout (60 s): wait for the consumer before any API request.
engine_consumer_up() {
  timeout 20 rabbitmqctl -q list_queues name consumers 2>/dev/null |
    grep -qE '^engine[[:space:]]+[1-9]'
}

wait_engine_consumer() {  # wait_engine_consumer SECONDS
  local secs=${1:-60} t0=$SECONDS
  while ((SECONDS - t0 < secs)); do
    engine_consumer_up && return 0
    pid_of heat-engine >/dev/null || return 1
    sleep 0.5
  done
  return 1
}

# --- MariaDB -------------------------------------------------------------------

mariadb_up() { mariadb-admin --no-defaults -S "$MYSQL_SOCK" -uroot ping >/dev/null 2>&1; }

start_mariadb() {
  if mariadb_up; then log "mariadb already running"; return 0; fi
  port_open "$MYSQL_PORT" && die "port $MYSQL_PORT is taken by another MySQL/MariaDB"
  log "starting mariadb"
  spawn mariadb "$LOGS/mariadb.out" mariadbd --no-defaults --datadir="$SANDBOX/mysql" \
    --socket="$MYSQL_SOCK" --bind-address=127.0.0.1 --port="$MYSQL_PORT" --user=root \
    --pid-file="$SANDBOX/mysql/mariadbd.pid" --log-error="$LOGS/mariadb.err" \
    --innodb-buffer-pool-size=128M --skip-name-resolve
  local i
  for ((i = 0; i < 150; i++)); do mariadb_up && break; sleep 0.2; done
  mariadb_up || die "mariadb did not start; see $LOGS/mariadb.err"
  mariadb --no-defaults -S "$MYSQL_SOCK" -uroot -e "
    CREATE DATABASE IF NOT EXISTS heat CHARACTER SET utf8mb4;
    CREATE USER IF NOT EXISTS 'heat'@'127.0.0.1' IDENTIFIED BY 'heat';
    GRANT ALL ON heat.* TO 'heat'@'127.0.0.1';"
  log "mariadb up (pid $(pid_of mariadb))"
}

stop_mariadb() {
  if ! pid_of mariadb >/dev/null && ! mariadb_up; then log "mariadb not running"; return 0; fi
  mariadb-admin --no-defaults -S "$MYSQL_SOCK" -uroot shutdown >/dev/null 2>&1 || true
  stop_pid mariadb 30
}

# --- Heat ----------------------------------------------------------------------

db_sync() {  # cheap when the schema is current; needed once per fresh database
  "$VENV/bin/heat-manage" --config-file "$HEAT_CONF" db_sync >>"$LOGS/db_sync.log" 2>&1 ||
    die "heat-manage db_sync failed; see $LOGS/db_sync.log"
}

start_engine() {
  if pid_of heat-engine >/dev/null; then log "heat-engine already running"; return 0; fi
  log "starting heat-engine"
  spawn heat-engine "$LOGS/heat-engine.out" "$VENV/bin/heat-engine" --config-file "$HEAT_CONF"
  wait_engine_consumer 90 ||
    die "heat-engine did not bind its queue; see $LOGS/heat-engine.log and heat-engine.out"
  log "heat-engine up (pid $(pid_of heat-engine))"
}

stop_engine() { stop_pid heat-engine 30; }

api_up() {  # a stack index is an RPC call to the engine: 200 = api+engine+rabbit+db up
  curl -sf --max-time 10 -o /dev/null "$HEAT_API_URL/v1/admin/stacks"
}

start_api() {
  if pid_of heat-api >/dev/null; then log "heat-api already running"; return 0; fi
  port_open "$HEAT_API_PORT" && die "port $HEAT_API_PORT is taken by another process"
  log "starting heat-api"
  HEAT_CONF=$HEAT_CONF HEAT_API_PORT=$HEAT_API_PORT \
    spawn heat-api "$LOGS/heat-api.out" "$VENV/bin/python" "$SANDBOX_TOOLS/run_api.py"
  local i
  for ((i = 0; i < 300; i++)); do
    api_up && { log "heat-api up on $HEAT_API_URL (pid $(pid_of heat-api))"; return 0; }
    pid_of heat-api >/dev/null || break
    sleep 0.2
  done
  tail -n 20 "$LOGS/heat-api.out" >&2 || true
  die "heat-api did not come up; see $LOGS/heat-api.log and heat-api.out"
}

stop_api() { stop_pid heat-api 10; }

healthy() {  # everything up and answering
  rabbit_up && mariadb_up && pid_of heat-engine >/dev/null && pid_of heat-api >/dev/null && api_up
}
