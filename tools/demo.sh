#!/usr/bin/env bash
# The whole thing on one machine, on the embedded engine: a real Heat (sandbox), sample nested
# stacks in two projects, `heatseeker sync`, the listener, a live change, example searches.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
bash tools/sandbox/setup.sh
bash tools/sandbox/start.sh
echo "== seeding sample stacks (projects alpha and beta)"
.venv/bin/python tools/sandbox/seed.py

DEMO=${HEATSEEKER_DEMO_DIR:-$PWD/.sandbox/demo}
mkdir -p "$DEMO"
cat > "$DEMO/heatseeker.conf" <<CONF
[DEFAULT]
data_dir = $DEMO/data
transport_url = rabbit://guest:guest@127.0.0.1:5672/
log_file = $DEMO/heatseeker.log

[heat]
# the sandbox's Heat runs without Keystone (noauth); with Keystone use auth_type = password
auth_type = none
endpoint = http://127.0.0.1:8004/v1/admin

[listener]
pool = heatseeker-demo

[api]
# the sandbox has no Keystone in front of Heat: the web UI lets you pick a project instead of
# signing in (development mode, loopback only; with Keystone keep auth_strategy = keystone)
auth_strategy = trusted-headers
bind_host = 127.0.0.1
bind_port = ${HEATSEEKER_DEMO_PORT:-9494}
CONF
hs() { echo; echo "\$ heatseeker $*"; .venv/bin/heatseeker --config-file "$DEMO/heatseeker.conf" "$@"; }

# the record first, as an installation does (deploy.md §1): made here, at the schema's head
hs db upgrade
hs db version
# exit 3: an index left by an older heatseeker (a previous demo): rebuild it from the store
hs sync || { rc=$?; [ "$rc" = 3 ] || exit "$rc"; hs reindex && hs sync; }
.venv/bin/heatseeker --config-file "$DEMO/heatseeker.conf" listen &
LISTENER=$!
trap 'kill $LISTENER 2>/dev/null; wait $LISTENER 2>/dev/null' EXIT
# wait for the listener's queue before changing anything
for _ in $(seq 60); do
  .venv/bin/python - <<'PY' 2>/dev/null && break
import kombu
with kombu.Connection("amqp://guest:guest@127.0.0.1:5672//", connect_timeout=2) as c:
    c.channel().queue_declare(queue="heatseeker-demo", passive=True)
PY
  sleep 0.5
done

hs search --all-projects 'parameters.image:cirros-0.6.2'
hs search --project alpha --rollup root 'resources.type:OS::Heat::TestResource'
hs search --all-projects --sort updated_at:desc --limit 5 'depth:0'
hs search --project beta --json --fields id,name,status,path 'remote'

echo; echo "== a live change: create a stack in alpha and watch it arrive through the listener"
NAME=demo-live-$RANDOM
SID=$(.venv/bin/python - "$NAME" <<'PY'
import sys
sys.path.insert(0, "tools/sandbox")
import heatlab
hc = heatlab.hc_for("alpha")
sid = heatlab.create(hc, sys.argv[1], "db.yaml", parameters={"image": "debian-13"})
heatlab.wait_status(hc, sid, "CREATE_COMPLETE")
print(sid)
PY
)
for _ in $(seq 40); do
  out=$(.venv/bin/heatseeker --config-file "$DEMO/heatseeker.conf" search --project alpha "name:$NAME" 2>/dev/null || true)
  case "$out" in *CREATE_COMPLETE*) break ;; esac
  sleep 0.5
done
hs search --project alpha "parameters.image:debian-13"
hs show "$SID"
hs status
.venv/bin/python - "$SID" <<'PY'
import sys
sys.path.insert(0, "tools/sandbox")
import heatlab
heatlab.delete(heatlab.hc_for("alpha"), sys.argv[1])
PY

echo; echo "== the web UI: heatseeker serve (the API and /ui/), left running"
UI_PORT=${HEATSEEKER_DEMO_PORT:-9494}
if [ -f "$DEMO/serve.pid" ] && kill -0 "$(cat "$DEMO/serve.pid")" 2>/dev/null; then
  kill "$(cat "$DEMO/serve.pid")"; sleep 1   # the previous demo's server
fi
nohup .venv/bin/heatseeker --config-file "$DEMO/heatseeker.conf" serve > "$DEMO/serve.out" 2>&1 &
echo $! > "$DEMO/serve.pid"
for _ in $(seq 40); do
  curl -fs -o /dev/null "http://127.0.0.1:$UI_PORT/ui/login" && break
  sleep 0.25
done
UI_URL="http://127.0.0.1:$UI_PORT/ui/?q=parameters.image%3Acirros-0.6.2&rollup=1"
curl -fs -o /dev/null "http://127.0.0.1:$UI_PORT/ui/login" || { cat "$DEMO/serve.out"; exit 1; }
echo "web UI: $UI_URL"
echo "  (development sign-in: pick project alpha or beta, or admin with 'act as a cloud admin';"
echo "   stop it with: kill \$(cat $DEMO/serve.pid))"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && command -v xdg-open >/dev/null; then
  xdg-open "$UI_URL" >/dev/null 2>&1 || true
fi
echo; echo "demo done: config $DEMO/heatseeker.conf (try: .venv/bin/heatseeker --config-file $DEMO/heatseeker.conf search --all-projects 'tags:prod')"
