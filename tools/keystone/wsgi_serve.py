"""A small threaded WSGI server (stdlib only) for Keystone, or any WSGI app.

    python wsgi_serve.py keystone 127.0.0.1 5000
    python wsgi_serve.py package.module:attr 127.0.0.1 9393

Run it with the keystone venv's python (tools/keystone/start.sh does). Keystone
reads $OS_KEYSTONE_CONFIG_DIR/keystone.conf. WSGI_SERIALIZE=1 runs one request
at a time (connections are still accepted concurrently): Keystone on SQLite
answers "database is locked" 500s to concurrent writers otherwise.

A *threaded* server is needed even when serialized: a slow client must not block
the accept loop, and an app wrapped in keystonemiddleware may call back into
Keystone while another request is in flight.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socketserver
import sys
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True  # start right after a stop


class QuietHandler(WSGIRequestHandler):
    def log_message(self, fmt, *args):  # one line per request
        sys.stderr.write(f"{self.address_string()} {fmt % args}\n")

    def address_string(self):  # no reverse DNS
        return self.client_address[0]


def serialized(app):
    """Run `app` one request at a time, the response body included."""
    lock = threading.Lock()

    def wrapper(environ, start_response):
        with lock:
            result = app(environ, start_response)
            try:
                return list(result)
            finally:
                if hasattr(result, "close"):
                    result.close()

    return wrapper


def load(target: str):
    if target == "keystone":
        from keystone.server import wsgi as ks_wsgi

        return ks_wsgi.initialize_public_application()
    mod, _, attr = target.partition(":")
    return getattr(importlib.import_module(mod), attr or "application")


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    target, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    pidfile = os.environ.get("WSGI_PIDFILE")
    if pidfile:  # our own pid, whatever started us (setsid may fork)
        with open(pidfile + ".tmp", "w") as f:
            f.write(f"{os.getpid()}\n")
        os.replace(pidfile + ".tmp", pidfile)
    # Keystone's WSGI setup parses sys.argv itself (oslo.config) and rejects our
    # positional arguments: hide them.
    sys.argv = sys.argv[:1]
    app = load(target)
    if os.environ.get("WSGI_SERIALIZE", "0") == "1":
        app = serialized(app)
    srv = make_server(host, port, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler)

    def stop(*_):
        # SIGTERM (stop.sh): close the socket, flush the logs and leave at once.
        # A normal interpreter exit tears down Keystone's module graph for 1-2 s.
        # Committed SQLite transactions are durable; one in flight is rolled back.
        srv.server_close()
        logging.shutdown()
        sys.stderr.write("SIGTERM: stopped\n")
        sys.stderr.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    sys.stderr.write(f"serving {target} on http://{host}:{port} (pid {os.getpid()})\n")
    sys.stderr.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
