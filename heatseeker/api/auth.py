"""Who is calling: the caller from the headers keystonemiddleware's auth_token sets (or, in the
development-only trusted-headers mode, from the same headers as the client sent them), and what
policy lets them see.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from oslo_context import context as oslo_context
from oslo_policy import policy as oslo_policy

from heatseeker.heat.keystone import admin_project_flag
from heatseeker.query.visibility import Visibility

LOG = logging.getLogger(__name__)


class Unauthorized(Exception):
    pass


class Forbidden(Exception):
    pass


@dataclass(frozen=True)
class Caller:
    user_id: str | None
    project_id: str | None
    roles: tuple[str, ...]
    is_admin_project: bool
    system_scope: str | None

    @classmethod
    def from_environ(cls, environ: dict) -> Caller:
        def header(name: str) -> str | None:
            value = environ.get("HTTP_" + name.upper().replace("-", "_"))
            return value.strip() if isinstance(value, str) and value.strip() else None

        if header("X-Identity-Status") != "Confirmed":
            raise Unauthorized("authentication required: a valid Keystone token (X-Auth-Token)")
        project = header("X-Project-Id") or header("X-Tenant-Id")
        scope = header("X-System-Scope")
        if not project and not scope:
            raise Unauthorized("a project-scoped (or system-scoped) token is required")
        roles = tuple(r.strip() for r in (header("X-Roles") or "").split(",") if r.strip())
        # an absent flag means "not the admin project" (Searchlight defaulted it to true)
        admin_project = (header("X-Is-Admin-Project") or "false").lower() == "true"
        said = admin_project_flag(environ.get("keystone.token_info")) if project else None
        if said is not None:  # the token body keystonemiddleware validated, over its header
            admin_project = said
        return cls(header("X-User-Id"), project, roles, admin_project, scope)

    def policy_values(self) -> dict[str, Any]:
        # overwrite=False: the request's own context (its request id, heatseeker/api/wsgi.py) is
        # the one log lines carry
        ctx = oslo_context.RequestContext(
            user_id=self.user_id, project_id=self.project_id, roles=list(self.roles),
            is_admin_project=self.is_admin_project, system_scope=self.system_scope,
            overwrite=False,
        )
        return dict(ctx.to_policy_values())


class Authorizer:
    def __init__(self, enforcer: oslo_policy.Enforcer, admin_only_fields: frozenset[str]):
        self.enforcer = enforcer
        self.admin_only_fields = admin_only_fields

    def allowed(self, rule: str, caller: Caller) -> bool:
        return bool(self.enforcer.enforce(rule, {}, caller.policy_values()))

    def require(self, rule: str, caller: Caller) -> None:
        if not self.allowed(rule, caller):
            raise Forbidden(f"policy does not allow {rule}")

    def visibility(self, caller: Caller, all_projects: bool) -> Visibility:
        """The one place a caller's view is decided: their project, or every project for a cloud
        admin who asks; admin-only fields for cloud admins only."""
        if all_projects:
            self.require("search:all_projects", caller)
            projects = None
        else:
            projects = frozenset({caller.project_id}) if caller.project_id else frozenset()
        hidden = (
            frozenset() if self.allowed("search:admin_fields", caller) else self.admin_only_fields
        )
        return Visibility(projects, hidden)


class TrustedHeaders:
    """DEVELOPMENT AND TESTS ONLY: the identity headers are believed as the client sent them
    (Searchlight's functional tests did this). ``heatseeker serve`` refuses it on a non-loopback
    address unless ``[api] allow_trusted_headers_anywhere`` is set, and every request must name a
    loopback host (or one of ``[api] trusted_headers_hosts``) in its ``Host``: see ``HostCheck``."""

    def __init__(self, app, hosts: Iterable[str] = ()):
        self.app = HostCheck(app, hosts)

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


class HostCheck:
    """Refuse a request whose ``Host`` is not loopback (``localhost``, 127.0.0.0/8, ::1) nor one of
    ``hosts``: binding to loopback does not stop a DNS-rebinding page, whose requests reach
    127.0.0.1 from the user's own browser but carry the attacker's host name. Used where identity is
    not proven (trusted-headers: the API and the web UI's project pick)."""

    def __init__(self, app, hosts: Iterable[str] = ()):
        self.app = app
        self.hosts = frozenset(h.lower() for h in hosts)

    def __call__(self, environ, start_response):
        host = host_name(environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or "")
        if is_loopback(host) or host in self.hosts:
            return self.app(environ, start_response)
        body = json.dumps({"error": {
            "code": 403, "title": "Forbidden",
            "message": "this server trusts identity headers (auth_strategy = trusted-headers) and "
                       "answers only requests addressed to a loopback host; add the name to "
                       "[api] trusted_headers_hosts to allow it",
        }}).encode()
        start_response("403 Forbidden", [("Content-Type", "application/json; charset=UTF-8"),
                                         ("Content-Length", str(len(body)))])
        return [body]


def host_name(host: str) -> str:
    """The name in a ``Host`` header, without its port (``[::1]:80`` → ``::1``), lower-cased."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host


def is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
