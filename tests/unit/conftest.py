"""Fixtures shared by the unit tests: the record's backends (record_backends.py)."""

from tests.unit.record_backends import mariadb, mariadb_record  # noqa: F401 - fixtures
