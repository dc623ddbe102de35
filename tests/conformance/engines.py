"""The engines under test, from the registry: every registered engine, made for a test the way its
conformance class (``tests/conformance/test_<name>.py``, which each registered engine must have)
makes it. Tests that must run on every engine outside the conformance suite take the
``engine_maker`` fixture (tests/conftest.py), parametrised by ``ENGINES``.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from heatseeker.engines import registry
from heatseeker.engines.base import Engine
from heatseeker.engines.conformance import EngineConformance

ENGINES = registry.names()

EngineMaker = Callable[[Path], Engine]


def conformance_class(name: str) -> type[EngineConformance]:
    """The conformance class of the engine ``name``."""
    module = importlib.import_module(f"tests.conformance.test_{name}")
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, EngineConformance) and (
            value.backend == name
        ):
            return value
    raise LookupError(f"tests/conformance/test_{name}.py has no EngineConformance for {name!r}")


def profile(name: str, request: Any) -> EngineConformance:
    """An instance of the conformance class of ``name`` whose fixtures come from ``request``."""
    made = conformance_class(name)()
    made._request = request  # type: ignore[misc]  # the instance's own, not the class's
    return made


@contextlib.contextmanager
def maker(name: str, request: Any) -> Iterator[EngineMaker]:
    """A function that makes an engine ``name`` under a directory; every engine it made is
    discarded (closed, and what it stored removed) on leaving the context."""
    made = profile(name, request)
    engines: list[Engine] = []

    def make(path: Path) -> Engine:
        path.mkdir(parents=True, exist_ok=True)
        engine = made.make_engine(path)
        engines.append(engine)
        return engine

    try:
        yield make
    finally:
        for engine in engines:
            made.discard(engine)
