"""The record's schema (Alembic) and its moves: a ``state.sqlite`` made by the schema heatseeker
had before Alembic, with data in it, is upgraded by ``heatseeker db upgrade`` (or by the first
writer) and loses nothing; ``heatseeker db copy`` moves a SQLite installation onto MariaDB; a
missing, unreachable or old record is ``RecordUnavailable``, never an empty answer."""

from __future__ import annotations

import json
import os
import sqlite3
import zlib

import oslo_messaging
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from heatseeker import cli
from heatseeker.record import (
    Change,
    HistoryPolicy,
    RecordUnavailable,
    Store,
    database,
    migrate,
    models,
)

# The schema of heatseeker/store.py (the record before heatseeker/record/) before Alembic (main at 0cbddaf), copied as it was.
TODAY_SCHEMA = """
CREATE TABLE IF NOT EXISTS stacks (
    id TEXT PRIMARY KEY,
    project_id TEXT,
    name TEXT,
    version INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL,
    doc TEXT,
    changed_at REAL NOT NULL,
    taint TEXT
);
CREATE INDEX IF NOT EXISTS stacks_seq ON stacks(seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS dead_letters (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at REAL NOT NULL,
    message_id TEXT,
    reason TEXT NOT NULL,
    body TEXT
);
CREATE TABLE IF NOT EXISTS revisions (
    stack_id TEXT NOT NULL,
    rev INTEGER NOT NULL,
    at_us INTEGER NOT NULL,
    recorded_at REAL NOT NULL,
    project_id TEXT,
    action TEXT,
    status TEXT,
    user_id TEXT,
    user_name TEXT,
    request_id TEXT,
    digest TEXT NOT NULL,
    files TEXT,
    body BLOB NOT NULL,
    PRIMARY KEY (stack_id, rev)
);
CREATE INDEX IF NOT EXISTS revisions_at ON revisions(at_us);
CREATE TABLE IF NOT EXISTS ui_sessions (
    key TEXT PRIMARY KEY,
    sealed BLOB NOT NULL,
    last_used REAL NOT NULL,
    expires REAL
);
CREATE INDEX IF NOT EXISTS ui_sessions_last_used ON ui_sessions(last_used);
"""

WEB = {"id": "web", "name": "web", "project_id": "p1", "status": "UPDATE_COMPLETE",
       "action": "UPDATE", "template": {"resources": {"s": {"type": "OS::Nova::Server"}}},
       "files": ["a.yaml"], "version": 2_000_000}


def _body(doc: dict) -> bytes:
    return b"z" + zlib.compress(json.dumps(doc, sort_keys=True).encode(), 1)


def make_today_record(path, *, old_columns: bool = False) -> None:
    """A record as heatseeker wrote it before Alembic, with some of everything in it.
    ``old_columns``: as a still older release left it (no revisions.files, no stacks.taint)."""
    schema = TODAY_SCHEMA
    if old_columns:
        schema = schema.replace("    taint TEXT\n", "").replace("changed_at REAL NOT NULL,", "changed_at REAL NOT NULL")
        schema = schema.replace("    files TEXT,\n", "")
    db = sqlite3.connect(path)
    db.executescript(schema)
    web_json = json.dumps(WEB, sort_keys=True)
    taint = ", taint" if not old_columns else ""
    db.execute(f"INSERT INTO stacks (id, project_id, name, version, deleted, seq, doc, changed_at{taint})"
               f" VALUES ('web', 'p1', 'web', 2000000, 0, 3, ?, 1.5{', ?' if taint else ''})",
               (web_json, json.dumps({"unknown": 1})) if taint else (web_json,))
    db.execute("INSERT INTO stacks (id, project_id, name, version, deleted, seq, doc, changed_at)"
               " VALUES ('gone', 'p1', 'gone', 1500000, 1, 2, NULL, 1.2)")
    files = ", files" if not old_columns else ""
    for rev, at, status in ((1, 1_000_000, "CREATE_COMPLETE"), (2, 2_000_000, "UPDATE_COMPLETE")):
        doc = dict(WEB, status=status, version=at)
        db.execute(
            "INSERT INTO revisions (stack_id, rev, at_us, recorded_at, project_id, action, status,"
            f" user_id, user_name, request_id, digest{files}, body) VALUES"
            f" ('web', ?, ?, 1.0, 'p1', 'UPDATE', ?, 'u1', 'alice', ?, ?{', ?' if files else ''}, ?)",
            (rev, at, status, f"req-{rev}", f"digest-{rev}",
             *([json.dumps({"a.yaml": f"d{rev}"})] if files else []), _body(doc)))
    db.execute("INSERT INTO dead_letters (received_at, message_id, reason, body) VALUES"
               " (1.0, 'm-1', 'cannot unpack', '{\"x\": 1}')")
    db.execute("INSERT INTO dead_letters (received_at, message_id, reason, body) VALUES"
               " (2.0, 'm-2', 'failed 5 times', NULL)")
    for key, value in (("secret_key", "ab" * 32), ("last_event", {"timestamp_us": 5, "x": "é"}),
                       ("documents_version", 7)):
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))
    db.execute("INSERT INTO ui_sessions (key, sealed, last_used, expires) VALUES"
               " ('k1', ?, 10.0, NULL), ('k2', ?, 20.0, 99.0)", (b"\x00sealed-1", b"sealed-2"))
    db.commit()
    db.close()


