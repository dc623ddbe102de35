#!/bin/bash
# Fill the running Keystone (start.sh first) with what heatseeker's e2e tests use.
# Idempotent: what exists is left as it is (a password is reset only if it does
# not work, endpoint URLs follow $SEARCH_URL), so a second run only reads and
# revokes no token.
#
#   projects  alpha, beta, service (domain Default; 'admin' comes from bootstrap)
#   users     alice/alicepw       member of alpha
#             bob/bobpw           member of beta
#             carol/carolpw       reader of alpha
#             heatseeker/heatseekerpw  role 'service' in project service: the
#                                 keystonemiddleware (auth_token) service user
#   catalog   service 'heatseeker' of type 'search', public + internal endpoints
#             at ${SEARCH_URL:-http://127.0.0.1:9393}, region RegionOne
#
# Writes $SANDBOX/keystone/ids.env (sourceable) and ids.json: ALPHA_ID, BETA_ID,
# ADMIN_PROJECT_ID, SERVICE_PROJECT_ID (Keystone project ids).
set -euo pipefail
KS_TOOLS=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$KS_TOOLS/../.." && pwd)
SANDBOX=$(realpath -m "${HEATSEEKER_SANDBOX:-$REPO/.sandbox}")
KS=$SANDBOX/keystone
KS_VENV=$SANDBOX/keystone-venv
KEYSTONE_PORT=${KEYSTONE_PORT:-5000}
export KS_DIR=$KS
export KS_URL=http://127.0.0.1:$KEYSTONE_PORT/v3
export KS_ADMIN_PASSWORD=${ADMIN_PASSWORD:-secret}
export SEARCH_URL=${SEARCH_URL:-http://127.0.0.1:9393}

[ -x "$KS_VENV/bin/python" ] || { echo "[keystone] ERROR: run tools/keystone/setup.sh first" >&2; exit 1; }
curl -fs --max-time 5 -o /dev/null "$KS_URL" 2>/dev/null ||
  { echo "[keystone] ERROR: keystone does not answer $KS_URL: run tools/keystone/start.sh" >&2; exit 1; }

exec env PYTHONWARNINGS=ignore "$KS_VENV/bin/python" - <<'PY'
import json
import os
import time

from keystoneauth1 import session
from keystoneauth1.identity import v3

t0 = time.monotonic()
URL = os.environ["KS_URL"]
sess = session.Session(auth=v3.Password(
    auth_url=URL, username="admin", password=os.environ["KS_ADMIN_PASSWORD"],
    project_name="admin", user_domain_id="default", project_domain_id="default"))
changes = []


def get(path, **params):
    return sess.get(URL + path, params=params).json()


def one(collection, path, **params):
    found = get(path, **params)[collection]
    return found[0] if found else None


def ensure(collection, path, body, **match):
    """The first `collection` item matching `match` (query filters), created if missing."""
    item = one(collection, path, **match)
    if item is None:
        key = collection[:-1]
        item = sess.post(URL + path, json={key: body}).json()[key]
        changes.append(f"created {key} {body.get('name', body.get('interface', ''))}")
    return item


projects = {p: ensure("projects", "/projects",
                      {"name": p, "domain_id": "default", "description": f"heatseeker test project {p}"},
                      name=p, domain_id="default")
            for p in ("alpha", "beta", "service")}
projects["admin"] = one("projects", "/projects", name="admin", domain_id="default")
roles = {r: ensure("roles", "/roles", {"name": r}, name=r)
         for r in ("admin", "member", "reader", "service")}

def password_ok(user_id, password):
    """Does `password` authenticate user_id (an unscoped token)?"""
    body = {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"id": user_id, "password": password}}}}}
    r = sess.post(URL + "/auth/tokens", json=body, authenticated=False, raise_exc=False)
    return r.status_code == 201


USERS = [  # name, password, project, role
    ("alice", "alicepw", "alpha", "member"),
    ("bob", "bobpw", "beta", "member"),
    ("carol", "carolpw", "alpha", "reader"),
    ("heatseeker", "heatseekerpw", "service", "service"),
]
for name, password, project, role in USERS:
    user = one("users", "/users", name=name, domain_id="default")
    if user is None:
        user = sess.post(URL + "/users", json={"user": {
            "name": name, "password": password, "domain_id": "default",
            "default_project_id": projects[project]["id"]}}).json()["user"]
        changes.append(f"created user {name}")
    elif not password_ok(user["id"], password):
        # Only when it differs: a password change revokes the user's tokens.
        sess.patch(URL + f"/users/{user['id']}", json={"user": {"password": password}})
        changes.append(f"reset password of {name}")
    pid, uid, rid = projects[project]["id"], user["id"], roles[role]["id"]
    # PUT of a role assignment is idempotent (204 whether new or not)
    sess.put(URL + f"/projects/{pid}/users/{uid}/roles/{rid}")

svc = one("services", "/services", type="search")
if svc is None:
    svc = sess.post(URL + "/services", json={"service": {
        "type": "search", "name": "heatseeker", "enabled": True,
        "description": "heatseeker: Searchlight-compatible search of Heat stacks"}}).json()["service"]
    changes.append("created service heatseeker (search)")
elif svc.get("name") != "heatseeker":
    sess.patch(URL + f"/services/{svc['id']}", json={"service": {"name": "heatseeker"}})
SEARCH_URL = os.environ["SEARCH_URL"]
for iface in ("public", "internal"):
    eps = get("/endpoints", service_id=svc["id"], interface=iface)["endpoints"]
    if not eps:
        sess.post(URL + "/endpoints", json={"endpoint": {
            "service_id": svc["id"], "interface": iface, "url": SEARCH_URL,
            "region_id": "RegionOne", "enabled": True}})
        changes.append(f"created {iface} endpoint {SEARCH_URL}")
    for ep in eps:
        if ep["url"] != SEARCH_URL or ep.get("region_id") != "RegionOne":
            sess.patch(URL + f"/endpoints/{ep['id']}",
                       json={"endpoint": {"url": SEARCH_URL, "region_id": "RegionOne"}})
            changes.append(f"{iface} endpoint {ep['url']} -> {SEARCH_URL}")

ids = {
    "ALPHA_ID": projects["alpha"]["id"],
    "BETA_ID": projects["beta"]["id"],
    "ADMIN_PROJECT_ID": projects["admin"]["id"],
    "SERVICE_PROJECT_ID": projects["service"]["id"],
}
ks = os.environ["KS_DIR"]
for name, text in (
    ("ids.json", json.dumps(ids, indent=1, sort_keys=True) + "\n"),
    ("ids.env", "".join(f"{k}={v}\n" for k, v in sorted(ids.items()))),
):
    with open(f"{ks}/{name}.tmp", "w") as f:
        f.write(text)
    os.replace(f"{ks}/{name}.tmp", f"{ks}/{name}")

print(f"[keystone] populated in {time.monotonic() - t0:.1f}s: "
      + ("; ".join(changes) if changes else "nothing new"))
for name, _, project, role in USERS:
    print(f"[keystone]   {name:10} {role:7} in {project:7} ({projects[project]['id']})")
print(f"[keystone]   admin      admin   in admin   ({ids['ADMIN_PROJECT_ID']})")
print(f"[keystone]   catalog: search/heatseeker public+internal {SEARCH_URL}")
print(f"[keystone]   ids: {ks}/ids.env, {ks}/ids.json")
PY
