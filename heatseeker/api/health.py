"""The ``heatseeker`` backend of oslo.middleware's healthcheck (``/healthcheck``): the API can
answer only when it can read its record (the store, for history, diff and changes) and its index.

Registered as the ``oslo.middleware.healthcheck`` entry point ``heatseeker``; ``[healthcheck]
backends`` lists it by default (``heatseeker/api/wsgi.py``), and may add ``disable_by_file`` so an
operator can drain a host by creating a file. Each check opens the record as a reader (it never
creates one: a host without its record, or whose database does not answer, is unhealthy, not
empty) and asks the engine's ``health()``.
"""

from __future__ import annotations

from typing import Any

from oslo_middleware.healthcheck import pluginbase

from heatseeker.engines import open_engine
from heatseeker.engines.base import Engine
from heatseeker.record import Store


class StoreAndIndex(pluginbase.HealthcheckBaseExtension):
    def __init__(self, oslo_conf: Any, conf: dict[str, Any]):
        super().__init__(oslo_conf, conf)
        self._engine: Engine | None = None

    def healthcheck(self, server_port: int) -> pluginbase.HealthcheckResult:
        problems = [p for p in (self._store(), self._index()) if p]
        if problems:
            return pluginbase.HealthcheckResult(False, "; ".join(problems))
        return pluginbase.HealthcheckResult(True, "OK")

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
        except Exception as exc:  # noqa: BLE001 - a health check reports, never raises
            self._engine = None
            return f"index: {exc}"
        if not health.get("ok"):
            return f"index: {health.get('error') or 'not usable'}"
        return None
