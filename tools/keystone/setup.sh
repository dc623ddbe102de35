#!/bin/bash
# Install a real Keystone (PyPI keystone 30.x) for end-to-end tests of heatseeker's
# API, everything under $HEATSEEKER_SANDBOX (default <repo>/.sandbox), 127.0.0.1 only:
#
#   keystone-venv/            keystone, python-openstackclient, keystonemiddleware
#   searchlightclient-venv/   the cloud user's `openstack` CLI: python-openstackclient with
#                             python-searchlightclient 2.1.1, python-heatclient and heatseeker
#                             itself (editable, from this tree: its plugin, `openstack stack
#                             search|uses|history|diff|changes`) - the three plugins in one venv,
#                             as the plugin must coexist with the other two (a venv of its own:
#                             searchlightclient pins prettytable 0.7.2)
#   keystone/etc/keystone.conf, keystone/keystone.db (SQLite),
#   keystone/fernet-keys/, keystone/credential-keys/, bootstrap admin/$ADMIN_PASSWORD
#   logs/keystone.log
#
# Both venvs are installed from requirements-keystone.lock (see its header) and
# reinstalled only when their part of it changes. Idempotent: what is done is
# skipped, so a second run takes under a second (cold: ~2 min, mostly pip).
#
#   bash tools/keystone/setup.sh            # install / complete the installation
#   bash tools/keystone/setup.sh --relock   # re-resolve the top-level requirements
#                                           # below and rewrite the lock file
#   bash tools/keystone/setup.sh --relock-cli   # the same for searchlightclient-venv only
#                                               # (e.g. after heatseeker's dependencies changed)
set -euo pipefail
KS_TOOLS=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$KS_TOOLS/../.." && pwd)
SANDBOX=$(realpath -m "${HEATSEEKER_SANDBOX:-$REPO/.sandbox}")
KS=$SANDBOX/keystone
KS_VENV=$SANDBOX/keystone-venv
SLC_VENV=$SANDBOX/searchlightclient-venv
LOGS=$SANDBOX/logs
KS_CONF=$KS/etc/keystone.conf
KEYSTONE_PORT=${KEYSTONE_PORT:-5000}
ADMIN_PASSWORD=${ADMIN_PASSWORD:-secret}
LOCK=$KS_TOOLS/requirements-keystone.lock
# Top-level requirements, used only by --relock (the lock pins everything else).
KS_REQS=("keystone>=30,<31" python-openstackclient keystonemiddleware)
SLC_REQS=("python-searchlightclient==2.1.1" python-openstackclient python-heatclient)
# heatseeker goes into that venv too (editable, --no-deps), so the lock's searchlightclient part
# also holds heatseeker's own dependencies, resolved with the other two (pip check proves it).
# They are resolved within the main venv's pins (constraints.txt) but for prettytable, which
# searchlightclient 2.1.1 holds below 0.8.
CLI_PLUGIN_COMMANDS="stack_changes stack_diff stack_history stack_search stack_search_facets stack_uses"

log() { echo "[keystone] $*"; }
die() { echo "[keystone] ERROR: $*" >&2; exit 1; }
t0=$(date +%s.%N)
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}'; }

relock=0
case "${1:-}" in
  --relock) relock=1 ;;
  --relock-cli) relock=cli ;;
  "") ;;
  *) die "usage: setup.sh [--relock | --relock-cli]" ;;
esac

PY=${PYTHON:-python3}
source "$(dirname "$0")/../debs.sh"
ensure_debs curl
ensure_venv_module "$PY"
mkdir -p "$KS/etc" "$LOGS"

# --- 1. the two venvs ---------------------------------------------------------
# The lock file holds two pip freezes: plain lines for keystone-venv, lines
# starting with '#slc ' for searchlightclient-venv (pip -r skips those as comments).
ks_pins() { grep -vE '^[[:space:]]*(#|$)' "$LOCK"; }
slc_pins() { sed -n 's/^#slc //p' "$LOCK"; }

install_venv() {  # install_venv VENV NAME PINS_FUNCTION CHECK_BIN
  local venv=$1 name=$2 pins=$3 bin=$4 sum
  sum=$($pins | sha256sum | cut -d' ' -f1)
  if [ -x "$venv/bin/$bin" ] && [ "$(cat "$venv/.lock.sha256" 2>/dev/null)" = "$sum" ]; then
    log "$name up to date ($venv)"
    return 0
  fi
  [ -n "$($pins)" ] || die "no pins for $name in $LOCK: run setup.sh --relock"
  log "$name: installing from $(basename "$LOCK") ($($pins | wc -l) packages, 1-2 min)"
  make_venv "$PY" "$venv"
  $pins >"$venv/requirements.lock"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$venv/requirements.lock" ||
    die "pip install into $venv failed"
  echo "$sum" >"$venv/.lock.sha256"
}

