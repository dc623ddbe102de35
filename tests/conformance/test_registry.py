"""Engines are plug-ins: every engine the registry finds is a configuration choice, a `reindex --to`
target, has its own option group if it has options, and has its conformance class
(tests/conformance/test_<name>.py), so the whole suite runs on it."""

from __future__ import annotations

import pytest

from heatseeker import config
from heatseeker.cli import build_parser
from heatseeker.engines import open_engine, registry
from heatseeker.engines.base import Engine
from tests.conformance.engines import conformance_class


def test_the_registry_finds_both_engines_default_first():
    assert registry.names()[0] == registry.DEFAULT == "tantivy"
    assert set(registry.names()) >= {"tantivy", "opensearch"}
    for name, engine in registry.engines().items():
        assert issubclass(engine, Engine) and engine.name == name and engine.description


@pytest.mark.parametrize("name", registry.names())
def test_every_engine_has_its_conformance_class(name):
    assert conformance_class(name).backend == name


def test_backend_choices_and_help_come_from_the_registry():
    opt = next(o for o in config.engine_opts if o.name == "backend")
    assert opt.default == registry.DEFAULT
    assert list(opt.type.choices.items()) == registry.choices()
    groups = dict(config.list_opts())
    for name, engine in registry.engines().items():
        if engine.options:
            assert groups[name] == list(engine.options)


def test_reindex_to_offers_every_engine():
    reindex = build_parser()._subparsers._group_actions[0].choices["reindex"]  # type: ignore[union-attr]
    to = next(a for a in reindex._actions if a.dest == "to")
    assert list(to.choices) == registry.names()


def test_open_engine_builds_the_configured_engine(tmp_path):
    conf = config.new_conf()
    conf.set_override("data_dir", str(tmp_path))
    engine = open_engine(conf)
    assert engine.name == "tantivy"
    engine.close()
    with pytest.raises(ValueError, match="unknown \\[engine\\] backend"):
        registry.engine_class("nope")
