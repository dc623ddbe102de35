"""THE RECORD: what heatseeker knows of every stack, durable, shared by every process and host
(``store.py``: the rules; ``models.py``: the tables; ``migrations/``: Alembic; ``database.py``:
``[database] connection``; ``migrate.py``: ``heatseeker db upgrade | version | copy``)."""

from typing import TYPE_CHECKING

from heatseeker.record.database import STATE_FILE, RecordError, RecordUnavailable

if TYPE_CHECKING:
    from heatseeker.record.store import Change, HistoryPolicy, Noted, Record, Revision, Store

_STORE = frozenset({"Change", "HistoryPolicy", "Noted", "Record", "Revision", "Store"})


def __getattr__(name: str):
    """The store's names, imported when first asked for (PEP 562): ``heatseeker.record.database``
    and the errors come without SQLAlchemy, so a command that never opens the record (``search``)
    does not pay for importing it."""
    if name in _STORE:
        from heatseeker.record import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["STATE_FILE", "Change", "HistoryPolicy", "Noted", "Record", "RecordError",
           "RecordUnavailable", "Revision", "Store"]