# the CLI venv's pins: a throw-away venv (the live one keeps serving), searchlightclient,
# heatclient, openstackclient and heatseeker's dependencies resolved together
freeze_cli() {  # freeze_cli OUTFILE
  local tmp=$SANDBOX/cli-relock-venv
  rm -rf "$tmp"
  "$PY" -m venv "$tmp"
  grep -viE '^prettytable==' "$REPO/constraints.txt" >"$tmp/constraints.txt"
  "$tmp/bin/pip" install -q --disable-pip-version-check -c "$tmp/constraints.txt" \
    "${SLC_REQS[@]}" -e "$REPO[osc]" || die "could not resolve the CLI venv's requirements"
  "$tmp/bin/pip" freeze --disable-pip-version-check --exclude-editable >"$1"
  rm -rf "$tmp"
}

write_lock() {  # write_lock KS_FREEZE SLC_FREEZE
  {
    echo "# Pinned by 'bash tools/keystone/setup.sh --relock[-cli]' ($("$PY" -V), $(date -u +%Y-%m-%d))."
    echo "# Two pip freezes in one file:"
    echo "#  - plain lines: \$HEATSEEKER_SANDBOX/keystone-venv (${KS_REQS[*]})"
    echo "#  - lines starting with '#slc ': \$HEATSEEKER_SANDBOX/searchlightclient-venv"
    echo "#    (${SLC_REQS[*]},"
    echo "#    and the dependencies of heatseeker, installed there editable), within"
    echo "#    constraints.txt but for prettytable; kept apart because python-searchlightclient"
    echo "#    2.1.1 pins prettytable 0.7.2."
    echo "# setup.sh installs each venv from its part and reinstalls it when that part changes."
    cat "$1"
    echo
    echo "# searchlightclient-venv"
    sed 's/^/#slc /' "$2"
  } >"$LOCK.tmp"
  mv "$LOCK.tmp" "$LOCK"
  log "wrote $LOCK"
}

if [ "$relock" = 1 ]; then
  log "relock: resolving ${KS_REQS[*]} and ${SLC_REQS[*]} + heatseeker in fresh venvs"
  rm -rf "$KS_VENV"
  "$PY" -m venv "$KS_VENV"
  "$KS_VENV/bin/pip" install -q --disable-pip-version-check "${KS_REQS[@]}"
  "$KS_VENV/bin/pip" freeze --disable-pip-version-check --exclude-editable >"$SANDBOX/ks.freeze"
  freeze_cli "$SANDBOX/cli.freeze"
  write_lock "$SANDBOX/ks.freeze" "$SANDBOX/cli.freeze"
  rm -f "$SANDBOX/ks.freeze" "$SANDBOX/cli.freeze"
elif [ "$relock" = cli ]; then
  log "relock: resolving ${SLC_REQS[*]} + heatseeker for searchlightclient-venv (keystone-venv's pins kept)"
  ks_pins >"$SANDBOX/ks.freeze"
  freeze_cli "$SANDBOX/cli.freeze"
  write_lock "$SANDBOX/ks.freeze" "$SANDBOX/cli.freeze"
  rm -f "$SANDBOX/ks.freeze" "$SANDBOX/cli.freeze"
fi

# both at once: most of the time goes to downloads and unpacking
install_venv "$KS_VENV" keystone-venv ks_pins keystone-manage &
ks_job=$!
install_venv "$SLC_VENV" searchlightclient-venv slc_pins openstack &
slc_job=$!
wait "$ks_job" || die "keystone-venv install failed"
wait "$slc_job" || die "searchlightclient-venv install failed"

# heatseeker into the CLI venv: editable (the tests run this tree's plugin), without dependencies
# (the lock's part holds them); again whenever pyproject.toml (its entry points) changes
want=$(sha256sum "$REPO/pyproject.toml" | cut -d' ' -f1)
if [ "$(cat "$SLC_VENV/.heatseeker.sha256" 2>/dev/null)" != "$want" ]; then
  log "searchlightclient-venv: heatseeker (editable, from $REPO)"
  "$SLC_VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e "$REPO" ||
    die "pip install -e $REPO into $SLC_VENV failed"
  echo "$want" >"$SLC_VENV/.heatseeker.sha256"
fi
# what the venv provides, exactly: the pinned versions of the three plugins' packages, heatseeker
# from this tree, every requirement met, and the three command groups registered
"$SLC_VENV/bin/pip" check --disable-pip-version-check >"$LOGS/cli-venv-check.log" 2>&1 ||
  die "searchlightclient-venv has unmet requirements (heatseeker's dependencies changed? run
  bash tools/keystone/setup.sh --relock-cli): $(cat "$LOGS/cli-venv-check.log")"
PINS=$(slc_pins | grep -iE '^(python-searchlightclient|python-heatclient|python-openstackclient)==') \
REPO=$REPO COMMANDS=$CLI_PLUGIN_COMMANDS "$SLC_VENV/bin/python" -I - <<'PY' ||
import importlib.metadata as md, os, sys
bad = []
for pin in os.environ["PINS"].split():
    name, want = pin.split("==")
    try:
        have = md.version(name)
    except md.PackageNotFoundError:
        have = None
    if have != want:
        bad.append(f"{name} {have or 'missing'}, not {want}")
dist = md.distribution("heatseeker")
direct = dist.read_text("direct_url.json") or ""
if os.environ["REPO"] not in direct or '"editable": true' not in direct:
    bad.append(f"heatseeker {dist.version} is not the editable install of {os.environ['REPO']}")
