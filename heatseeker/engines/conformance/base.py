"""What every themed test mixin of the conformance suite stands on: how an engine under test is
made, the shared corpus index, and the comparison with the reference evaluator.

An engine under test is built the way heatseeker builds it, from the configuration
(``Engine.from_conf``, found by the registry under ``backend``), with ``data_dir`` set to the
test's temporary directory and whatever the engine's subclass adds (``engine_options``). So the
subclass of an engine is a few lines: its name, and the options that point it at a test location.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, ClassVar

import pytest

from heatseeker import config
from heatseeker.engines import open_engine
from heatseeker.engines.base import Engine
from heatseeker.engines.conformance.corpus import CORPUS
from heatseeker.engines.conformance.reference import (
    matches,
    page_of,
    reference_page,
    reference_search,
)
from heatseeker.query.tree import Node, SearchResult, SortKey

Options = dict[str, dict[str, Any]]  # {group ("DEFAULT" for none): {option: value}}


def build_engine(backend: str, data_dir: str | Path, options: Options | None = None) -> Engine:
    """The engine ``backend`` as ``heatseeker`` would open it from a configuration whose
    ``data_dir`` is ``data_dir``, with ``options`` overridden."""
    conf = config.new_conf()
    conf.set_override("data_dir", str(data_dir))
    conf.set_override("backend", backend, group="engine")
    for group, values in (options or {}).items():
        for name, value in values.items():
            conf.set_override(name, value, group=None if group == "DEFAULT" else group)
    return open_engine(conf)


def ids(result: SearchResult) -> list[str]:
    return [hit.id for hit in result.hits]


def corpus_ids(node: Node) -> set[str]:
    return {doc["id"] for doc in CORPUS if matches(node, doc)}


class Desc(str):
    """A string that sorts backwards (to check descending keys with ``sorted``)."""

    def __lt__(self, other: str) -> bool:
        return str.__gt__(self, other)

    def __gt__(self, other: str) -> bool:
        return str.__lt__(self, other)


class BaseTestEngine:
    """Mixed into every themed test class; a test class per engine sets ``backend``."""

    backend: ClassVar[str] = ""  # the engine's registry name ([engine] backend)
    _request: ClassVar[Any] = None

    def engine_options(self, tmp_path: Path) -> Options:
        """Options for an engine whose data go under ``tmp_path`` (each temporary directory must
        get an index of its own; ``reopen`` must find the same one again)."""
        return {}

    def fixture(self, name: str) -> Any:
        """The value of the pytest fixture ``name`` (e.g. the URL of a test cluster)."""
        return self._request.getfixturevalue(name)

    @pytest.fixture(scope="class", autouse=True)
    def _bind_request(self, request):
        type(self)._request = request

    def make_engine(self, tmp_path: Path) -> Engine:
        assert self.backend, f"{type(self).__name__} names no backend"
        return build_engine(self.backend, tmp_path, self.engine_options(tmp_path))

    def discard(self, engine: Engine) -> None:
        """Close ``engine`` for good, removing what it stored outside its temporary directory."""
        engine.close()

    def reopen(self, engine: Engine, tmp_path: Path) -> Engine:
        """Close ``engine`` and open the same index again."""
        engine.close()
        return self.make_engine(tmp_path)

    @pytest.fixture
    def engine(self, tmp_path):
        engine = self.make_engine(tmp_path)
        yield engine
        self.discard(engine)

    @pytest.fixture(scope="class")
    def corpus(self, tmp_path_factory):
        """``CORPUS`` indexed, with a tombstone among its live stacks: it must never show up."""
        engine = self.make_engine(tmp_path_factory.mktemp("corpus"))
        result = engine.upsert((copy.deepcopy(doc), doc["version"]) for doc in CORPUS)
        assert result.applied == len(CORPUS)
        engine.delete([("gone-stack", 7)])
        engine.commit()
        yield engine
        self.discard(engine)

    # -- comparisons with the reference evaluator ---------------------------------------------

    def check(self, engine: Engine, node: Node, expected: set[str] | None = None) -> set[str]:
        """Engine, reference evaluator and (if given) ``expected`` agree on the matching ids."""
        result = engine.search(node, limit=100)
        found = set(ids(result))
        assert result.total == len(found)
        assert found == corpus_ids(node), node
        # hits, scores, their order and max_score: exactly the reference's
        assert page_of(result) == reference_page(CORPUS, node, (), 0, 100), node
        if expected is not None:
            assert found == expected, node
        assert engine.count(node) == len(found)
        return found

    def assert_sorted(self, engine: Engine, node: Node, sort: list[SortKey]) -> list[str]:
        total, expected = reference_search(CORPUS, node, sort, 0, 100)
        result = engine.search(node, sort=sort, limit=100)
        assert (result.total, ids(result)) == (total, expected), sort
        assert page_of(result) == reference_page(CORPUS, node, sort, 0, 100), sort
        return expected
