#!/bin/bash
# Self-check of the sandbox Keystone (setup.sh first). Starts and populates it
# (both idempotent), then checks, printing what it sees:
#   1. tokens.sh issues project-scoped tokens for alice, bob, admin (a wrong password: none)
#   2. GET /v3/auth/tokens (X-Auth-Token: admin, X-Subject-Token: alice's) -> project alpha's
#      id (= ids.json ALPHA_ID), roles member (+ implied reader); bob -> BETA_ID; carol -> [reader]
#   3. is_admin_project: false for alice, true for admin (the [resource] admin_project pitfall)
#   4. keystonemiddleware.auth_token, as the heatseeker service user, on real tokens:
#      X-Project-Id / X-Roles / X-Is-Admin-Project, and 401 for a garbage token
#   5. the searchlightclient venv's `openstack` CLI (keystonelab.openstack): the 'search'
#      catalog entry, and if nothing listens on its port, `openstack search resource type
#      list` / `search query` against a stand-in search app behind auth_token on that port
# Exit 0 and "keystone check: ALL OK" when all pass.
set -euo pipefail
KS_TOOLS=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$KS_TOOLS/../.." && pwd)
SANDBOX=$(realpath -m "${HEATSEEKER_SANDBOX:-$REPO/.sandbox}")
KS_VENV=$SANDBOX/keystone-venv
t0=$(date +%s.%N)
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}'; }
fail() { echo "[check] FAIL: $*" >&2; exit 1; }

bash "$KS_TOOLS/start.sh"
bash "$KS_TOOLS/populate.sh" | sed -n 1p  # (head would break the pipe)

TOK=$KS_TOOLS/tokens.sh
ALICE=$(bash "$TOK" alice alicepw alpha) || fail "no token for alice"
BOB=$(bash "$TOK" bob bobpw beta) || fail "no token for bob"
ADMIN=$(bash "$TOK" admin "${ADMIN_PASSWORD:-secret}" admin) || fail "no token for admin"
if bash "$TOK" alice wrong-password alpha >/dev/null 2>&1; then fail "alice got a token with a wrong password"; fi
if bash "$TOK" alice alicepw beta >/dev/null 2>&1; then fail "alice got a token for beta"; fi
echo "[check] tokens.sh: alice/alpha, bob/beta, admin/admin issued (${#ALICE}-char fernet); wrong password / wrong project refused"

export ALICE BOB ADMIN
PYTHONPATH=$KS_TOOLS PYTHONWARNINGS=ignore "$KS_VENV/bin/python" - <<'PY' || fail "see above"
import json
import logging
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, make_server

import keystonelab as kl

# auth_token warns about every auth plugin option ("not known to keystonemiddleware"),
# the in-process token cache and each refused token: expected here, so hidden
logging.getLogger("keystonemiddleware").setLevel(logging.ERROR)

ok = True


def check(cond, what):
    global ok
    print(f"[check] {'ok  ' if cond else 'FAIL'} {what}")
    ok = ok and bool(cond)


ids = kl.ids()
alice, bob, admin = os.environ["ALICE"], os.environ["BOB"], os.environ["ADMIN"]

# 2 + 3: Keystone's own validation, as auth_token does it
req = urllib.request.Request(kl.KEYSTONE_URL + "/auth/tokens",
                             headers={"X-Auth-Token": admin, "X-Subject-Token": alice})
with urllib.request.urlopen(req, timeout=30) as r:
    t = json.load(r)["token"]
roles = sorted(x["name"] for x in t["roles"])
print(f"[check] GET /v3/auth/tokens (alice's): project {t['project']['name']} id "
      f"{t['project']['id']}, roles {roles}, is_admin_project {t.get('is_admin_project')}")
check(t["project"]["id"] == ids["ALPHA_ID"], "alice's token carries ALPHA_ID")
# bootstrap's implied roles: member implies reader (admin -> manager -> member -> reader)
check("member" in roles and "admin" not in roles, "alice's roles: member (+ implied reader), not admin")
check(t.get("is_admin_project") is False, "alice: is_admin_project false")
tb = kl.token_info(bob, admin)
check(tb["project"]["id"] == ids["BETA_ID"], f"bob's token carries BETA_ID {ids['BETA_ID']}")
ta = kl.token_info(admin, admin)
check(ta["project"]["id"] == ids["ADMIN_PROJECT_ID"] and ta.get("is_admin_project") is True,
      f"admin: project ADMIN_PROJECT_ID, is_admin_project {ta.get('is_admin_project')}")
tc = kl.token_info(kl.token(*kl.USERS["carol"]), admin)
check([r["name"] for r in tc["roles"]] == ["reader"] and tc["project"]["id"] == ids["ALPHA_ID"],
      f"carol (keystonelab.token): alpha, roles {[r['name'] for r in tc['roles']]}")