eps = md.entry_points()
groups = {g: {e.name for e in eps.select(group=g)} for g in
          ("openstack.heatseeker.v1", "openstack.orchestration.v1", "openstack.search.v1")}
if groups["openstack.heatseeker.v1"] != set(os.environ["COMMANDS"].split()):
    bad.append(f"openstack.heatseeker.v1 holds {sorted(groups['openstack.heatseeker.v1'])}")
if "stack_list" not in groups["openstack.orchestration.v1"] \
        or "search_query" not in groups["openstack.search.v1"]:
    bad.append("heatclient's or searchlightclient's commands are not registered")
if bad:
    sys.exit("; ".join(bad))
PY
  die "searchlightclient-venv does not provide what it should (see above): bash tools/keystone/setup.sh"
log "searchlightclient-venv: $(slc_pins | grep -iE '^(python-searchlightclient|python-heatclient|python-openstackclient)==' | tr '\n' ' ')+ heatseeker $(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/pyproject.toml") (editable)"

# --- 2. keystone.conf (cheap: rewritten every time, it holds absolute paths) ---
cat >"$KS_CONF.tmp" <<CONF
# Written by tools/keystone/setup.sh: a test-only Keystone on 127.0.0.1:$KEYSTONE_PORT.
[DEFAULT]
debug = false
log_file = $LOGS/keystone.log
use_stderr = false

[database]
connection = sqlite:///$KS/keystone.db

[token]
provider = fernet
expiration = 3600

[fernet_tokens]
key_repository = $KS/fernet-keys

[fernet_receipts]
key_repository = $KS/fernet-keys

[credential]
key_repository = $KS/credential-keys

[identity]
# bcrypt cost 4 instead of 12: password authentication ~10x faster (tests only).
# Must be set before users are created: the cost is stored in each hash.
password_hash_rounds = 4

[cache]
# In-process dogpile cache: validating a token takes a few ms instead of ~400
# SQL queries / ~270 ms. Safe because there is exactly one keystone process.
enabled = true
backend = dogpile.cache.memory

[resource]
# Without these two, tokens carry no is_admin_project field and keystonemiddleware
# then sets X-Is-Admin-Project: True for EVERY token, an ordinary member's too.
admin_project_name = admin
admin_project_domain_name = Default
CONF
mv "$KS_CONF.tmp" "$KS_CONF"

# --- 3. database, keys, bootstrap (once) ---------------------------------------
KM=("$KS_VENV/bin/keystone-manage" --config-file "$KS_CONF")
U=$(id -un)
G=$(id -gn)
if [ ! -f "$KS/fernet-keys/0" ]; then
  log "fernet keys"
  mkdir -p "$KS/fernet-keys" && chmod 700 "$KS/fernet-keys"
  "${KM[@]}" fernet_setup --keystone-user "$U" --keystone-group "$G" >>"$LOGS/keystone-manage.log" 2>&1 ||
    die "fernet_setup failed; see $LOGS/keystone-manage.log"
fi
if [ ! -f "$KS/credential-keys/0" ]; then
  log "credential keys"
  mkdir -p "$KS/credential-keys" && chmod 700 "$KS/credential-keys"
  "${KM[@]}" credential_setup --keystone-user "$U" --keystone-group "$G" >>"$LOGS/keystone-manage.log" 2>&1 ||
    die "credential_setup failed; see $LOGS/keystone-manage.log"
fi
# The marker holds what bootstrap was run with; a lost database means a new bootstrap.
want="port=$KEYSTONE_PORT admin_password_sha=$(echo -n "$ADMIN_PASSWORD" | sha256sum | cut -c1-16)"
if [ -f "$KS/keystone.db" ] && [ "$(cat "$KS/.bootstrapped" 2>/dev/null)" = "$want" ]; then
  log "database bootstrapped ($KS/keystone.db)"
else
  log "database: db_sync + bootstrap (admin/admin, RegionOne, identity at :$KEYSTONE_PORT)"
  rm -f "$KS/.bootstrapped"
  "${KM[@]}" db_sync >>"$LOGS/keystone-manage.log" 2>&1 ||
    die "keystone-manage db_sync failed; see $LOGS/keystone-manage.log"
  url=http://127.0.0.1:$KEYSTONE_PORT/v3/
  # bootstrap is itself idempotent (it also resets the admin password)
  "${KM[@]}" bootstrap --bootstrap-password "$ADMIN_PASSWORD" \
    --bootstrap-username admin --bootstrap-project-name admin --bootstrap-role-name admin \
    --bootstrap-admin-url "$url" --bootstrap-internal-url "$url" --bootstrap-public-url "$url" \
    --bootstrap-region-id RegionOne >>"$LOGS/keystone-manage.log" 2>&1 ||
    die "keystone-manage bootstrap failed; see $LOGS/keystone-manage.log"
  echo "$want" >"$KS/.bootstrapped"
fi

log "setup done in $(elapsed)s: $KS_CONF (start it: bash tools/keystone/start.sh)"
