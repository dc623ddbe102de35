"""The ``heatseeker`` backend of oslo.middleware's healthcheck (``/healthcheck``): the API can
answer only when it can read its record (the store, for history, diff and changes) and its index.

Registered as the ``oslo.middleware.healthcheck`` entry point ``heatseeker``; ``[healthcheck]
backends`` lists it by default (``heatseeker/api/wsgi.py``), and may add ``disable_by_file`` so an
operator can drain a host by creating a file. Each check opens the record as a reader (it never
creates one: a host without its record, or whose database does not answer, is unhealthy, not
empty) and asks the engine's ``health()``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from oslo_middleware.healthcheck import pluginbase

from heatseeker.engines import open_engine
from heatseeker.engines.base import Engine, is_panic
from heatseeker.record import Store

LOG = logging.getLogger(__name__)


class StoreAndIndex(pluginbase.HealthcheckBaseExtension):
    def __init__(self, oslo_conf: Any, conf: dict[str, Any]):
        super().__init__(oslo_conf, conf)
        self._engine: Engine | None = None

    def healthcheck(self, server_port: int) -> pluginbase.HealthcheckResult:
        problems = [p for p in (_reported("store", self._store), _reported("index", self._index))
                    if p]
        if problems:
            return pluginbase.HealthcheckResult(False, "; ".join(problems))
        behind = _reported("regions", self._regions)
        # a region whose Heat cannot be read leaves this host able to answer (every other
        # region's stacks stay fresh): healthy, and the answer says which region is behind
        return pluginbase.HealthcheckResult(True, f"OK; {behind}" if behind else "OK")

    def _regions(self) -> str | None:
        from heatseeker.config import regions
        from heatseeker.indexer import REGION_STATE

        store = Store.from_conf(self.oslo_conf)
        try:
            behind = [f"region {r} behind since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(s['behind_since']))}"
                      for r in regions(self.oslo_conf)
                      if (s := store.get_meta(REGION_STATE + r) or {}).get("behind_since")]
        finally:
            store.close()
        return "; ".join(behind) or None

    def _store(self) -> str | None:
        try:
            store = Store.from_conf(self.oslo_conf)  # a reader: never makes a record
            try:
                store.max_seq()
            finally:
                store.close()
        except Exception as exc:  # noqa: BLE001 - a health check reports, never raises
            return f"store: {exc}"
        return None

    def _index(self) -> str | None:
        try:
            if self._engine is None:
                self._engine = open_engine(self.oslo_conf, read_only=True)
            health = self._engine.health()
        except BaseException as exc:
            if not (isinstance(exc, Exception) or is_panic(exc)):
                raise
            self._engine = None  # opened again by the next check
            return f"index: {exc}"
        if not health.get("ok"):
            return f"index: {health.get('error') or 'not usable'}"
        return None


def _reported(what: str, check) -> str | None:
    """``check()``, with anything it lets through reported as a problem and logged: a health
    check answers 503 for an unusable part, never 500 (a panic in the index library is a
    ``BaseException``; a bug in a check is logged with its traceback)."""
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 - a health check reports, never raises
        LOG.exception("the %s health check failed", what)
        return f"{what}: {exc}"
    except BaseException as exc:
        if not is_panic(exc):
            raise
        LOG.exception("the %s health check panicked", what)
        return f"{what}: the index library failed: {exc}"
