"""Opening the record: ``[database] connection`` → a SQLAlchemy engine, its schema checked.

* ``[database]`` holds oslo.db's own options (``connection``, ``max_pool_size``,
  ``mysql_sql_mode``, ``mysql_wsrep_sync_wait``, …), registered by ``register_opts``. An empty
  ``connection`` is the embedded default, ``sqlite:///{data_dir}/state.sqlite``, computed when the
  record is opened: zero set-up.
* MySQL/MariaDB (``mysql+pymysql://…``): the engine is oslo.db's (``engines.create_engine``: its
  SQL mode, Galera's ``wsrep_sync_wait``, pool, pre-ping and error translation). Transactions run
  at READ COMMITTED, so that a statement sees what other hosts committed (see ``store.py``).
* SQLite: a SQLAlchemy engine with oslo.db's error translation (``exc_filters``), but a pool of
  connections (oslo.db's SQLite set-up closes the file after every use: measured 18x slower
  reads, and a WAL checkpoint each time), WAL, ``synchronous=FULL`` and ``BEGIN IMMEDIATE`` for a
  write transaction (the write lock taken up front, as the store always did).
* Opening never makes a record unless asked (``create=True``: the writers, ``sync`` and ``listen``,
  on the embedded SQLite only). A missing file, an unreachable server or a schema that is not
  this code's is ``RecordUnavailable``, never an empty answer. A server's schema is made and
  upgraded by ``heatseeker db upgrade`` only (as every OpenStack service's ``db sync``).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from oslo_config import cfg
from oslo_db import exception as db_exc
from oslo_db import options as db_options

# SQLAlchemy (~0.2 s to import) only where an engine is made or a URL parsed: a command that never
# opens the record (search, or the tantivy/one-host check) starts without it
if TYPE_CHECKING:
    import sqlalchemy as sa

STATE_FILE = "state.sqlite"  # the embedded record of an installation, in its [DEFAULT] data_dir


class RecordError(Exception):
    """The record cannot do what was asked."""


class RecordUnavailable(RecordError):
    """No usable record: missing, unreachable, or its schema is not this code's. Never answer
    as if it were empty: the API answers 503, the health check fails, the listener requeues."""


# heatseeker's own [database] options, beside oslo.db's: how long a write may wait for another
# host's transaction, and how long the server keeps a write transaction whose client went silent
record_opts = [
    cfg.IntOpt("lock_wait_timeout", default=10, min=1,
               help="MySQL/MariaDB: seconds a write waits for a row another transaction holds "
               "(the session's innodb_lock_wait_timeout; the server's default is 50). A write "
               "that waits longer is not retried: the record is reported unavailable, and the "
               "listener requeues its batch with backoff and stays responsive to a stop."),
    cfg.IntOpt("idle_write_transaction_timeout", default=30, min=0,
               help="MariaDB: seconds the server keeps one of heatseeker's write transactions "
               "whose client sends nothing (the session's idle_write_transaction_timeout). A "
               "host that dies or is cut off in the middle of a transaction sends no FIN, and "
               "without this the server would keep its row locks, and every other host's "
               "writes would wait on them, until TCP keepalive or wait_timeout (hours) ended the "
               "session. heatseeker's transactions never pause for more than a few "
               "milliseconds between statements. 0 leaves the server's setting; ignored by "
               "servers without the variable (MySQL)."),
]


def register_opts(conf) -> None:
    """oslo.db's ``[database]`` options and heatseeker's own (idempotent)."""
    db_options.set_defaults(conf)
    conf.register_opts(record_opts, group="database")


def default_url(data_dir: str) -> str:
    return "sqlite:///" + os.path.abspath(os.path.join(data_dir, STATE_FILE))


def url_of(conf) -> str:
    register_opts(conf)
    return conf.database.connection or default_url(conf.data_dir)


def as_url(path_or_url: str) -> str:
    """A file path is the SQLite record at that path."""
    return path_or_url if "://" in path_or_url else "sqlite:///" + os.path.abspath(path_or_url)


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL SQLAlchemy cannot read is shown as it was given
        return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> str | None:
    import sqlalchemy as sa

    u = sa.engine.make_url(url)
    return u.database if u.get_backend_name() == "sqlite" and u.database not in (None, "", ":memory:") else None


# -- engines ---------------------------------------------------------------------------------------

WRITE = "heatseeker_write"  # connection execution option: a write transaction


def _sqlite_engine(url: str) -> sa.Engine:
    import sqlalchemy as sa
    from oslo_db.sqlalchemy import exc_filters
    from sqlalchemy import event, pool

    engine = sa.create_engine(url, poolclass=pool.QueuePool, pool_size=8, max_overflow=-1,
                              connect_args={"timeout": 30, "check_same_thread": False})
    exc_filters.register_engine(engine)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_con, _record):
        dbapi_con.isolation_level = None  # we say BEGIN ourselves (below)
        dbapi_con.execute("PRAGMA busy_timeout=30000")
        # switching to WAL needs a moment alone with the file: another process opening the
        # record at the same instant makes it answer "locked" without waiting, so retry
        for attempt in range(50):
            try:
                dbapi_con.execute("PRAGMA journal_mode=WAL")
                break
            except Exception:
                if attempt == 49:
                    raise
                time.sleep(0.05)
        dbapi_con.execute("PRAGMA synchronous=FULL")

    @event.listens_for(engine, "begin")
    def _begin(conn):
        # a writer takes the write lock up front: what it reads (links.py) cannot change under
        # it; a reader's statements each see the last commit, as the store's always did
        if conn.get_execution_options().get(WRITE):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _server_engine(url: str, conf=None, *, max_retries: int = 0) -> sa.Engine:
    db = conf.database if conf is not None else None
    kw: dict = {"mysql_sql_mode": "TRADITIONAL", "max_retries": max_retries}
    if db is not None:
        kw.update(
            mysql_sql_mode=db.mysql_sql_mode, mysql_wsrep_sync_wait=db.mysql_wsrep_sync_wait,
            connection_recycle_time=db.connection_recycle_time, max_pool_size=db.max_pool_size,
            max_overflow=db.max_overflow, pool_timeout=db.pool_timeout,
            connection_debug=db.connection_debug, connection_trace=db.connection_trace,
            retry_interval=db.retry_interval, connection_parameters=db.connection_parameters,
        )
    from oslo_db.sqlalchemy import engines  # imports SQLAlchemy's ORM (~0.1 s): MySQL only

    engine = engines.create_engine(url, **kw)
    if engine.dialect.name in ("mysql", "mariadb"):
        _session_timeouts(engine, lock_wait=db.lock_wait_timeout if db is not None else 10,
                          idle_write=db.idle_write_transaction_timeout if db is not None else 30)
        engine = engine.execution_options(isolation_level="READ COMMITTED")
    return engine


def _session_timeouts(engine: sa.Engine, *, lock_wait: int, idle_write: int) -> None:
    """Every new connection's session timeouts (``record_opts``). MySQL has no
    ``idle_write_transaction_timeout``; MariaDB (10.3+) has: asked for only where it exists."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_con, _record):
        cur = dbapi_con.cursor()
        try:
            cur.execute(f"SET SESSION innodb_lock_wait_timeout = {int(lock_wait)}")
            if idle_write:
                cur.execute("SELECT @@version")
                if "mariadb" in str(cur.fetchone()[0]).lower():
                    cur.execute(f"SET SESSION idle_write_transaction_timeout = {int(idle_write)}")
        finally:
            cur.close()

    # oslo.db tried a first connection, now in the pool, before this listener existed
    engine.dispose()


