"""The record's backends for tests: SQLite always, MariaDB when a server answers.

MariaDB: ``HEATSEEKER_TEST_MARIADB`` (a server URL without a database, e.g.
``mysql+pymysql://root:pw@127.0.0.1:3306/``), else the Heat sandbox's server through its socket
as root (tools/sandbox/common.sh: ``$REPO/.sandbox/mysql.sock`` or ``$HEATSEEKER_SANDBOX``).
Each test session makes its own database ``heatseeker_test_<random>`` and drops it at the end;
each test starts from an empty record in it. No server: the MariaDB tests are skipped, saying why.
"""

from __future__ import annotations

import os
import secrets
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
        pytest.skip("no MariaDB: set HEATSEEKER_TEST_MARIADB, or start the Heat sandbox")
    db = MariaDB(server)
    try:
        db.create(db.name)
    except sa.exc.OperationalError as exc:
        pytest.skip(f"MariaDB at {server} does not answer: {exc.orig}")
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