def assert_everything_kept(st: Store, *, old_columns: bool = False, labelled: bool = False) -> None:
    """``labelled``: ``db upgrade`` also labelled the live stack with the installation's region
    (migration 0004; a new sequence number, so that the projection takes it)."""
    web = st.get("web")
    seq = 4 if labelled else 3
    assert web.doc == (dict(WEB, region="RegionOne") if labelled else WEB)
    assert web.version == 2_000_000 and web.seq == seq and not web.deleted
    assert web.taint == (None if old_columns else {"unknown": 1})
    gone = st.get("gone")
    assert gone.deleted and gone.version == 1_500_000 and gone.seq == 2
    assert [(r.id, r.seq) for r in st.changes_since(0)] == [("gone", 2), ("web", seq)]
    revs = st.revisions("web", with_docs=True)
    assert [(r.rev, r.status, r.user_name, r.request_id) for r in revs] == [
        (1, "CREATE_COMPLETE", "alice", "req-1"), (2, "UPDATE_COMPLETE", "alice", "req-2")]
    assert revs[1].doc == WEB
    assert revs[1].file_digests == ({} if old_columns else {"a.yaml": "d2"})
    assert [(d["n"], d["message_id"], d["body"]) for d in st.dead_letters()] == [
        (2, "m-2", None), (1, "m-1", '{"x": 1}')]
    assert st.get_meta("last_event") == {"timestamp_us": 5, "x": "é"}
    assert st.get_meta("documents_version") == 7 and st.secret_key() == bytes.fromhex("ab" * 32)
    assert st.session_get("k1") == (b"\x00sealed-1", 10.0, None)
    assert st.session_get("k2") == (b"sealed-2", 20.0, 99.0)
    assert st.counts() == {"stacks": 1, "tombstones": 1, "projects": 1, "dead_letters": 2,
                           "sequence": seq}
    assert st.history_size()["revisions"] == 2