# 4: keystonemiddleware with the heatseeker service user
import webob  # noqa: E402
from keystonemiddleware import auth_token  # noqa: E402

HDRS = ("X-Identity-Status", "X-Project-Id", "X-Project-Name", "X-Roles", "X-Is-Admin-Project",
        "X-User-Name")


def echo(environ, start_response):
    body = json.dumps({h: environ.get("HTTP_" + h.upper().replace("-", "_")) for h in HDRS})
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body.encode()]


mw = auth_token.AuthProtocol(echo, kl.auth_token_conf(token_cache_time="-1",
                                                      delay_auth_decision="false"))


def via_mw(tok):
    resp = webob.Request.blank("/v1/search", headers={"X-Auth-Token": tok}).get_response(mw)
    return resp.status_int, (resp.json if resp.status_int == 200 else None)


t0 = time.monotonic()
st, h = via_mw(alice)
print(f"[check] auth_token (alice): {st} {h} in {time.monotonic() - t0:.2f}s")
check(st == 200 and h["X-Project-Id"] == ids["ALPHA_ID"] and "member" in h["X-Roles"].split(",")
      and "admin" not in h["X-Roles"].split(",")
      and h["X-Is-Admin-Project"] == "False", "auth_token: alice -> ALPHA_ID, member, not admin project")
st, h = via_mw(admin)
check(st == 200 and h["X-Is-Admin-Project"] == "True" and "admin" in h["X-Roles"].split(","),
      f"auth_token: admin -> X-Is-Admin-Project {h and h['X-Is-Admin-Project']}, roles {h and h['X-Roles']}")
st, h = via_mw(bob)
check(st == 200 and h["X-Project-Id"] == ids["BETA_ID"], "auth_token: bob -> BETA_ID")
st, _ = via_mw("garbage")
check(st == 401, f"auth_token: garbage token -> {st}")

# 5: the searchlightclient CLI
ALICE_CRED = dict(zip(("user", "password", "project"), kl.USERS["alice"], strict=True))
r = kl.openstack("catalog", "show", "search", "-f", "json", **ALICE_CRED)
check(r.returncode == 0, f"openstack catalog show search (alice) rc={r.returncode} {r.stderr.strip()[-300:]}")
url = kl.search_url()
print(f"[check] catalog: search -> {url}")
u = urlsplit(url)
with socket.socket() as s:
    busy = s.connect_ex((u.hostname, u.port or 80)) == 0
if busy:
    print(f"[check] skip: something already listens on {u.hostname}:{u.port} (heatseeker?): "
          "no stand-in app for the `openstack search` check")
else:
    PLUGINS = [{"type": "OS::Heat::Stack", "name": "OS::Heat::Stack",
                "alias-searching": "searchlight-search", "alias-indexing": "searchlight-listener"}]

    def search_app(environ, start_response):
        path, method = environ.get("PATH_INFO", "").rstrip("/"), environ["REQUEST_METHOD"]
        project = environ.get("HTTP_X_PROJECT_NAME")
        if method == "GET" and path == "/v1/search/plugins":
            doc = {"plugins": PLUGINS}
        elif method == "POST" and path == "/v1/search":
            src = {"id": "probe-1", "name": f"project={project}",
                   "updated_at": "2024-01-01T00:00:00Z",
                   "project_id": environ.get("HTTP_X_PROJECT_ID")}
            doc = {"took": 1, "timed_out": False, "hits": {"total": 1, "max_score": 1.0, "hits": [
                {"_index": "searchlight-search", "_type": "OS::Heat::Stack", "_id": "probe-1",
                 "_score": 1.0, "_source": src}]}}
        else:
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error": "not found"}']
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(doc).encode()]

    class Quiet(WSGIRequestHandler):
        def log_message(self, *a):
            pass

    srv = make_server(u.hostname, u.port, auth_token.AuthProtocol(
        search_app, kl.auth_token_conf(delay_auth_decision="false")), handler_class=Quiet)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        r = kl.openstack("search", "resource", "type", "list", "-f", "value", **ALICE_CRED)
        check(r.returncode == 0 and "OS::Heat::Stack" in r.stdout,
              f"openstack search resource type list -> {r.stdout.strip()!r} {r.stderr.strip()[-300:]}")
        r = kl.openstack("search", "query", "name:x", "-f", "value", **ALICE_CRED)
        check(r.returncode == 0 and "project=alpha" in r.stdout,
              f"openstack search query name:x -> {r.stdout.strip()!r} {r.stderr.strip()[-300:]}")
    finally:
        srv.shutdown()
        srv.server_close()
sys.exit(0 if ok else 1)
PY
echo "[check] keystone check: ALL OK in $(elapsed)s"
