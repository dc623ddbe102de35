"""Web UI sessions kept in heatseeker's record, so that a session works whichever API worker or
host answers, survives a restart, and ends everywhere at sign-out.

The browser's cookie holds a random secret S (256 bits) and nothing else. The record holds, under
``sha256(S)``, the session's identity (its Keystone token among it) sealed with a key derived from
S (Fernet: AES-128-CBC + HMAC-SHA256; key = HKDF-SHA256(S)). So:

- the record at rest (its file, a backup, another reader of the database) never holds a usable
  token: opening a session takes the browser's secret;
- the browser never holds the token either: its secret opens nothing without the record, which
  only the server reads (the page's scripts cannot read the HttpOnly cookie anyway);
- sign-out deletes the row (and revokes the token in Keystone): no worker or host can open the
  session again;
- the CSRF token is derived from S as well (HMAC), so it needs no storage.

The last use is written back at most once a minute (``TOUCH_EVERY``): the idle timeout is kept to
that precision without a database write per request.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from heatseeker.record import Store

TOUCH_EVERY = 60.0  # seconds


@dataclass
class Identity:
    """Who signed in: the token (keystone) or the identity headers (trusted-headers)."""

    user: str
    project: str
    project_id: str
    domain: str
    admin: bool  # a hint for the page (the all-projects switch); the API decides
    token: str | None = None
    expires: float | None = None  # epoch seconds
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Session:
    id: str
    csrf: str
    identity: Identity
    last_used: float


def _key(secret: str) -> str:
    return hashlib.sha256(b"heatseeker-ui-session:" + secret.encode()).hexdigest()


def _fernet(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"heatseeker-ui-session-seal").derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _csrf(secret: str) -> str:
    mac = hmac.new(secret.encode(), b"heatseeker-ui-csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


class SessionStore:
    """The web UI's sessions, in the store (see the module docstring)."""

    def __init__(self, open_store: Callable[[], Store], idle_timeout: float, max_sessions: int,
                 clock: Callable[[], float] = time.time):
        self._open_store = open_store  # opened on first use, like the API's history
        self._store: Store | None = None
        self.idle_timeout = idle_timeout
        self.max_sessions = max_sessions
        self.clock = clock

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = self._open_store()
        return self._store

    def create(self, identity: Identity) -> Session:
        secret = secrets.token_urlsafe(32)
        now = self.clock()
        sealed = _fernet(secret).encrypt(json.dumps(dataclasses.asdict(identity)).encode())
        self.store.session_put(_key(secret), sealed, now, identity.expires, self.max_sessions)
        return Session(secret, _csrf(secret), identity, now)

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        key = _key(session_id)
        row = self.store.session_get(key)
        if row is None:
            return None
        sealed, last_used, expires = row
        now = self.clock()
        if now - last_used > self.idle_timeout or (expires is not None and now >= expires):
            self.store.session_drop(key)
            return None
        try:
            fields = json.loads(_fernet(session_id).decrypt(sealed))
        except (InvalidToken, ValueError):
            return None
        if now - last_used >= TOUCH_EVERY:
            self.store.session_touch(key, now)
        return Session(session_id, _csrf(session_id), Identity(**fields), now)

    def drop(self, session_id: str | None) -> Session | None:
        session = self.get(session_id)
        if session_id:
            self.store.session_drop(_key(session_id))
        return session
