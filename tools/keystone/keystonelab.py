"""Helpers for tests against the sandbox Keystone (tools/keystone). Standard library only.

Import it as ``tools.keystone.keystonelab`` (repo root on sys.path, as pytest's
rootdir does) or with this folder on sys.path. Keystone must be set up, started
and populated (setup.sh, start.sh, populate.sh)::

    from tools.keystone import keystonelab as kl

    tok = kl.token("alice", "alicepw", "alpha")        # or kl.token(*kl.USERS["alice"])
    kl.ids()["ALPHA_ID"]                               # Keystone project id of alpha
    kl.token_info(tok)["project"]["id"]                # what auth_token will see
    r = kl.openstack("search", "query", "name:web*", "-f", "json",
                     user="alice", password="alicepw", project="alpha")
    r.returncode, r.stdout, r.stderr

``openstack()`` runs the `openstack` CLI of $HEATSEEKER_SANDBOX/searchlightclient-venv
(python-searchlightclient 2.1.1, python-heatclient and heatseeker's own plugin): it finds
heatseeker through Keystone's catalog, service type ``search`` (populate.sh's $SEARCH_URL,
default http://127.0.0.1:9393). ``openstack_token()`` runs it with a token instead
(``expired_token()`` makes one whose time is up).
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SANDBOX = Path(os.environ.get("HEATSEEKER_SANDBOX") or REPO / ".sandbox").resolve()
KEYSTONE_DIR = SANDBOX / "keystone"
KEYSTONE_URL = os.environ.get(
    "HEATSEEKER_KEYSTONE_URL", f"http://127.0.0.1:{os.environ.get('KEYSTONE_PORT', '5000')}/v3"
).rstrip("/")
OPENSTACK = SANDBOX / "searchlightclient-venv" / "bin" / "openstack"
ADMIN_PASSWORD = os.environ.get("ADMIN_PASSWORD", "secret")

# name -> (user, password, project), as populate.sh makes them
USERS: dict[str, tuple[str, str, str]] = {
    "admin": ("admin", ADMIN_PASSWORD, "admin"),  # role admin in the admin project
    "alice": ("alice", "alicepw", "alpha"),  # member of alpha
    "bob": ("bob", "bobpw", "beta"),  # member of beta
    "carol": ("carol", "carolpw", "alpha"),  # reader of alpha
    "heatseeker": ("heatseeker", "heatseekerpw", "service"),  # service role: auth_token's user
}


class KeystoneLabError(RuntimeError):
    """Keystone refused or did not answer."""


def _request(method: str, path: str, body: Any = None, headers: dict | None = None):
    """(status, headers, decoded JSON or None) of one request to Keystone."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(KEYSTONE_URL + path, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, resp.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = raw.decode(errors="replace")
        return e.code, e.headers, doc
    except OSError as e:
        raise KeystoneLabError(
            f"Keystone at {KEYSTONE_URL} does not answer ({e}): bash tools/keystone/start.sh"
        ) from e


def available() -> bool:
    """Does Keystone answer GET /v3?"""
    try:
        return _request("GET", "")[0] == 200
    except KeystoneLabError:
        return False


def _issue(user: str, password: str, project: str, catalog: bool = False):
    """(token, token body) for `user` scoped to `project` (names, domain Default)."""
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"id": "default"}, "password": password}
                },
            },
            "scope": {"project": {"name": project, "domain": {"id": "default"}}},
        }
    }
    path = "/auth/tokens" if catalog else "/auth/tokens?nocatalog"
    status, headers, doc = _request("POST", path, body)
    if status != 201 or not headers.get("X-Subject-Token"):
        raise KeystoneLabError(f"no token for {user} in project {project}: HTTP {status} {doc}")
    return headers["X-Subject-Token"], doc["token"]


def token(user: str, password: str, project: str) -> str:
    """A new token of `user` scoped to `project` (names, domain Default)."""
    return _issue(user, password, project)[0]


