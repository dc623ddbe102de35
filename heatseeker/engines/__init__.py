"""Search engines behind one contract (``base.py``); ``open_engine`` picks the configured one."""

from __future__ import annotations

import os

from heatseeker.engines.base import Engine


def open_engine(conf, *, read_only: bool = False) -> Engine:
    backend = conf.engine.backend
    if backend == "tantivy":
        from heatseeker.engines.tantivy import TantivyEngine

        return TantivyEngine(
            os.path.join(conf.data_dir, "index"),
            writer_memory_mb=conf.engine.writer_memory_mb,
            read_only=read_only,
        )
    if backend == "opensearch":
        from heatseeker.engines.opensearch import OpenSearchEngine

        return OpenSearchEngine.from_conf(conf.opensearch, read_only=read_only)
    raise ValueError(f"unknown [engine] backend {backend!r}")
