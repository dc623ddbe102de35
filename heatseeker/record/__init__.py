"""THE RECORD: what heatseeker knows of every stack, durable, shared by every process and host
(``store.py``: the rules; ``models.py``: the tables; ``migrations/``: Alembic; ``database.py``:
``[database] connection``; ``migrate.py``: ``heatseeker db upgrade | version | copy``)."""

from heatseeker.record.database import STATE_FILE, RecordError, RecordUnavailable
from heatseeker.record.store import Change, HistoryPolicy, Record, Revision, Store

__all__ = ["STATE_FILE", "Change", "HistoryPolicy", "Record", "RecordError", "RecordUnavailable",
           "Revision", "Store"]