_EXPIRED_TOKEN = """
import base64, datetime, os, sys
import keystone.conf
from keystone.token import token_formatters as tf
conf = keystone.conf.CONF
keystone.conf.configure(conf)
conf(["--config-file", sys.argv[1]], project="keystone")
keystone.conf.auth.setup_authentication()
expires = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=int(sys.argv[4]))
audit = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
print(tf.TokenFormatter().create_token(
    sys.argv[2], expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), [audit], tf.ProjectScopedPayload,
    methods=["password"], project_id=sys.argv[3]))
"""


def expired_token(user: str, password: str, project: str, seconds_ago: int = 60) -> str:
    """A token of `user` scoped to `project` that expired `seconds_ago`: what a client holds once
    its token's time is up, without waiting for ``[token] expiration`` (an hour). Keystone's own
    token formatter makes it (run in keystone-venv, with this Keystone's configuration and Fernet
    keys), so everything but the expiry is what Keystone would issue; Keystone refuses to validate
    it (404), and keystonemiddleware answers 401."""
    _, body = _issue(user, password, project)
    proc = subprocess.run(
        [str(SANDBOX / "keystone-venv" / "bin" / "python"), "-", str(KEYSTONE_DIR / "etc" /
         "keystone.conf"), body["user"]["id"], body["project"]["id"], str(seconds_ago)],
        input=_EXPIRED_TOKEN, capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PYTHONWARNINGS="ignore"),
    )
    lines = proc.stdout.split()
    if proc.returncode != 0 or not lines:
        raise KeystoneLabError(f"could not make an expired token: {proc.stderr[-2000:]}")
    return lines[-1]


def token_info(subject: str, auth: str | None = None) -> dict:
    """Keystone's view of token `subject` (the "token" object: project, roles,
    is_admin_project, user, expires_at, catalog), validated with `auth` (an admin
    token by default), as keystonemiddleware does."""
    auth = auth or token(*USERS["admin"])
    status, _, doc = _request(
        "GET", "/auth/tokens", headers={"X-Auth-Token": auth, "X-Subject-Token": subject}
    )
    if status != 200:
        raise KeystoneLabError(f"token not valid: HTTP {status} {doc}")
    return doc["token"]


def revoke(subject: str, auth: str | None = None) -> None:
    """Revoke token `subject` (DELETE /v3/auth/tokens). keystonemiddleware caches
    validated tokens (token_cache_time, 300 s by default): a service may accept a
    revoked token until then."""
    auth = auth or token(*USERS["admin"])
    status, _, doc = _request(
        "DELETE", "/auth/tokens", headers={"X-Auth-Token": auth, "X-Subject-Token": subject}
    )
    if status != 204:
        raise KeystoneLabError(f"revoke failed: HTTP {status} {doc}")


def ids() -> dict[str, str]:
    """Keystone project ids written by populate.sh: ALPHA_ID, BETA_ID,
    ADMIN_PROJECT_ID, SERVICE_PROJECT_ID."""
    path = KEYSTONE_DIR / "ids.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise KeystoneLabError(f"{path} missing: bash tools/keystone/populate.sh") from None


def search_url(interface: str = "public") -> str:
    """The catalog's URL for service type 'search' (where the CLI will go)."""
    _, body = _issue(*USERS["admin"], catalog=True)
    for svc in body.get("catalog", []):
        if svc["type"] == "search":
            for ep in svc["endpoints"]:
                if ep["interface"] == interface:
                    return ep["url"]
    raise KeystoneLabError("no 'search' endpoint in the catalog: bash tools/keystone/populate.sh")


def user_id(name: str, auth: str | None = None) -> str:
    """The Keystone id of user `name` (domain Default)."""
    auth = auth or token(*USERS["admin"])
    status, _, doc = _request(
        "GET", f"/users?name={name}&domain_id=default", headers={"X-Auth-Token": auth}
    )
    if status != 200 or not doc or not doc.get("users"):
        raise KeystoneLabError(f"no user {name}: HTTP {status} {doc}")
    return doc["users"][0]["id"]


