"""The record's backends for tests: SQLite always, MariaDB when a server answers.

MariaDB: ``HEATSEEKER_TEST_MARIADB`` (a server URL without a database, e.g.
``mysql+pymysql://root:pw@127.0.0.1:3306/``), else the Heat sandbox's server through its socket
as root (tools/sandbox/common.sh: ``$REPO/.sandbox/mysql.sock`` or ``$HEATSEEKER_SANDBOX``).
Each test session makes its own database ``heatseeker_test_<random>`` and drops it at the end;
each test starts from an empty record in it. No server: the MariaDB tests fail, saying why (tools/test.sh starts one).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from heatseeker.record import migrate, models

REPO = Path(__file__).resolve().parents[2]


def server_url() -> str | None:
    given = os.environ.get("HEATSEEKER_TEST_MARIADB")
    if given:
        return given
    candidates = [os.environ.get("HEATSEEKER_SANDBOX"), REPO / ".sandbox", REPO.parent / "main" / ".sandbox"]
    for where in candidates:
        if where and (Path(where) / "mysql.sock").exists():
            sock = Path(where) / "mysql.sock"
            return f"mysql+pymysql://root@localhost/?unix_socket={sock}&charset=utf8mb4"
    return None


def with_database(server: str, name: str) -> str:
    return sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)


class MariaDB:
    """One throw-away database on the server, for a test session."""

    def __init__(self, server: str):
        self.server = server
        self.name = f"heatseeker_test_{secrets.token_hex(4)}"
        self.url = with_database(server, self.name)
        self._admin = sa.create_engine(server, poolclass=sa.pool.NullPool)
        self.created: list[str] = []

    def create(self, name: str | None = None) -> str:
        """A new empty database (no record in it); its URL."""
        name = name or f"{self.name}_{len(self.created) + 1}"
        with self._admin.connect() as c:
            c.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        self.created.append(name)
        return with_database(self.server, name)

    def drop_all(self) -> None:
        with self._admin.connect() as c:
            for name in self.created:
                c.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        self._admin.dispose()


@pytest.fixture(scope="session")
def mariadb():
    server = server_url()
    if server is None:
        # a failure, not a skip: a missing server must not pass unseen (tools/test.sh starts it)
        pytest.fail("no MariaDB: set HEATSEEKER_TEST_MARIADB, or start the Heat sandbox "
                    "(bash tools/sandbox/start.sh)")
    db = MariaDB(server)
    try:
        db.create(db.name)
    except sa.exc.OperationalError as exc:
        pytest.fail(f"MariaDB at {server} does not answer: {exc.orig}")
    engine = sa.create_engine(db.url, poolclass=sa.pool.NullPool)
    migrate.upgrade(engine)
    engine.dispose()
    yield db
    db.drop_all()


@pytest.fixture
def mariadb_record(mariadb) -> str:
    """The session's MariaDB record, emptied: its URL."""
    engine = sa.create_engine(mariadb.url, poolclass=sa.pool.NullPool)
    with engine.begin() as c:
        for table in models.TABLES:
            c.execute(table.delete())
        c.execute(models.sequences.insert().values(name=models.CHANGES, value=0))
    engine.dispose()
    return mariadb.url


class Cuttable:
    """A TCP relay to the MariaDB server that a test can cut (every connection closed, the port
    refused) and restore: a network cut between heatseeker and its record."""

    def __init__(self, server: str):
        u = sa.engine.make_url(server)
        self.target = (u.host if u.host not in (None, "localhost") else "127.0.0.1", u.port or 3306)
        self.user = u.username or "root"
        self.password = u.password
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._conns: list = []
        self._lock = threading.Lock()  # a connection is accepted, or cut, never both at once
        self._listener = None
        self.restore()

    def url(self, database: str) -> str:
        auth = self.user + (f":{self.password}" if self.password else "")
        return f"mysql+pymysql://{auth}@127.0.0.1:{self.port}/{database}?charset=utf8mb4&connect_timeout=3"

    def restore(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(16)
        with self._lock:
            self._listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, listener) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                if listener is not self._listener:  # cut while this one was being accepted
                    self._close(client)
                    return
                upstream = socket.create_connection(self.target)
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @classmethod
    def _pipe(cls, a, b) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            # one side ended (a client killed -9, the server's close): end both, as a network
            # would. A shutdown, not only a close: close() leaves a socket that the other
            # direction's thread is blocked reading open, and its peer (the server's session,
            # with its transaction's locks) would never learn that the client is gone.
            cls._close(a)
            cls._close(b)

    @staticmethod
    def _close(s) -> None:
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            s.close()

    def cut(self) -> None:
        with self._lock:
            if self._listener is not None:
                with contextlib.suppress(OSError):  # shutdown wakes the blocked accept()
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
            for c in self._conns:
                self._close(c)
            self._conns.clear()