def run(capsys, conf_file, *argv):
    code = cli.main(["--config-file", conf_file, *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def install(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    conf = tmp_path / "h.conf"
    conf.write_text(f"[DEFAULT]\ndata_dir = {data}\n")
    return data / "state.sqlite", str(conf)


# -- adopting today's state.sqlite -----------------------------------------------------------------


@pytest.mark.parametrize("old_columns", [False, True])
def test_db_upgrade_adopts_todays_record_and_loses_nothing(capsys, install, old_columns):
    path, conf = install
    make_today_record(str(path), old_columns=old_columns)
    code, out, _ = run(capsys, conf, "db", "version")
    assert code == 1 and "revision legacy" in out and "db upgrade" in out
    with pytest.raises(RecordUnavailable, match="db upgrade"):
        Store(str(path), create=False)  # a reader never upgrades
    code, out, _ = run(capsys, conf, "db", "upgrade")
    assert code == 0 and f"legacy → {migrate.head()}" in out
    assert "labelled 1 stacks recorded before regions with region RegionOne" in out
    assert run(capsys, conf, "db", "version")[0] == 0
    assert run(capsys, conf, "db", "upgrade")[1].endswith(f"{migrate.head()} → {migrate.head()}\n")
    st = Store(str(path), HistoryPolicy(max_age_days=0), create=False)
    assert_everything_kept(st, old_columns=old_columns, labelled=True)
    # the sequence goes on after the greatest one the record held (an index's checkpoint holds)
    assert st.apply([Change("new", 1, {"id": "new", "name": "new", "project_id": "p1"})]) == [True]
    assert st.get("new").seq == 5
    assert st.apply([Change("web", 2_000_001, dict(WEB, template={}))]) == [True]
    assert [r.rev for r in st.revisions("web")] == [1, 2, 3]


def test_a_writer_upgrades_the_embedded_record_itself(tmp_path):
    path = tmp_path / "state.sqlite"
    make_today_record(str(path))
    assert_everything_kept(Store(str(path)))  # create=True: sync and listen


def test_the_first_revision_is_todays_schema_exactly(tmp_path):
    today, fresh = tmp_path / "today.sqlite", tmp_path / "fresh.sqlite"
    sqlite3.connect(today).executescript(TODAY_SCHEMA)
    migrate.upgrade(database.open_engine(database.as_url(str(fresh))), "0001")

    def shape(path):
        db = sqlite3.connect(path)
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                           " AND name NOT IN ('alembic_version', 'sqlite_sequence')")]
        return {t: ([tuple(c[1:]) for c in db.execute(f"PRAGMA table_info({t})")],
                    sorted((i[1], i[2]) for i in db.execute(f"PRAGMA index_list({t})")))
                for t in tables}

    def values(cols):
        # DEFAULT 0 and DEFAULT '0' are the same default of an INTEGER column; a key column is
        # NOT NULL in a new record (an old SQLite quirk let a TEXT primary key be NULL: never
        # used, and an adopted record keeps its table as it is)
        return [(n, ty, nn or pk > 0, (d or "").strip("'"), pk) for n, ty, nn, d, pk in cols]

    a, b = shape(today), shape(fresh)
    assert set(a) == set(b) == {"stacks", "meta", "dead_letters", "revisions", "ui_sessions"}
    for table in a:
        assert values(a[table][0]) == values(b[table][0]), table
        assert [name for name, _ in a[table][1] if not name.startswith("sqlite_autoindex")] == \
            [name for name, _ in b[table][1] if not name.startswith("sqlite_autoindex")]


def _no_differences(engine) -> list:
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), models.metadata)
    # SQLite reports REAL/DOUBLE and TEXT/VARCHAR variants as equal; nothing else may differ
    return [d for d in diffs if not (isinstance(d, list) and d and d[0][0] == "modify_type")]


def test_the_migrations_make_the_models_on_sqlite(tmp_path):
    engine = database.open_engine(database.as_url(str(tmp_path / "s.sqlite")))
    migrate.upgrade(engine, shortcut=False)
    assert _no_differences(engine) == []
    assert migrate.revisions() == ["0001", "0002", "0003", "0004", "0005"]
    # opening a record compares with migrate.HEAD (no Alembic import): it must be Alembic's head
    assert migrate.HEAD == migrate.alembic_head() == migrate.revisions()[-1]