def create_application_credential(user: str, password: str, project: str, name: str) -> dict:
    """A new application credential of `user` for `project` (all of the user's roles there):
    Keystone's answer, with ``id`` and ``secret`` (shown only now). Delete it with
    ``delete_application_credential``."""
    tok, body = _issue(user, password, project)
    uid = body["user"]["id"]
    status, _, doc = _request(
        "POST",
        f"/users/{uid}/application_credentials",
        {"application_credential": {"name": name, "description": "heatseeker e2e test"}},
        headers={"X-Auth-Token": tok},
    )
    if status != 201:
        raise KeystoneLabError(f"no application credential for {user}: HTTP {status} {doc}")
    return doc["application_credential"]


def delete_application_credential(user: str, password: str, project: str, cred_id: str) -> None:
    """Delete `user`'s application credential `cred_id` (gone already is fine)."""
    tok, body = _issue(user, password, project)
    status, _, doc = _request(
        "DELETE",
        f"/users/{body['user']['id']}/application_credentials/{cred_id}",
        headers={"X-Auth-Token": tok},
    )
    if status not in (204, 404):
        raise KeystoneLabError(f"application credential {cred_id} not deleted: HTTP {status} {doc}")


def auth_token_conf(**overrides: Any) -> dict[str, Any]:
    """keystonemiddleware.auth_token options for heatseeker's service user
    (the [keystone_authtoken] section, as a dict)."""
    conf: dict[str, Any] = {
        "www_authenticate_uri": KEYSTONE_URL,
        "auth_url": KEYSTONE_URL,
        "auth_type": "password",
        "username": "heatseeker",
        "password": "heatseekerpw",
        "project_name": "service",
        "user_domain_id": "default",
        "project_domain_id": "default",
        "region_name": "RegionOne",
        "interface": "public",
    }
    conf.update(overrides)
    return conf


def openstack_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for the CLI: no OS_* variables of the caller leak in."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    base["PYTHONWARNINGS"] = "ignore"
    base.update(env or {})
    return base


def openstack_token(
    *args: str,
    token: str,
    endpoint: str | None = None,
    project_id: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    """Run the searchlightclient venv's `openstack` CLI with a token instead of a password: with
    `endpoint`, the token goes to that service as it is (``--os-auth-type admin_token``, no
    Keystone on the way: the service judges it); without, Keystone exchanges it for a token of
    `project_id` first (``--os-auth-type token``)."""
    if not OPENSTACK.exists():
        raise KeystoneLabError(f"{OPENSTACK} missing: bash tools/keystone/setup.sh")
    if endpoint:
        auth = ["--os-auth-type", "admin_token", "--os-endpoint", endpoint, "--os-token", token]
    else:
        auth = ["--os-auth-type", "token", "--os-auth-url", KEYSTONE_URL,
                "--os-identity-api-version", "3", "--os-token", token,
                "--os-project-id", project_id or "", "--os-region-name", "RegionOne",
                "--os-interface", "public"]
    return subprocess.run([str(OPENSTACK), *auth, *args], capture_output=True, text=True,
                          timeout=timeout, env=openstack_env(), stdin=subprocess.DEVNULL)


def openstack(
    *args: str,
    user: str,
    password: str,
    project: str,
    check: bool = False,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run the searchlightclient venv's `openstack` CLI as `user` in `project`.

    Returns the CompletedProcess (text stdout/stderr); raises CalledProcessError
    on a non-zero exit only with check=True.
    """
    if not OPENSTACK.exists():
        raise KeystoneLabError(f"{OPENSTACK} missing: bash tools/keystone/setup.sh")
    cmd = [
        str(OPENSTACK),
        "--os-auth-type",
        "password",
        "--os-auth-url",
        KEYSTONE_URL,
        "--os-identity-api-version",
        "3",
        "--os-username",
        user,
        "--os-password",
        password,
        "--os-project-name",
        project,
        "--os-user-domain-id",
        "default",
        "--os-project-domain-id",
        "default",
        "--os-region-name",
        "RegionOne",
        "--os-interface",
        "public",
        *args,
    ]
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
        env=openstack_env(env),
        stdin=subprocess.DEVNULL,
    )
