"""heatseeker's web UI: a page for searching stacks, served under ``/ui/`` beside the API.

The API does not import the UI; whoever serves composes them with ``with_ui`` (``heatseeker
serve``, ``heatseeker.api.wsgi``), and the UI calls the API only through its WSGI application.

The server side (sign-in, sessions, the proxy to the public API, and why a proxy) is
``server.py``; the page itself is plain HTML, CSS and JavaScript in ``static/`` (no build step,
nothing loaded from elsewhere).
"""

from heatseeker.ui.server import UI, LoginFailed, mount, with_ui
from heatseeker.ui.sessions import Identity, SessionStore

__all__ = ["UI", "Identity", "LoginFailed", "SessionStore", "mount", "with_ui"]
