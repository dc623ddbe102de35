"""Web UI sessions in the record (heatseeker/ui/sessions.py): any worker or host, any restart,
sign-out everywhere, and no usable token at rest."""

from __future__ import annotations

from pathlib import Path

from heatseeker.record import Store
from heatseeker.ui.sessions import Identity, SessionStore

TOKEN = "gAAAAABsessionTOKEN-0123456789abcdef"


def _workers(path: Path, n: int = 2, **kw) -> list[SessionStore]:
    """Independent session stores over one record, as separate processes would have."""
    return [SessionStore(lambda: Store(str(path)), kw.get("idle", 3600), kw.get("keep", 100),
                         clock=kw.get("clock", lambda: 1000.0)) for _ in range(n)]


def test_a_session_made_by_one_worker_is_used_and_ended_by_another(tmp_path):
    a, b = _workers(tmp_path / "state.sqlite")
    ident = Identity("alice", "alpha", "pid-alpha", "Default", False, token=TOKEN,
                     expires=5000.0, headers={"X-Roles": "member"})
    made = a.create(ident)
    seen = b.get(made.id)
    assert seen is not None and seen.identity == ident and seen.csrf == made.csrf
    # a restart: a new store object over the same record
    (c,) = _workers(tmp_path / "state.sqlite", 1)
    assert c.get(made.id).identity == ident  # type: ignore[union-attr]
    assert b.drop(made.id) is not None
    assert a.get(made.id) is None and c.get(made.id) is None


def test_the_record_holds_no_usable_token(tmp_path):
    path = tmp_path / "state.sqlite"
    (a,) = _workers(path, 1)
    made = a.create(Identity("alice", "alpha", "pid", "Default", True, token=TOKEN))
    a.store.close()
    disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert TOKEN.encode() not in disk and b"alice" not in disk
    assert made.id.encode() not in disk and made.csrf.encode() not in disk


def test_a_forged_or_altered_cookie_opens_nothing(tmp_path):
    (a,) = _workers(tmp_path / "state.sqlite", 1)
    made = a.create(Identity("alice", "alpha", "pid", "Default", False, token=TOKEN))
    for forged in (made.id[:-1], made.id + "x", made.id.upper(), "", None, "a" * 43):
        if forged != made.id:
            assert a.get(forged) is None


def test_idle_sessions_end_and_the_oldest_go_first(tmp_path):
    now = [1000.0]
    a, b = _workers(tmp_path / "state.sqlite", idle=600, keep=2, clock=lambda: now[0])
    first = a.create(Identity("u", "p", "pid", "d", False))
    now[0] = 1500
    assert b.get(first.id) is not None  # used after 500 s: its idle time starts again
    now[0] = 2000
    assert a.get(first.id) is not None  # 500 s after that use, seen by the other worker
    now[0] = 2700
    assert a.get(first.id) is None  # 700 s idle
    s1 = a.create(Identity("u", "p", "pid", "d", False))
    now[0] = 2701
    s2 = b.create(Identity("u", "p", "pid", "d", False))
    now[0] = 2702
    s3 = a.create(Identity("u", "p", "pid", "d", False))
    assert a.get(s1.id) is None and b.get(s2.id) and b.get(s3.id)