def lock_wait_timed_out(exc: BaseException) -> bool:
    """A write that waited ``lock_wait_timeout`` for another transaction's row (MySQL's 1205, which
    oslo.db reports as a deadlock): not a conflict that a retry resolves at once."""
    inner = getattr(exc, "inner_exception", None)
    orig = getattr(inner, "orig", inner)
    args: tuple = tuple(getattr(orig, "args", ()))
    return isinstance(exc, db_exc.DBDeadlock) and args[:1] == (1205,)


def open_engine(url: str, conf=None, *, wait: bool = False) -> sa.Engine:
    """The engine (a pool of connections) of a record. ``wait``: on a server, retry the first
    connection ``[database] max_retries`` times (a service that starts before its database)."""
    try:
        if is_sqlite(url):
            return _sqlite_engine(url)
        retries = conf.database.max_retries if (wait and conf is not None) else 0
        return _server_engine(url, conf, max_retries=retries)
    except db_exc.DBConnectionError as exc:
        raise RecordUnavailable(f"the record at {redact(url)} cannot be reached: "
                                f"{exc.inner_exception or exc}") from exc


@contextlib.contextmanager
def unavailable_as_error(url: str) -> Iterator[None]:
    """A lost connection (after oslo.db's translation) is ``RecordUnavailable``."""
    import sqlalchemy as sa

    try:
        yield
    except db_exc.DBDeadlock as exc:
        if not lock_wait_timed_out(exc):
            raise
        raise RecordUnavailable(f"the record at {redact(url)} is busy: a write waited for another "
                                f"transaction's lock for [database] lock_wait_timeout: "
                                f"{exc.inner_exception or exc}") from exc
    except db_exc.DBConnectionError as exc:
        raise RecordUnavailable(f"the record at {redact(url)} cannot be reached: "
                                f"{exc.inner_exception or exc}") from exc
    except db_exc.DBNonExistentDatabase as exc:
        raise RecordUnavailable(f"the record at {redact(url)} refuses us: "
                                f"{exc.inner_exception or exc}") from exc
    except sa.exc.OperationalError as exc:
        if is_sqlite(url) and "unable to open database file" in str(exc):
            raise RecordUnavailable(f"the record at {redact(url)} cannot be opened: {exc.orig}") from exc
        code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
        if code in _REFUSED:
            raise RecordUnavailable(f"the record at {redact(url)} refuses us: {exc.orig}") from exc
        raise


# MySQL errors on connecting that no retry mends: access denied (1044, 1045), unknown database
_REFUSED = frozenset({1044, 1045, 1049})
