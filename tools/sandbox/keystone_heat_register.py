"""Register the sandbox's Keystone-mode Heat in the sandbox Keystone (keystone-heat.sh setup).

Run with the Keystone venv's python (keystoneauth1). Each step reads first and creates only what
is missing, so a second run only reads (about half a second):

* user ``heat`` (domain Default) with role ``admin`` in project ``service``: Heat's service user
  (keystonemiddleware's auth_token validates tokens with it; ``[trustee]``: the trustee of the
  trusts Heat makes when a stack is created), as Heat's install guide says;
* role ``heat_stack_user`` (Heat gives it to the users it makes in the stack domain);
* the stack domain ``heat`` with its admin ``heat_domain_admin`` (role admin on the domain), made by
  Heat's own ``heat-keystone-setup-domain`` when any of the three is missing;
* service ``heat`` of type ``orchestration`` with public and internal endpoints
  ``http://127.0.0.1:<port>/v1/%(tenant_id)s`` in region ``REGION`` (RegionOne; another region for
  another instance, ``KEYSTONE_HEAT_REGION``), the region made if missing. Only that region's
  endpoints are read and corrected: each region's instance keeps its own, and the user, role and
  stack domain above are shared by all of them.

Nothing is given to alice or bob: Heat 27's stock policy lets a project's ``member`` create, update
and delete its stacks (``stacks:create`` = ``role:member and project_id:%(project_id)s``) and a
``reader`` read them; populate.sh made alice member of alpha and bob member of beta.

Environment: KS_URL (http://127.0.0.1:5000/v3), KS_ADMIN_PASSWORD, HEAT_URL (the endpoints'
URL), REGION (RegionOne), HEAT_PASSWORD, DOMAIN_ADMIN_PASSWORD, SETUP_DOMAIN (path of
heat-keystone-setup-domain).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from keystoneauth1 import session
from keystoneauth1.identity import v3

t0 = time.monotonic()
URL = os.environ["KS_URL"].rstrip("/")
ADMIN_PASSWORD = os.environ["KS_ADMIN_PASSWORD"]
HEAT_URL = os.environ["HEAT_URL"]
HEAT_PASSWORD = os.environ["HEAT_PASSWORD"]
DOMAIN_ADMIN_PASSWORD = os.environ["DOMAIN_ADMIN_PASSWORD"]
SETUP_DOMAIN = os.environ["SETUP_DOMAIN"]
REGION = os.environ.get("REGION") or "RegionOne"

sess = session.Session(auth=v3.Password(
    auth_url=URL, username="admin", password=ADMIN_PASSWORD, project_name="admin",
    user_domain_id="default", project_domain_id="default"))
changes: list[str] = []


def get(path: str, **params) -> dict:
    return sess.get(URL + path, params=params).json()


def one(collection: str, path: str, **params) -> dict | None:
    found = get(path, **params)[collection]
    return found[0] if found else None


def token_ok(identity: dict, scope: dict | None = None) -> bool:
    body: dict = {"identity": identity}
    if scope:
        body["scope"] = scope
    r = sess.post(URL + "/auth/tokens?nocatalog", json={"auth": body}, authenticated=False,
                  raise_exc=False)
    return r.status_code == 201


def password_identity(user: dict, password: str) -> dict:
    return {"methods": ["password"], "password": {"user": {"id": user["id"], "password": password}}}


def role(name: str) -> dict:
    found = one("roles", "/roles", name=name)
    if found is None:
        found = sess.post(URL + "/roles", json={"role": {"name": name}}).json()["role"]
        changes.append(f"created role {name}")
    return found


def has_role(path: str) -> bool:
    return sess.head(URL + path, raise_exc=False).status_code == 204


# -- Heat's service user -------------------------------------------------------------------------
service = one("projects", "/projects", name="service", domain_id="default")
if service is None:
    sys.exit("[keystone-heat] ERROR: no project 'service' in Keystone: bash tools/keystone/populate.sh")
admin_role = role("admin")
role("heat_stack_user")
heat = one("users", "/users", name="heat", domain_id="default")
if heat is None:
    heat = sess.post(URL + "/users", json={"user": {
        "name": "heat", "password": HEAT_PASSWORD, "domain_id": "default",
        "description": "Heat's service user (the Keystone-mode Heat sandbox)"}}).json()["user"]
    changes.append("created user heat")
elif not token_ok(password_identity(heat, HEAT_PASSWORD)):
    sess.patch(URL + f"/users/{heat['id']}", json={"user": {"password": HEAT_PASSWORD}})
    changes.append("reset password of heat")
grant = f"/projects/{service['id']}/users/{heat['id']}/roles/{admin_role['id']}"
if not has_role(grant):
    sess.put(URL + grant)
    changes.append("granted heat admin in service")

# -- the stack domain (heat-keystone-setup-domain) ------------------------------------------------


def domain_ready() -> bool:
    domain = one("domains", "/domains", name="heat")
    if domain is None:
        return False
    user = one("users", "/users", name="heat_domain_admin", domain_id=domain["id"])
    if user is None or not has_role(
            f"/domains/{domain['id']}/users/{user['id']}/roles/{admin_role['id']}"):
        return False
    return token_ok(password_identity(user, DOMAIN_ADMIN_PASSWORD),
                    {"domain": {"id": domain["id"]}})


if not domain_ready():
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_USERNAME="admin", OS_PASSWORD=ADMIN_PASSWORD, OS_AUTH_URL=URL,
               OS_PROJECT_NAME="admin", OS_USER_DOMAIN_NAME="Default",
               OS_PROJECT_DOMAIN_NAME="Default")
    proc = subprocess.run(
        [SETUP_DOMAIN, "--stack-user-domain-name", "heat", "--stack-domain-admin",
         "heat_domain_admin", "--stack-domain-admin-password", DOMAIN_ADMIN_PASSWORD],
        env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        sys.exit(f"[keystone-heat] ERROR: heat-keystone-setup-domain exited {proc.returncode}:\n"
                 f"{proc.stdout}{proc.stderr}")
    # Keystone's in-process cache may answer the lists from before for a moment
    for _ in range(10):
        if domain_ready():
            break
        time.sleep(0.5)
    else:
        # it keeps an existing heat_domain_admin as it is: a wrong password stays wrong
        domain = one("domains", "/domains", name="heat")
        user = domain and one("users", "/users", name="heat_domain_admin", domain_id=domain["id"])
        if not user:
            sys.exit("[keystone-heat] ERROR: heat-keystone-setup-domain made no domain heat / "
                     f"heat_domain_admin:\n{proc.stdout}{proc.stderr}")
        sess.patch(URL + f"/users/{user['id']}", json={"user": {"password": DOMAIN_ADMIN_PASSWORD}})
        time.sleep(1)
        if not domain_ready():
            sys.exit("[keystone-heat] ERROR: the stack domain is still not usable")
    changes.append("stack domain heat + heat_domain_admin (heat-keystone-setup-domain)")

# -- the catalog: the region, orchestration --------------------------------------------------------
if sess.get(URL + f"/regions/{REGION}", raise_exc=False).status_code == 404:
    sess.post(URL + "/regions", json={"region": {"id": REGION}})
    changes.append(f"created region {REGION}")
svc = one("services", "/services", type="orchestration")
if svc is None:
    svc = sess.post(URL + "/services", json={"service": {
        "type": "orchestration", "name": "heat", "enabled": True,
        "description": "Orchestration (the Keystone-mode Heat sandbox)"}}).json()["service"]
    changes.append("created service heat (orchestration)")
for iface in ("public", "internal"):
    eps = [ep for ep in get("/endpoints", service_id=svc["id"], interface=iface,
                            region_id=REGION)["endpoints"] if ep.get("region_id") == REGION]
    if not eps:
        sess.post(URL + "/endpoints", json={"endpoint": {
            "service_id": svc["id"], "interface": iface, "url": HEAT_URL, "region_id": REGION,
            "enabled": True}})
        changes.append(f"created {iface} endpoint {HEAT_URL} in {REGION}")
    for ep in eps:
        if ep["url"] != HEAT_URL or not ep.get("enabled", True):
            sess.patch(URL + f"/endpoints/{ep['id']}", json={"endpoint": {
                "url": HEAT_URL, "enabled": True}})
            changes.append(f"{iface} endpoint {ep['url']} -> {HEAT_URL} in {REGION}")

print(f"[keystone-heat] keystone registered ({REGION}) in {time.monotonic() - t0:.1f}s: "
      + ("; ".join(changes) if changes else "nothing new"))
