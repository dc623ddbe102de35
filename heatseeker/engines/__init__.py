"""Search engines behind one contract (``base.py``), found by ``registry.py``; ``open_engine``
builds the configured one, every engine the same way (``Engine.from_conf``)."""

from __future__ import annotations

from heatseeker.engines.base import Engine
from heatseeker.engines.registry import engine_class, names


def open_engine(conf, *, read_only: bool = False) -> Engine:
    return engine_class(conf.engine.backend).from_conf(conf, read_only=read_only)


__all__ = ["Engine", "names", "open_engine"]
