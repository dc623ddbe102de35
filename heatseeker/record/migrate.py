"""The record's schema (Alembic, ``record/migrations``) and moving a record between databases.

* ``upgrade``: ``heatseeker db upgrade``; the embedded SQLite record is also upgraded by the
  writers (``sync``, ``listen``) when they open it, so that it needs no set-up. An existing
  ``state.sqlite`` from before Alembic is adopted by the first revision (it keeps what it has).
* ``check``: whether a record is this code's: a reader never upgrades, it refuses
  (``RecordUnavailable``) and says what to run.
* ``copy``: ``heatseeker db copy --from URL --to URL``, e.g. an installation's SQLite record onto
  MariaDB: the target is upgraded, must be empty, and receives every row as it is (sequence
  numbers included, so an index's checkpoint stays true).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import sqlalchemy as sa

from heatseeker.record import models
from heatseeker.record.database import WRITE, RecordError, RecordUnavailable, redact

LOCATION = "heatseeker.record:migrations"
# The newest revision in migrations/, which every record must be at. Written here rather than asked
# of Alembic so that opening a record (every CLI command, every API worker) reads one row and
# imports no Alembic (~0.15 s); test_record_migrations checks that it is Alembic's head.
HEAD = "0005"
VERSION_TABLE = "alembic_version"


def _config(connection=None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", LOCATION)
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The revision this code needs."""
    return HEAD


@functools.cache
def alembic_head() -> str:
    """The newest revision Alembic finds in migrations/ (the test that ``HEAD`` is it)."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(_config()).get_heads()
    assert len(heads) == 1, heads
    return heads[0]


def revisions() -> list[str]:
    """Every revision, oldest first."""
    from alembic.script import ScriptDirectory

    return [s.revision for s in reversed(list(ScriptDirectory.from_config(_config()).walk_revisions()))]


def current(conn: sa.Connection) -> str | None:
    """The record's revision; ``"legacy"`` for a ``state.sqlite`` from before Alembic; None for
    a database without the record. One row of Alembic's version table, read as Alembic's
    ``MigrationContext.get_current_revision`` reads it (one head, or none)."""
    tables = sa.inspect(conn)
    if not tables.has_table(VERSION_TABLE):
        return "legacy" if tables.has_table("stacks") else None
    rows = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(rows) > 1:
        raise RecordError(f"the record has several schema heads {sorted(rows)}: not heatseeker's")
    if not rows:
        return "legacy" if tables.has_table("stacks") else None
    return rows[0]


def version(engine: sa.Engine) -> tuple[str | None, str]:
    """``(the record's revision, the revision this code needs)``."""
    with engine.connect() as conn:
        return current(conn), head()


def upgrade(engine: sa.Engine, target: str = "head", *,
            shortcut: bool = True) -> tuple[str | None, str | None]:
    """Bring the record's schema to ``target``; returns (before, after). A new, empty SQLite file
    brought to the head is made in one step (``_create``) unless ``shortcut`` is False."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn = conn.execution_options(**{WRITE: True})
            with conn.begin():  # BEGIN IMMEDIATE: one process upgrades, the others wait
                before = current(conn)
                if shortcut and before is None and target == "head" and \
                        not sa.inspect(conn).get_table_names():
                    return None, _create(conn)
                from alembic import command  # ~0.15 s: only to run migrations

                command.upgrade(_config(conn), target)
                after = current(conn)
            return before, after
        before = current(conn)
        conn.commit()
        from alembic import command

        command.upgrade(_config(conn), target)
        conn.commit()
        return before, current(conn)


def _create(conn: sa.Connection) -> str:
    """A new, empty SQLite file made at ``HEAD`` in one step: the models' tables, the sequence
    row, and Alembic's version row (what ``alembic stamp`` writes). Every new embedded record (each
    installation's first ``sync`` or ``listen``, the demo, each test) is made so, in ~20 ms instead
    of ~0.2 s of migrations; test_record_migrations checks that the migrations make exactly the
    models, and that a record made either way is the same. A server's schema is always made by the
    migrations (``heatseeker db upgrade``), as an operator reads them."""
    models.metadata.create_all(conn)
    conn.execute(models.sequences.insert().values(name=models.CHANGES, value=0))
    conn.execute(sa.text(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL, "
                         f"CONSTRAINT {VERSION_TABLE}_pkc PRIMARY KEY (version_num))"))
    conn.execute(sa.text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:v)"), {"v": HEAD})
    return HEAD


def check(engine: sa.Engine, url: str) -> None:
    """Raise ``RecordUnavailable`` unless the record's schema is the one this code needs."""
    have, want = version(engine)
    if have == want:
        return
    where = redact(url)
    if have is None:
        raise RecordUnavailable(f"no record in {where}: run heatseeker db upgrade (or heatseeker "
                                "sync) to make one, or check [database] connection")
    raise RecordUnavailable(
        f"the record in {where} is at schema revision {have}, this heatseeker needs {want}: "
        "run heatseeker db upgrade")


# -- copy ------------------------------------------------------------------------------------------


def copy(source: sa.Engine, target: sa.Engine, *, batch: int = 500,
         progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Copy every row of the record ``source`` into the empty record ``target`` (upgraded first);
    returns rows per table. Stop every writer of the source first (listener, sync)."""
    check(source, redact(str(source.url)))
    upgrade(target)
    counts: dict[str, int] = {}
    with target.connect() as dst:
        for table in models.TABLES:
            n = dst.execute(sa.select(sa.func.count()).select_from(table)).scalar()
            if n and not (table is models.sequences and _only_fresh_sequence(dst)):
                raise RecordError(f"the target {redact(str(target.url))} already holds "
                                  f"{table.name} rows: copy only into an empty record")
        dst.commit()
        with source.connect() as src:
            for table in models.TABLES:
                dst.execute(table.delete())  # the fresh sequence row, replaced by the source's
                done = 0
                keys = [c for c in table.primary_key.columns]
                result = src.execution_options(yield_per=batch).execute(
                    sa.select(table).order_by(*keys))
                for rows in result.partitions(batch):
                    dst.execute(table.insert(), [dict(r._mapping) for r in rows])
                    dst.commit()  # bounded transactions (Galera's write sets stay small)
                    done += len(rows)
                    if progress:
                        progress(table.name, done)
                counts[table.name] = done
            src.rollback()
        dst.commit()
    return counts


def _only_fresh_sequence(conn: sa.Connection) -> bool:
    """A target just made by ``upgrade`` holds one row: the sequence at 0."""
    rows = conn.execute(sa.select(models.sequences)).all()
    return [tuple(r) for r in rows] == [(models.CHANGES, 0)]
