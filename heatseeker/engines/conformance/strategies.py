"""Random corpora and query trees (hypothesis strategies) for the property tests.

Their vocabulary is small on purpose: random documents and random trees drawn from the same few
names, words, tags, dates and parameter values keep finding each other, so the comparison with the
reference evaluator covers matches, ties and misses alike. ``isolation_corpora`` builds the two
indexes of the noninterference property: the caller's stacks, identical in both, and other
projects' stacks that collide with them (same words, ids sharing their prefixes).

``LEAF_BUILDERS`` holds one strategy per leaf node type of ``query/tree.py`` (``Bool`` is built
over them by ``tree_strategy``); a node type missing here fails
``test_every_node_type_is_handled``.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import strategies as st

from heatseeker.engines.conformance.corpus import make_doc, resource, utc
from heatseeker.query import fields as F
from heatseeker.query.analysis import BY_SCORE
from heatseeker.query.tree import (
    Bool,
    Exists,
    Ids,
    MatchAll,
    MatchNone,
    Node,
    Phrase,
    Prefix,
    Range,
    SortKey,
    Term,
    Terms,
    Text,
    Wildcard,
)

_STATUSES = ["CREATE_COMPLETE", "UPDATE_FAILED", "DELETE_FAILED", "CHECK_COMPLETE"]
_TAGS = ["a", "b", "c", "é"]
_NAMES = ["web", "web-1", "Web", "db", "wéb", "a*b?", "web 2"]
_DATES = [
    "2024-01-01T00:00:00Z",
    "2024-01-01T00:00:01Z",
    "2024-06-30T12:00:00Z",
    "2025-01-01T00:00:00Z",
]
# values and keys with whitespace: tantivy keeps the dynamic terms that hold one apart (``_kv``,
# ``_kv_spaced``), so every query kind must find them in either
_PARAM_SCALARS: list[Any] = [1, 3, "3", "10", "x", "x.y", "", None, True, 2.5, "ü", "web",
                             "web 2", "x\ty", "w\nb", " ", "a\rb", "\x0c", "y" * 256 + " z"]  # fmt: skip
_PARAM_VALUES = st.one_of(
    st.sampled_from(_PARAM_SCALARS),
    st.lists(st.sampled_from(_PARAM_SCALARS), max_size=3),
    st.fixed_dictionaries({"k": st.sampled_from(_PARAM_SCALARS)}),
)
_PARAM_KEYS = ["p", "q", "a.b", "a", "p q", "p\x1fq"]  # a key's \x1f becomes a space
_DYNAMIC_PATHS = ["parameters.p", "parameters.q", "parameters.a.b", "parameters.a", "parameters.a.k",
                  "parameters.p.k", "outputs.value", "resources.type", "parameters.p q",
                  "parameters.p q.k"]  # fmt: skip


_TYPES = ["OS::Nova::Server", "OS::Heat::Stack"]
_WORDS = ["web", "db", "Web", "server", "cache", "1", "2", "wéb", "x", "prod", "web-1"]
_TEXTS = st.lists(st.sampled_from(_WORDS + ["zz", "create_complete", "p1", "!"]), max_size=3).map(
    " ".join
)
_DOC_PARTS = st.fixed_dictionaries(
    {
        "name": st.sampled_from(_NAMES),
        "status": st.sampled_from(_STATUSES),
        "project_id": st.sampled_from(["p1", "p2"]),
        "tags": st.lists(st.sampled_from(_TAGS), max_size=3),
        "depth": st.none() | st.sampled_from([0, 1, 2, 10]),
        "created_at": st.sampled_from(_DATES),
        "updated_at": st.none() | st.sampled_from(_DATES),
        "parameters": st.dictionaries(st.sampled_from(_PARAM_KEYS), _PARAM_VALUES, max_size=3),
        "outputs": st.lists(st.sampled_from(_PARAM_SCALARS), max_size=2),
        "types": st.lists(st.sampled_from(_TYPES), max_size=2),
        "description": st.lists(st.sampled_from(_WORDS), max_size=5).map(" ".join),
    }
)


def _random_doc(stack_id: str, parts: dict) -> dict:
    parts = dict(parts)
    types = parts.pop("types")
    outputs = [
        {"key": "o", "value": v, "description": "", "error": None} for v in parts.pop("outputs")
    ]
    resources = [resource(f"r{i}", t) for i, t in enumerate(types)]
    return make_doc(
        stack_id, outputs=outputs, resources=resources, resource_types=sorted(set(types)), **parts
    )


class _Vocabulary:
    """The values random leaves draw from (``stack_ids``: the ids ``Ids`` and ``id`` terms name)."""

    def __init__(self, stack_ids: list[str]):
        self.text_fields = st.sampled_from(["status", "name", "tags", "project_id"])
        self.keywords = st.sampled_from(_STATUSES + _TAGS + _NAMES + ["p1", "p2", "", "w", "zz"])
        self.dynamic = st.sampled_from(_DYNAMIC_PATHS)
        self.scalars = st.sampled_from(
            [v for v in _PARAM_SCALARS if v is not None] + ["null", "OS::Nova::Server"]
        )
        self.dates = st.sampled_from([utc(t) for t in _DATES]) | st.just(utc("2024-03-01T00:00:00Z"))
        self.ints = st.sampled_from([0, 1, 2, 10, -1])
        self.ids = st.sampled_from(stack_ids) if stack_ids else st.just("none")


def _terms(v: _Vocabulary) -> list[st.SearchStrategy[Node]]:
    return [
        st.builds(Term, v.text_fields, v.keywords),
        st.builds(Term, v.dynamic, v.scalars),
        st.builds(Term, st.just("depth"), v.ints),
        st.builds(Term, st.just("created_at"), v.dates),
        st.builds(Term, st.just("id"), v.ids),
    ]


def _term_sets(v: _Vocabulary) -> list[st.SearchStrategy[Node]]:
    return [
        st.builds(Terms, v.text_fields, st.lists(v.keywords, max_size=3).map(tuple)),
        st.builds(Terms, v.dynamic, st.lists(v.scalars, max_size=3).map(tuple)),
        st.builds(Terms, st.just("depth"), st.lists(v.ints, max_size=3).map(tuple)),
    ]


def _prefixes(v: _Vocabulary) -> list[st.SearchStrategy[Node]]:
    prefixes = st.sampled_from(["", "w", "we", "x", "3", "1", "é", "a*", "OS::", "web ", "x\t"])
    return [
        st.builds(Prefix, v.text_fields | v.dynamic, prefixes),
        st.builds(Prefix, st.just(F.FULLTEXT), st.sampled_from(["we", "d", "ser", "W"])),
    ]


def _wildcards(v: _Vocabulary) -> list[st.SearchStrategy[Node]]:
    patterns = st.sampled_from(["*", "w*", "?eb", "*-1", "a\\*b\\?", "x*y", "*.*", "??", "OS::*",
                                "* *", "x?y", "w?b"])
    return [st.builds(Wildcard, v.text_fields | v.dynamic, patterns)]


def _texts(v: _Vocabulary) -> list[st.SearchStrategy[Node]]:
    return [
        st.builds(Text, st.sampled_from(["status", "tags"]) | v.dynamic,
                  v.keywords | v.scalars.map(str)),
        # full text: analysed fields score per distinct word present
        st.builds(Text, st.sampled_from([None, "name", "description"]), _TEXTS,
                  operator=st.sampled_from(["and", "or"])),
    ]  # fmt: skip


def _phrases(v: _Vocabulary) -> list[st.SearchStrategy[Node]]:
    return [
        st.builds(Phrase, st.sampled_from(["project_id"]) | v.dynamic, v.scalars.map(str)),
        st.builds(Phrase, st.sampled_from([None, "name", "description"]), _TEXTS),
    ]


def _ranges(v: _Vocabulary) -> list[st.SearchStrategy[Node]]:
    ints, dates, keywords = v.ints, v.dates, v.keywords
    # a text bound of at most 256 bytes (UTF-8) past the common prefix: every engine answers it,
    # while tantivy refuses a longer one with a QueryError (its regex grows with the square of the
    # bound; RANGE_BOUND_BYTES, tested in tests/unit/test_tantivy_engine.py); "y" * 256 is the edge
    scalars = v.scalars.map(str).filter(lambda s: len(s.encode()) <= 256) | st.just("y" * 256)
    fields = v.text_fields | v.dynamic
    return [
        st.builds(Range, st.just("depth"), gte=st.none() | ints, lt=st.none() | ints),
        st.builds(Range, st.just("depth"), gt=st.none() | ints, lte=st.none() | ints),
        st.builds(Range, st.just("created_at"), gte=st.none() | dates, lte=st.none() | dates),
        st.builds(Range, st.just("updated_at"), gt=st.none() | dates, lt=st.none() | dates),
        st.builds(Range, fields, gte=st.none() | keywords | scalars,
                  lt=st.none() | keywords | scalars),
        st.builds(Range, fields, gt=st.none() | keywords, lte=st.none() | keywords),
    ]  # fmt: skip


LEAF_BUILDERS: dict[type, Any] = {
    MatchAll: lambda v: [st.just(MatchAll())],
    MatchNone: lambda v: [st.just(MatchNone())],
    Term: _terms,
    Terms: _term_sets,
    Prefix: _prefixes,
    Wildcard: _wildcards,
    Exists: lambda v: [
        st.builds(Exists, st.sampled_from(["tags", "depth", "updated_at", "name"]) | v.dynamic)
    ],
    Ids: lambda v: [st.builds(Ids, st.lists(v.ids, max_size=3).map(tuple))],
    Text: _texts,
    Phrase: _phrases,
    Range: _ranges,
}


def _leaf_strategy(stack_ids: list[str]) -> st.SearchStrategy[Node]:
    vocabulary = _Vocabulary(stack_ids)
    return st.one_of([s for build in LEAF_BUILDERS.values() for s in build(vocabulary)])


def tree_strategy(stack_ids: list[str]) -> st.SearchStrategy[Node]:
    def bools(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
        group = st.lists(children, max_size=3).map(tuple)
        return st.builds(
            Bool,
            must=group,
            should=group,
            must_not=group,
            filter=group,
            minimum_should_match=st.none() | st.integers(0, 3),
        )

    return st.recursive(_leaf_strategy(stack_ids), bools, max_leaves=8)


_SORT_FIELDS = ["status", "name", "tags", "depth", "created_at", "updated_at", "id", "project_id"]


_POOL = [f"s{i:02d}" for i in range(12)]
_TREES = tree_strategy(_POOL)
SORTS = st.lists(
    st.builds(SortKey, st.sampled_from(_SORT_FIELDS), st.booleans()) | st.just(BY_SCORE), max_size=3
)


@st.composite
def _scenario(draw: st.DrawFn) -> dict:
    parts = draw(st.lists(_DOC_PARTS, max_size=len(_POOL)))
    return {
        "docs": [_random_doc(sid, p) for sid, p in zip(_POOL, parts, strict=False)],
        "tree": draw(_TREES),
        "sort": draw(SORTS),
        "offset": draw(st.integers(0, 4)),
        "limit": draw(st.integers(1, 15)),
    }


SCENARIOS = _scenario()


def prefix_ids(node: Node, prefix: str) -> Node:
    """``node`` with the stack ids it names prefixed (each example uses fresh ids)."""
    if isinstance(node, Ids):
        return Ids(tuple(prefix + str(v) for v in node.values))
    if isinstance(node, Term) and F.resolve(node.field)[0] == "id":
        return Term(node.field, prefix + str(node.value))
    if isinstance(node, Bool):
        return Bool(
            must=tuple(prefix_ids(c, prefix) for c in node.must),
            should=tuple(prefix_ids(c, prefix) for c in node.should),
            must_not=tuple(prefix_ids(c, prefix) for c in node.must_not),
            filter=tuple(prefix_ids(c, prefix) for c in node.filter),
            minimum_should_match=node.minimum_should_match,
        )
    return node


# -- noninterference: two indexes that differ only in other projects' stacks ---------------------

ME = frozenset({"p-me", "p-me2"})  # the caller's projects (a member of both)
_OTHERS = ("p-x", "p-y")


def _isolation_doc(rng: random.Random, sid: str, project: str, root: dict | None) -> dict:
    """A random stack in the vocabulary of the property test (so its queries find it)."""
    types = rng.sample(_TYPES, rng.randint(0, 2))
    params = {k: rng.choice(_PARAM_SCALARS) for k in rng.sample(_PARAM_KEYS, rng.randint(0, 3))}
    family: dict[str, Any] = {}
    if root is not None:
        family = {"parent_id": root["id"], "root_id": root["id"], "ancestors": [root["id"]],
                  "depth": 1}
    return make_doc(
        sid,
        name=rng.choice(_NAMES),
        project_id=project,
        status=rng.choice(_STATUSES),
        tags=rng.sample(_TAGS, rng.randint(0, 3)),
        created_at=rng.choice(_DATES),
        updated_at=rng.choice([None, *_DATES]),
        description=" ".join(rng.choices(_WORDS, k=rng.randint(0, 6))),
        parameters=params,
        outputs=[{"key": "o", "value": rng.choice(_PARAM_SCALARS), "description": "",
                  "error": None}],
        resources=[resource(f"r{i}", t) for i, t in enumerate(types)],
        resource_types=sorted(set(types)),
        **family,
    )


def isolation_corpora(seed: int = 5) -> tuple[list[dict], list[dict], list[dict], list[str]]:
    """``(shared, few, many, tombstones)``: the caller's stacks (in both indexes, identical), other
    projects' stacks of the small and of the large index (the same words, ids that share the
    caller's prefixes and first 8 bytes), and ids tombstoned in the large one only."""
    rng = random.Random(seed)
    shared: list[dict] = []
    for i in range(24):
        root = rng.choice(shared) if shared and rng.random() < 0.3 else None
        project = root["project_id"] if root else sorted(ME)[i % 2]
        sid = rng.choice([f"stack-{i:04d}", f"s{i}", f"stack-{i:04d}-é", f"東{i}"])
        shared.append(_isolation_doc(rng, sid, project, root if root and not root["parent_id"]
                                     else None))
    mine = [d["id"] for d in shared]

    def others(n: int, tag: str) -> list[dict]:
        out = []
        for i in range(n):
            base = rng.choice(mine)
            sid = rng.choice([base + f"-{tag}{i}", base[:-1] + f"{tag}{i}", f"{tag}{i}",
                              base[:8] + f"{tag}{i}", f"stack-{i:04d}{tag}"])
            out.append(_isolation_doc(rng, sid, rng.choice(_OTHERS), None))
        return out

    few, many = others(5, "f"), others(260, "m")
    tombstones = [rng.choice(mine) + f"-dead{i}" for i in range(30)] + [f"zz-dead{i}" for i in range(10)]
    return shared, few, many, tombstones


def isolation_queries(ids_: list[str]) -> st.SearchStrategy[dict]:
    some = sorted(ids_)[:: max(1, len(ids_) // 16)]  # a short list keeps reports readable
    trees = tree_strategy(some)
    pick = st.integers(0, len(ids_) - 1).map(sorted(ids_).__getitem__)
    after = pick | st.text(alphabet="s0t-1é東ack9", max_size=9)
    return st.fixed_dictionaries(
        {
            "tree": trees,
            "projects": st.sampled_from([frozenset({"p-me"}), ME]),
            "sort": SORTS,
            "offset": st.integers(0, 5),
            "limit": st.integers(1, 15),
            "after": st.none() | after,
        }
    )

