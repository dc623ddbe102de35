"""heatseeker's web UI: a page for searching stacks, served by ``heatseeker serve`` under ``/ui/``.

The server side (sign-in, sessions, the proxy to the public API, and why a proxy) is
``server.py``; the page itself is plain HTML, CSS and JavaScript in ``static/`` (no build step,
nothing loaded from elsewhere).
"""

from heatseeker.ui.server import UI, LoginFailed, mount
from heatseeker.ui.sessions import Identity, SessionStore

__all__ = ["UI", "Identity", "LoginFailed", "SessionStore", "mount"]
