"""The search API as a WSGI application for the servers operators run: ``heatseeker.api.wsgi:
application`` (uWSGI ``module = heatseeker.api.wsgi:application``, gunicorn
``heatseeker.api.wsgi:application``, mod_wsgi ``WSGIScriptAlias`` to a file importing it).

Configuration is found as OpenStack services find theirs: ``HEATSEEKER_CONFIG_FILE`` (one path, or
several separated by commas), else ``/etc/heatseeker/heatseeker.conf``; ``HEATSEEKER_CONFIG_DIR``
adds a ``heatseeker.conf.d``-style directory. Each worker process builds its own application on
first use (``application`` is made lazily, after the server forked), so nothing is shared between
workers but what lives on disk or in the cluster.

The pipeline, outermost first (Keystone's and Designate's order):

``request_id``          ``x-openstack-request-id`` on every answer; the id is in every log line of
                        the request (oslo.log's context) and in the access line
``access log``          one line per request: method, path, status, bytes, seconds
``http_proxy_to_wsgi``  behind a TLS proxy, links follow ``X-Forwarded-Proto``/``Host`` when
                        ``[oslo_middleware] enable_proxy_headers_parsing`` is set
``healthcheck``         ``/healthcheck``: 503 when the store or the index cannot be used (the
                        ``heatseeker`` backend, ``heatseeker/api/health.py``); add
                        ``disable_by_file`` to ``[healthcheck] backends`` to drain a host
``cors``                ``[cors]``
``sizelimit``           ``[oslo_middleware] max_request_body_size``
the web UI              ``/ui`` when ``[ui] enabled`` (``heatseeker.ui.with_ui``), in front of
the API                 ``build_app``: authentication (keystonemiddleware), policy, routes

This module is where the server's application is composed (as ``heatseeker serve`` does for
itself), so it is the one place under ``api/`` that brings the UI in; the API (``app.py``) does
not import it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any

from oslo_config import cfg
from oslo_context import context as oslo_context
from oslo_log import log as oslo_logging
from oslo_middleware import cors, healthcheck, http_proxy_to_wsgi, request_id, sizelimit
from oslo_middleware.healthcheck import opts as healthcheck_opts

from heatseeker import config

LOG = logging.getLogger(__name__)
ACCESS = logging.getLogger("heatseeker.api.access")

CONFIG_FILE_ENV = "HEATSEEKER_CONFIG_FILE"
CONFIG_DIR_ENV = "HEATSEEKER_CONFIG_DIR"
DEFAULT_CONFIG_FILE = "/etc/heatseeker/heatseeker.conf"


def load_conf(environ: dict[str, str] | None = None) -> cfg.ConfigOpts:
    """The configuration of a WSGI process (see the module docstring), with logging set up."""
    env = os.environ if environ is None else environ
    files = [p.strip() for p in env.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE).split(",") if p.strip()]
    missing = [p for p in files if not os.path.isfile(p)]
    if missing:
        raise cfg.ConfigFilesNotFoundError(missing)
    dirs = [env[CONFIG_DIR_ENV]] if env.get(CONFIG_DIR_ENV) else []
    conf = config.new_conf()
    oslo_logging.register_options(conf)
    conf.register_opts(healthcheck_opts.HEALTHCHECK_OPTS, group="healthcheck")
    conf.set_default("backends", ["heatseeker"], group="healthcheck")
    conf([], project="heatseeker", default_config_files=files, default_config_dirs=dirs)
    oslo_logging.setup(conf, "heatseeker")
    return conf


class AccessLog:
    """One log line per request, in the request's context (so it carries the request id)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        started = time.monotonic()
        rid = environ.get(request_id.ENV_REQUEST_ID)
        # every log line of this request (this thread) carries the id: oslo.log reads the
        # context of the current thread
        oslo_context.RequestContext(
            request_id=rid, overwrite=True, user_id=_header(environ, "X-User-Id"),
            project_id=_header(environ, "X-Project-Id"))
        seen: dict[str, Any] = {"status": "-"}

        def recording(status, headers, exc_info=None):
            seen["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info)

        size = 0
        try:
            for chunk in self.app(environ, recording):
                size += len(chunk)
                yield chunk
        finally:
            ACCESS.info('%s "%s %s" %s %dB %.3fs', environ.get("REMOTE_ADDR", "-"),
                        environ.get("REQUEST_METHOD", "-"), _path(environ), seen["status"], size,
                        time.monotonic() - started)


def _header(environ, name: str) -> str | None:
    return environ.get("HTTP_" + name.upper().replace("-", "_"))


def _path(environ) -> str:
    path = environ.get("PATH_INFO", "") or "/"
    query = environ.get("QUERY_STRING")
    return f"{path}?{query}" if query else path


HEALTHCHECK_PATH = "/healthcheck"


class HealthcheckAt:
    """``/healthcheck`` to oslo.middleware's healthcheck (an application since oslo.middleware 8,
    as paste's urlmap mounts it in other services), everything else to ``app``."""

    def __init__(self, app, conf: cfg.ConfigOpts):
        self.app = app
        self.check = healthcheck.Healthcheck(None, conf)

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == HEALTHCHECK_PATH:
            return self.check(environ, start_response)
        return self.app(environ, start_response)


def pipeline(conf: cfg.ConfigOpts, app):
    """The API ``app`` behind oslo.middleware (see the module docstring)."""
    app = sizelimit.RequestBodySizeLimiter(app, conf)
    app = cors.CORS(app, conf)
    app = HealthcheckAt(app, conf)
    app = http_proxy_to_wsgi.HTTPProxyToWSGI(app, conf)
    app = AccessLog(app)
    return request_id.RequestId(app)


def init_application(conf: cfg.ConfigOpts | None = None):
    """Build the whole WSGI application (the API, the web UI when enabled, the middleware)."""
    from heatseeker.api.app import build_app
    from heatseeker.ui import with_ui

    conf = conf or load_conf()
    if conf.api.auth_strategy == "keystone":
        from heatseeker.heat.keystone import admin_project_caveat

        caveat = admin_project_caveat(conf)
        if caveat:
            LOG.warning(caveat)
    app = pipeline(conf, with_ui(conf, build_app(conf)))
    LOG.info("heatseeker search API ready (auth: %s, engine: %s)", conf.api.auth_strategy,
             conf.engine.backend)
    return app


_lock = threading.Lock()
_application = None


def application(environ, start_response):
    """The WSGI entry point: builds this process's application on its first request.

    If it cannot be built (a configuration the server cannot use, a part that will not open),
    the request is answered 503 in JSON, the reason and its traceback are logged, and the next
    request tries again: a server worker never answers its WSGI server's HTML 500, and starts
    serving once the cause is repaired."""
    global _application
    if _application is None:
        with _lock:
            if _application is None:
                try:
                    _application = init_application()
                except Exception:  # noqa: BLE001 - answered, logged, tried again
                    LOG.exception("the heatseeker search API could not start")
                    return _not_started(start_response)
    return _application(environ, start_response)


# The reason stays in the log: the caller is not authenticated yet, and a reason can name
# hosts, paths or a database URL.
_NOT_STARTED = json.dumps({"error": {
    "code": 503, "title": "Service Unavailable",
    "message": "the search API could not start (the reason is logged); the next request tries "
               "again"}}).encode()


def _not_started(start_response) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "application/json"),
                                               ("Content-Length", str(len(_NOT_STARTED)))])
    return [_NOT_STARTED]
