"""Fixtures shared by the unit tests: the record's backends (record_backends.py); and Hypothesis
with a per-example deadline of 2 s instead of 200 ms: the unit tests run two at a time on two
cores while tools/test.sh starts OpenSearch and Keystone beside them, so one stalled example could
fail a run with DeadlineExceeded. 2 s still catches a parser gone exponential; speed itself is
the benchmarks' business."""

from datetime import timedelta

from hypothesis import settings

from tests.unit.record_backends import mariadb, mariadb_record  # noqa: F401 - fixtures

settings.register_profile("heatseeker", deadline=timedelta(seconds=2))
settings.load_profile("heatseeker")
