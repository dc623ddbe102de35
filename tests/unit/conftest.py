"""Fixtures shared by the unit tests: the record's backends (record_backends.py); and Hypothesis
without its per-example deadline (200 ms): the unit tests run two at a time on two cores while
tools/test.sh starts OpenSearch and Keystone beside them, so one stalled example failed a run with
DeadlineExceeded. Speed is the benchmarks' business (and test_large_inputs_stay_fast's bound)."""

from hypothesis import settings

from tests.unit.record_backends import mariadb, mariadb_record  # noqa: F401 - fixtures

settings.register_profile("heatseeker", deadline=None)
settings.load_profile("heatseeker")