def test_contents_come_and_go_with_revision_0005(tmp_path):
    """Documents written before 0005 are read as they are; a downgrade puts every document whole
    back into its row (stacks and revisions) before it drops the contents."""
    from alembic import command

    from heatseeker.record import Change, Store

    path = tmp_path / "s.sqlite"
    engine = database.open_engine(database.as_url(str(path)))
    migrate.upgrade(engine, "0004", shortcut=False)
    old = {"id": "old", "name": "old", "status": "CREATE_COMPLETE", "template": {"pad": "o" * 900},
           "version": 1}
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO stacks (id, version, deleted, seq, doc, changed_at)"
                             " VALUES ('old', 1, 0, 1, :doc, 0)"), {"doc": json.dumps(old)})
    store = Store(str(path))  # a writer: upgrades to the head
    assert store.get("old").doc == old
    names = [f"file:///t/f{i:03}.yaml" for i in range(40)]
    new = {"id": "new", "name": "new", "status": "CREATE_COMPLETE", "template": {"pad": "n" * 900},
           "files": names}
    digests = {n: f"d{i:060}" for i, n in enumerate(names)}  # their map is a content too
    store.apply([Change("new", 5, new, file_digests=digests)])
    assert store.contents_size()["contents"] == 3  # the template, the file names, their digests
    assert store.revision("new").file_digests == digests
    store.close()
    with engine.connect() as conn:
        conn = conn.execution_options(**{database.WRITE: True})
        with conn.begin():
            command.downgrade(migrate._config(conn), "0004")
    db = sqlite3.connect(path)
    assert "contents" not in {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    assert json.loads(db.execute("SELECT doc FROM stacks WHERE id = 'new'").fetchone()[0]) == \
        dict(new, version=5)
    body, files = db.execute("SELECT body, files FROM revisions WHERE stack_id = 'new'").fetchone()
    assert json.loads(zlib.decompress(body[1:])) == dict(new, version=5)
    assert json.loads(files) == digests


def test_a_new_embedded_record_made_in_one_step_is_the_migrations_record(tmp_path):
    """A new SQLite record is made from the models and stamped (``migrate._create``), not by
    running every migration: the two are the same file, column for column, index for index,
    with the same sequence and version rows."""
    stepped, direct = tmp_path / "stepped.sqlite", tmp_path / "direct.sqlite"
    assert migrate.upgrade(database.open_engine(database.as_url(str(stepped))), shortcut=False) \
        == (None, migrate.HEAD)
    assert migrate.upgrade(database.open_engine(database.as_url(str(direct)))) == (None, migrate.HEAD)

    def dump(path):
        db = sqlite3.connect(path)
        tables = sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
        return {t: ([tuple(c) for c in db.execute(f"PRAGMA table_info({t})")],
                    sorted((i[1], i[2], [tuple(x) for x in db.execute(f"PRAGMA index_info({i[1]})")])
                           for i in db.execute(f"PRAGMA index_list({t})")),
                    sorted(db.execute(f"SELECT * FROM {t}").fetchall()))
                for t in tables}

    a, b = dump(stepped), dump(direct)
    assert set(a) == set(b)
    for table in a:
        assert a[table] == b[table], table
    assert a["alembic_version"][2] == [(migrate.HEAD,)]
    # and Alembic reads it as its own: a later upgrade has nothing to do
    engine = database.open_engine(database.as_url(str(direct)))
    assert migrate.upgrade(engine, shortcut=False) == (migrate.HEAD, migrate.HEAD)
    assert _no_differences(engine) == []


def test_the_migrations_make_the_models_on_mariadb(mariadb):
    engine = database.open_engine(mariadb.url)
    assert migrate.version(engine) == (migrate.head(), migrate.head())
    assert _no_differences(engine) == []


# -- moving an installation -------------------------------------------------------------------------


def _all(st: Store) -> dict:
    return {
        "records": list(st.iter_all()),
        "revisions": [st.revisions(r.id, with_docs=True) for r in st.iter_all()],
        "letters": st.dead_letters(100),
        "meta": [st.get_meta(k) for k in ("secret_key", "last_event", "documents_version")],
        "sessions": [st.session_get(k) for k in ("k1", "k2")],
        "counts": st.counts(),
    }


def test_db_copy_moves_a_sqlite_installation_onto_mariadb(capsys, install, mariadb):
    """The documented move (docs/deploy.md §6): stop the writers, db copy, set [database]
    connection, start again. The target gets every row as it was, sequences included."""
    path, conf = install
    make_today_record(str(path))
    Store(str(path)).apply([Change("n1", 5, {"id": "n1", "name": "n1", "project_id": "p2"})])
    target = mariadb.create()
    code, out, err = run(capsys, conf, "db", "copy", "--to", target)
    assert code == 0, err
    assert "3 stacks" in out and "2 dead_letters" in out and "3 revisions" in out
    before, after = Store(str(path), create=False), Store(target, create=False)
    assert _all(after) == _all(before)
    assert after.apply([Change("n2", 1, {"id": "n2", "name": "n2", "project_id": "p2"})]) == [True]
    assert after.get("n2").seq == before.max_seq() + 1
    # the config pointed at the new record: the CLI reads it there
    with open(conf, "a") as f:
        f.write(f"[database]\nconnection = {target}\n")
    code, out, _ = run(capsys, conf, "db", "version")
    assert code == 0 and "mysql+pymysql" in out
    # a second copy into a record that holds something is refused
    code, _, err = run(capsys, conf, "db", "copy", "--from", database.as_url(str(path)), "--to", target)
    assert code == 1 and "empty record" in err


def test_db_copy_between_sqlite_files(capsys, install, tmp_path):
    path, conf = install
    make_today_record(str(path))
    Store(str(path))  # upgraded by a writer
    target = database.as_url(str(tmp_path / "moved" / "state.sqlite"))
    assert run(capsys, conf, "db", "copy", "--to", target)[0] == 0
    assert _all(Store(target, create=False)) == _all(Store(str(path), create=False))


# -- a missing or unreachable record is an error, never an empty answer -----------------------------


def test_a_reader_never_makes_a_record(tmp_path, capsys, install):
    path, conf = install
    with pytest.raises(RecordUnavailable, match="no record at"):
        Store(str(path), create=False)
    code, _, err = run(capsys, conf, "status")
    assert code == 1 and "no record at" in err
    code, _, err = run(capsys, conf, "history", "x")
    assert code == 1 and "no record at" in err
    code, _, _ = run(capsys, conf, "db", "version")
    assert code == 4
    assert not path.exists()


def test_an_unreachable_server_is_unavailable():
    url = "mysql+pymysql://nobody:pw@127.0.0.1:1/heatseeker?connect_timeout=2"
    with pytest.raises(RecordUnavailable, match="cannot be reached"):
        Store(url, create=False)


def test_a_server_database_without_the_record_is_unavailable(mariadb):
    empty = mariadb.create()
    with pytest.raises(RecordUnavailable, match="db upgrade"):
        Store(empty)  # even a writer: a server's schema is made by heatseeker db upgrade only
    engine = sa.create_engine(empty, poolclass=sa.pool.NullPool)
    assert migrate.version(engine)[0] is None


def test_a_cut_connection_is_unavailable_and_then_mends(mariadb):
    """The network between heatseeker and MariaDB cut under a running process: every call fails
    with RecordUnavailable (the API's 503, the listener's requeue), never an empty answer; once
    the network is back the same store works again (the pool reconnects)."""
    from tests.unit.record_backends import Cuttable

    url = mariadb.create()
    migrate.upgrade(database.open_engine(url))
    relay = Cuttable(mariadb.server if "unix_socket" not in mariadb.server else "mysql+pymysql://root@127.0.0.1:3306/")
    st = Store(relay.url(sa.engine.make_url(url).database))
    st.apply([Change("a", 1, {"id": "a", "name": "a", "project_id": "p"})])
    relay.cut()
    for call in (lambda: st.get("a"), lambda: st.changes_since(0), lambda: st.history_size(),
                 lambda: st.apply([Change("b", 1, {"id": "b", "name": "b", "project_id": "p"})])):
        with pytest.raises(RecordUnavailable, match="cannot be reached"):
            call()
    relay.restore()
    assert st.get("a").version == 1
    assert st.apply([Change("b", 1, {"id": "b", "name": "b", "project_id": "p"})]) == [True]
    relay.cut()


def test_a_dropped_database_is_unavailable(mariadb):
    url = mariadb.create()
    migrate.upgrade(database.open_engine(url))
    st = Store(url)
    admin = sa.create_engine(mariadb.server, poolclass=sa.pool.NullPool)
    with admin.connect() as c:
        c.exec_driver_sql(f"DROP DATABASE `{sa.engine.make_url(url).database}`")
    st.engine.dispose()  # new connections, to a database that is no more
    with pytest.raises(RecordUnavailable, match="refuses"):
        st.get("a")


def test_the_api_answers_503_without_its_record(api_engine):
    from heatseeker.api.app import build_app
    from heatseeker.searcher import Searcher
    from tests.unit.api_fixtures import Client, make_conf

    api = Client(build_app(make_conf(), Searcher(api_engine)))  # a data_dir without a record
    for route in ("history", "diff"):
        status, body = api.call("GET", f"/v1/search/stacks/alpha-shop/{route}")
        assert status == 503 and "no record" in json.dumps(body)
    status, body = api.call("GET", "/v1/search/changes?field=parameters.image")
    assert status == 503


def test_the_web_ui_answers_503_without_its_record(api_engine):
    import webob

    from heatseeker import ui
    from heatseeker.api.app import build_app
    from heatseeker.searcher import Searcher
    from tests.unit.api_fixtures import make_conf

    conf = make_conf()
    app = ui.with_ui(conf, build_app(conf, Searcher(api_engine)))
    req = webob.Request.blank("/ui/?q=x", headers={"Cookie": f"{ui.server.COOKIE}=abc"})
    resp = req.get_response(app)  # a session to look up, and no record to look it up in
    assert resp.status_int == 503 and "record is not available" in resp.text
    assert not os.path.exists(os.path.join(conf.data_dir, "state.sqlite"))


def test_the_listener_requeues_while_the_record_is_unavailable():
    from heatseeker.listener import Handler

    class Down:
        def apply_events(self, events):
            raise RecordUnavailable("the record at mysql+pymysql://… cannot be reached")

    class NoStore:
        def dead_letter(self, *a):
            raise RecordUnavailable("down")

    sleeps: list[float] = []
    h = Handler(NoStore(), Down(), sleep=sleeps.append, backoff_max=2)  # type: ignore[arg-type]
    msg = {"event_type": "orchestration.stack.create.end", "payload": {}, "metadata": {}}
    assert h([msg]) == oslo_messaging.NotificationResult.REQUEUE
    assert h([msg]) == oslo_messaging.NotificationResult.REQUEUE
    assert sleeps == [0.5, 1.0]


pytest_plugins = ["tests.unit.api_fixtures"]


def test_a_command_that_never_opens_the_record_imports_no_sqlalchemy(tmp_path):
    """SQLAlchemy costs ~0.2 s at every start: ``heatseeker search`` (the index only) and the
    one-host check import it only when the record is opened; alembic only to migrate."""
    import subprocess
    import sys

    conf = tmp_path / "c.conf"
    conf.write_text(f"[DEFAULT]\ndata_dir = {tmp_path}\n")
    code = ("import sys\nfrom heatseeker import cli, config\nfrom heatseeker.engines import check_hosts\n"
            "from heatseeker.record import RecordUnavailable, database\n"
            f"conf = config.new_conf()\nconf(['--config-file', {str(conf)!r}], project='heatseeker')\n"
            "check_hosts(conf)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    made = tmp_path / "new" / "state.sqlite"
    made.parent.mkdir()
    done = subprocess.run([sys.executable, "-c", "import sys\nfrom heatseeker.record import Store\n"
                           f"Store({str(made)!r}).close()\n"
                           "print('sqlalchemy' in sys.modules, 'alembic' in sys.modules)"],
                          capture_output=True, text=True)
    # the store, even making a new embedded record: SQLAlchemy, no Alembic (migrate._create)
    assert done.stdout.split() == ["True", "False"], done.stderr
    assert made.is_file()
