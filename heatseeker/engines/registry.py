"""Which engines exist: every engine is a plug-in, found here, and nothing else names them.

An engine is a concrete subclass of ``base.Engine`` in a module of this package (one file, e.g.
``heatseeker/engines/tantivy.py``), or one that another distribution registers under the entry
point group ``heatseeker.engines`` (as Searchlight's plugins and Kinto's backends are found). Its
``name`` is its ``[engine] backend`` value; ``description`` is the one line the configuration
reference shows for that choice; ``options`` are its own oslo.config options, in the group named
after it; ``from_conf(conf, read_only=…)`` builds it. From this registry come the choices of
``[engine] backend`` and their help (``config.py``), ``heatseeker reindex --to`` (``cli.py``),
``open_engine`` and the engine list of the tests (``tests/conformance``: each registered engine
needs its conformance subclass there).

Engine modules are imported to be found: they must not import ``heatseeker.config`` (which asks
this registry for its choices) and should keep client libraries of remote services lazy.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
from functools import cache
from importlib.metadata import entry_points

from heatseeker.engines.base import Engine

LOG = logging.getLogger(__name__)

DEFAULT = "tantivy"  # [engine] backend's default: an embedded index needs no set-up
ENTRY_POINT_GROUP = "heatseeker.engines"


@cache
def engines() -> dict[str, type[Engine]]:
    """``{name: engine class}``, the default engine first, then by name."""
    found: dict[str, type[Engine]] = {}
    package = importlib.import_module("heatseeker.engines")
    for info in pkgutil.iter_modules(package.__path__):
        if info.ispkg or info.name.startswith("_"):
            continue  # packages (the conformance suite) hold no engine
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for value in vars(module).values():
            if _is_engine(value) and value.__module__ == module.__name__:
                _add(found, value)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            value = point.load()
        except Exception:  # noqa: BLE001 - a broken plug-in must not stop the others
            LOG.warning("cannot load the engine %r (%s)", point.name, point.value, exc_info=True)
            continue
        if not _is_engine(value):
            LOG.warning("the entry point %r (%s) is not an engine class", point.name, point.value)
            continue
        _add(found, value)
    return dict(sorted(found.items(), key=lambda kv: (kv[0] != DEFAULT, kv[0])))


def _is_engine(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, Engine) and not inspect.isabstract(value)


def _add(found: dict[str, type[Engine]], engine: type[Engine]) -> None:
    other = found.get(engine.name)
    if other is not None and other is not engine:
        raise RuntimeError(f"two engines are named {engine.name!r}: {other!r} and {engine!r}")
    found[engine.name] = engine


def names() -> list[str]:
    """Every engine's name (``[engine] backend`` values), the default first."""
    return list(engines())


def choices() -> list[tuple[str, str]]:
    """``(name, description)`` of every engine: the choices of ``[engine] backend``."""
    return [(name, engine.description) for name, engine in engines().items()]


def engine_class(name: str) -> type[Engine]:
    try:
        return engines()[name]
    except KeyError:
        raise ValueError(f"unknown [engine] backend {name!r}") from None


def option_groups() -> list[tuple[str, list]]:
    """``(group, options)`` of every engine that has options of its own."""
    return [(name, list(engine.options)) for name, engine in engines().items() if engine.options]
