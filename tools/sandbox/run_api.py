"""Serve heat-api (the WSGI app of Heat 27) from a *threaded* wsgiref server.

Heat 27 has no eventlet ``heat-api`` any more, and the pbr ``heat-wsgi-api``
test server is single-threaded: that deadlocks ``OS::Heat::Stack``, where the
engine calls back into the API while the API waits on the engine.

Requests without an ``X-Auth-Project`` header act as the project named in
the URL (``/v1/<project>/...``), see ProjectFromPath.

Environment: HEAT_CONF (path of heat.conf, required), HEAT_API_PORT (8004).
"""

import os
import socketserver
import sys
from wsgiref import simple_server

# oslo.config reads sys.argv. oslo.log would name the log file after this
# script (run_api.py.log): name it heat-api.log, in heat.conf's log_dir.
sys.argv = ["heat-api", "--config-file", os.environ["HEAT_CONF"], "--log-file", "heat-api.log"]

from heat.api.openstack.wsgi import init_application  # noqa: E402


class ProjectFromPath:
    """noauth takes the project from X-Auth-Project and defaults to 'admin'.

    heat-engine's own calls to the API (OS::Heat::Stack) carry no such header,
    only the parent's project in the URL ([clients_heat] url), so the child
    stack would land in project 'admin'. With Keystone it belongs to the parent
    stack's project: do the same by taking the project from the URL.
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if "HTTP_X_AUTH_PROJECT" not in environ:
            parts = environ.get("PATH_INFO", "").split("/")
            if len(parts) > 2 and parts[1] == "v1" and parts[2]:
                environ["HTTP_X_AUTH_PROJECT"] = parts[2]
        return self.app(environ, start_response)


class ThreadingWSGIServer(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True
    allow_reuse_address = True  # heat-api-start right after heat-api-stop
    # socketserver's default backlog is 5: a burst of clients (a benchmark's creates and
    # updates, a listener's reads) overflowed it and the kernel reset their connections;
    # production servers (uwsgi, mod_wsgi) listen with 100 or more
    request_queue_size = 128


class QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, *args):  # Heat logs requests itself
        pass


def main() -> None:
    port = int(os.environ.get("HEAT_API_PORT", "8004"))
    app = ProjectFromPath(init_application())
    srv = simple_server.make_server(
        "127.0.0.1", port, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler
    )
    print(f"heat-api listening on http://127.0.0.1:{port}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
