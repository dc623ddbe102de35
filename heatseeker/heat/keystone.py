"""What heatseeker asks of Keystone itself, outside a Heat call: whether its tokens say which
project is the admin project.

Keystone adds ``is_admin_project`` to a project-scoped token only when its ``[resource]
admin_project_name`` and ``admin_project_domain_name`` are set. Without them keystonemiddleware
(``X-Is-Admin-Project``) and keystoneauth1 (``AccessInfo.is_admin_project``) default the flag to
true for EVERY project, so a project-level admin would pass the stock ``context_is_admin`` rule
and get ``all_projects``. heatseeker reads a missing flag as false (``admin_project_flag``), warns
once, and ``heatseeker status`` and ``serve`` ask Keystone up front (``admin_project_caveat``).
"""

from __future__ import annotations

import logging
from typing import Any

LOG = logging.getLogger(__name__)

_warned_admin_project = False

ADMIN_PROJECT_CAVEAT = (
    "Keystone does not say which project is the admin project (its [resource] "
    "admin_project_name and admin_project_domain_name are unset), and keystonemiddleware then "
    "marks EVERY project token as the admin project's: heatseeker counts nobody as a cloud admin "
    "through a project token. Set both options in keystone.conf (docs/design.md, Keystone "
    "deployment caveat), or give cloud admins system-scoped tokens."
)


def admin_project_flag(token_info: Any) -> bool | None:
    """What a project-scoped Keystone token (a v3 body, as keystonemiddleware keeps it in
    ``keystone.token_info``) says of its project being the admin project; None for anything else.

    Keystone adds ``is_admin_project`` only when its ``[resource] admin_project_name`` is set;
    keystonemiddleware and keystoneauth1 then default it to true for EVERY project. heatseeker
    reads a missing flag as false, and logs why once per process (``ADMIN_PROJECT_CAVEAT``)."""
    global _warned_admin_project
    token = token_info.get("token") if isinstance(token_info, dict) else None
    if not isinstance(token, dict) or "project" not in token:
        return None
    if "is_admin_project" in token:
        return token["is_admin_project"] is True
    if not _warned_admin_project:
        _warned_admin_project = True
        LOG.warning(ADMIN_PROJECT_CAVEAT)
    return False


class KeystoneNotAsked(Exception):
    """Keystone could not be asked (unreachable, credentials refused, bad options)."""


def admin_project_known(conf) -> bool | None:
    """Whether a token for ``[heat]``'s own Keystone credentials says which project is the admin
    project: True, False (the caveat applies), or None when ``[heat]`` does not use Keystone
    (``auth_type = none``). KeystoneNotAsked when Keystone cannot be asked."""
    from keystoneauth1 import exceptions as ks_exc
    from keystoneauth1 import loading as ks_loading
    from keystoneauth1 import plugin as ks_plugin

    from heatseeker.config import HEAT_GROUP

    try:
        auth = ks_loading.load_auth_from_conf_options(conf, HEAT_GROUP)
        if auth is None or isinstance(auth, ks_plugin.FixedEndpointPlugin):
            return None
        session = ks_loading.load_session_from_conf_options(conf, HEAT_GROUP, auth=auth)
        access = auth.get_access(session)  # type: ignore[attr-defined]  # identity plugins
    except (ks_exc.ClientException, ValueError) as exc:
        raise KeystoneNotAsked(f"{type(exc).__name__}: {exc}") from exc
    body = getattr(access, "_data", None)
    token = body.get("token") if isinstance(body, dict) else None
    return not (isinstance(token, dict) and "project" in token and "is_admin_project" not in token)


def admin_project_caveat(conf) -> str | None:
    """The caveat when Keystone does not say which project is the admin project; None when it
    does, when ``[heat]`` does not use Keystone, or when Keystone cannot be asked (``sync`` and
    ``status`` report that themselves)."""
    try:
        known = admin_project_known(conf)
    except KeystoneNotAsked as exc:
        LOG.info("could not ask Keystone about its admin project: %s", exc)
        return None
    return ADMIN_PROJECT_CAVEAT if known is False else None
