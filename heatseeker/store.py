"""The record's façade under its old name: ``heatseeker.record`` holds it (SQLAlchemy/oslo.db,
Alembic). Kept so that every caller's ``from heatseeker.store import …`` stays as it is while
the record moves; new code imports ``heatseeker.record``."""

from heatseeker.record import (
    STATE_FILE,
    Change,
    HistoryPolicy,
    Record,
    RecordError,
    RecordUnavailable,
    Revision,
    Store,
)
from heatseeker.record.store import ZLIB_LEVEL, _pack, _unpack

__all__ = ["STATE_FILE", "ZLIB_LEVEL", "Change", "HistoryPolicy", "Record", "RecordError",
           "RecordUnavailable", "Revision", "Store", "_pack", "_unpack"]
