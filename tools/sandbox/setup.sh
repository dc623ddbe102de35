#!/bin/bash
# Install the real-Heat sandbox: RabbitMQ + MariaDB from Debian, OpenStack Heat
# 27.0.1 from PyPI in its own venv, config files and a MariaDB datadir, all
# under $HEATSEEKER_SANDBOX (default <repo>/.sandbox). Idempotent: every step
# that is already done is skipped, so a second run takes about a second.
set -euo pipefail
source "$(dirname "$0")/common.sh"
t0=$SECONDS

# 1. Debian packages (CI machines may be new). They start no service here (no
#    systemd in the container); start.sh starts its own instances.
source "$SANDBOX_TOOLS/../debs.sh"
ensure_debs rabbitmq-server mariadb-server curl
PY=${PYTHON:-python3}
ensure_venv_module "$PY"

mkdir -p "$SANDBOX" "$LOGS" "$RUN" "$ETC/environment.d" "$ETC/templates" "$SANDBOX/plugins"

# 2. Heat in its own venv (it pins ~130 packages that must not mix with the
#    project's venv). Reinstalled only when the lock file changes.
LOCK=$SANDBOX_TOOLS/requirements-heat.lock
lock_sum=$(sha256sum "$LOCK" | cut -d' ' -f1)
if [ -x "$VENV/bin/heat-engine" ] && [ "$(cat "$VENV/.lock.sha256" 2>/dev/null)" = "$lock_sum" ]; then
  log "heat venv up to date ($VENV)"
else
  log "heat venv: installing openstack-heat from $LOCK (about a minute)"
  make_venv "$PY" "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$LOCK"
  echo "$lock_sum" >"$VENV/.lock.sha256"
fi

# 3. Config files: cheap, so rewritten every time (they hold absolute paths).
cp "$VENV/etc/heat/api-paste.ini" "$ETC/api-paste.ini"
cp "$VENV/etc/heat/templates/"* "$ETC/templates/"
sed "s#file:///etc/heat/templates#file://$ETC/templates#" \
  "$VENV/etc/heat/environment.d/default.yaml" >"$ETC/environment.d/default.yaml"
cp "$SANDBOX_TOOLS/policy.yaml" "$ETC/policy.yaml"
cp "$SANDBOX_TOOLS/token_response.json" "$ETC/token_response.json"
sed "s#@SANDBOX@#$SANDBOX#g" "$SANDBOX_TOOLS/heat.conf.in" >"$HEAT_CONF"

# 4. RabbitMQ data/log dir. The node runs as user 'rabbitmq' (Debian's wrapper
#    su's to it), so it must be able to reach and write this directory; if the
#    checkout sits below a directory it cannot enter, use one under
#    /var/lib/rabbitmq instead and remember it in $SANDBOX/rabbitmq.dir.
if [ ! -f "$SANDBOX/rabbitmq.dir" ]; then
  mkdir -p "$SANDBOX/rabbitmq"
  chown rabbitmq:rabbitmq "$SANDBOX/rabbitmq"
  if ! su rabbitmq -s /bin/sh -c "test -w '$SANDBOX/rabbitmq'"; then
    alt=/var/lib/rabbitmq/heatseeker-$(echo -n "$SANDBOX" | sha256sum | cut -c1-12)
    log "user rabbitmq cannot write $SANDBOX/rabbitmq: using $alt"
    mkdir -p "$alt" && chown rabbitmq:rabbitmq "$alt"
    echo "$alt" >"$SANDBOX/rabbitmq.dir"
    ln -sfn "$alt/log" "$LOGS/rabbitmq"
  else
    ln -sfn "$SANDBOX/rabbitmq/log" "$LOGS/rabbitmq"
  fi
fi

# 5. A MariaDB datadir of our own (the system service is not used).
if [ -d "$SANDBOX/mysql/mysql" ]; then
  log "mariadb datadir exists"
else
  log "mariadb: creating datadir"
  rm -rf "$SANDBOX/mysql"
  # --skip-name-resolve: the sandbox reaches MariaDB on 127.0.0.1 and its socket only, so the
  # install needs no lookup of this machine's name (a fresh root may have no /etc/hosts)
  mariadb-install-db --no-defaults --datadir="$SANDBOX/mysql" --user=root \
    --auth-root-authentication-method=normal --skip-name-resolve \
    >"$LOGS/mariadb-install.log" 2>&1 ||
    die "mariadb-install-db failed; see $LOGS/mariadb-install.log"
fi

log "setup done in $((SECONDS - t0))s: sandbox at $SANDBOX"
