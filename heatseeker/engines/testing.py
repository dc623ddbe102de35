"""The engine conformance suite: the executable specification of ``base.Engine``.

Every engine runs it unchanged, the way Kinto runs ``storage/testing.py`` against each storage
backend::

    class TestMyEngine(EngineConformance):
        def make_engine(self, tmp_path):
            return MyEngine(...)

        # optional: how to get at the same data again after close() (default: make_engine again)
        def reopen(self, engine, tmp_path):
            ...

The suite only speaks the contract. Besides the tests it holds:

* ``make_doc`` (a valid stack document) and ``build_corpus()`` (40 stacks in 3 projects: nested
  trees, resources, parameters, outputs, templates, environments, and the awkward data of the
  dynamic paths: dotted keys, unicode, long values, lists, nulls, numbers);
* a reference evaluator, ``matches`` / ``score`` / ``reference_page`` / ``reference_aggregate``:
  the meaning of a query tree, and the score of a match, as plain Python over documents. The
  property test compares every engine with it on random corpora and random trees: hits, scores,
  order and ``max_score`` exactly. Its analysis (words = runs of letters and digits, lower-cased,
  shorter than 40 bytes) is the engines' own (tantivy's simple tokenizer; OpenSearch's analysis is
  done in Python the same way) up to exotic Unicode, which the generated text avoids;
* the noninterference property: what a scoped caller gets from two indexes that differ only in
  other projects' stacks is identical (tenant isolation, issue #11).

Semantics fixed here (and by the engine contract):

* Values of dynamic paths compare as text (``fields.scalar_text``): ``3`` and ``"3"`` are the same,
  ranges are text ranges, only the first ``MAX_VALUE_CHARS`` characters are exact values.
* Text/Phrase on a keyword, date or int field or a dynamic path is a Term on that field; only text
  fields and the full-text field (``field=None``) are analysed.
* Exists on a dynamic path is true when any leaf sits at or under the path (a null leaf counts:
  it is indexed as ``"null"``); on a typed field, when the document has a non-null value (an empty
  list has none).
* Wildcard: ``*`` any run of characters, ``?`` one character, a backslash makes the next character
  literal.
* Bool follows Elasticsearch: must and filter are required, must_not excluded, and at least
  ``minimum_should_match`` should clauses must match (default: 1 if the bool has should clauses but
  no must/filter, else 0); a bool without clauses matches everything.
* Sort: a list field sorts by its smallest value ascending and its largest descending; documents
  without a value go last in both directions; ties are broken by id; text fields sort by their
  exact value. ``SortKey("_score", descending=True)`` (what ``query/request.py`` makes of
  ``"_score"``) is score order, best first, at any place among the keys. Without sort keys: by
  score, best first, then by id. Scores are coordination scores (``score``, see ``base.py``).
* Aggregations count documents per value (a value repeated in one document counts once), most
  documents first, ties by value.
"""

from __future__ import annotations

import copy
import itertools
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import cmp_to_key
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from heatseeker.engines.base import Engine
from heatseeker.query import fields as F
from heatseeker.query.scope import scope
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
    SearchResult,
    SortKey,
    Term,
    Terms,
    TermsAgg,
    Text,
    Wildcard,
)

# -- documents ------------------------------------------------------------------------------------


def make_doc(id: str, **overrides: Any) -> dict:
    """A valid stack document; keyword arguments replace its keys.

    ``action``/``state`` follow ``status`` and ``path`` follows ``name`` unless given.
    """
    name = overrides.get("name", id)
    doc: dict[str, Any] = {
        "id": id,
        "name": name,
        "project_id": "project-a",
        "status": "CREATE_COMPLETE",
        "action": "CREATE",
        "state": "COMPLETE",
        "status_reason": "Stack CREATE completed successfully",
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": None,
        "deleted_at": None,
        "description": "",
        "tags": [],
        "parent_id": None,
        "root_id": id,
        "ancestors": [],
        "path": [name],
        "depth": 0,
        "parent_resource": None,
        "parameters": {},
        "outputs": [],
        "resources": [],
        "resource_types": [],
        "template": {"heat_template_version": "2021-04-16", "resources": {}},
        "template_version": "2021-04-16",
        "environment": {"parameters": {}, "parameter_defaults": {}, "resource_registry": {}},
        "files": [],
        "fingerprint": f"sha256:{id}",
        "indexed_at": "2024-06-01T00:00:00Z",
        "version": 1,
    }
    doc.update(overrides)
    if "status" in overrides and "action" not in overrides and "_" in doc["status"]:
        doc["action"], _, doc["state"] = doc["status"].partition("_")
    if "path" not in overrides:
        doc["path"] = [doc["name"]]
    return doc


def _resource(name: str, rtype: str, status: str = "CREATE_COMPLETE") -> dict:
    return {
        "name": name,
        "type": rtype,
        "status": status,
        "status_reason": "state changed",
        "physical_resource_id": f"phys-{name}",
        "nested_stack_id": None,
    }


LONG_VALUE = "lorem ipsum dolor sit amet " * 12 + "zebrafinch"  # longer than MAX_VALUE_CHARS


def build_corpus() -> list[dict]:
    """40 stacks in projects p-alpha, p-beta, p-gamma (gamma holds the awkward data)."""
    docs: dict[str, dict] = {}

    def add(
        id: str,
        project: str,
        name: str,
        parent: str | None = None,
        *,
        types: Sequence[str] = (),
        created: str,
        **kw: Any,
    ) -> None:
        if parent is not None:
            up = docs[parent]
            family = {
                "parent_id": parent,
                "root_id": up["root_id"],
                "ancestors": up["ancestors"] + [parent],
                "path": up["path"] + [name],
                "depth": up["depth"] + 1,
            }
            resource = kw.get("parent_resource") or name
            up["resources"].append(
                {**_resource(resource, "OS::Heat::Stack"), "nested_stack_id": id}
            )
        else:
            family = {}
        resources = [
            _resource(f"{t.rsplit('::', 1)[-1].lower()}_{i}", t) for i, t in enumerate(types)
        ]
        docs[id] = make_doc(
            id,
            name=name,
            project_id=project,
            created_at=created,
            resources=resources,
            resource_types=sorted(set(types)),
            **family,
            **kw,
        )

    nginx = {"image": "nginx:1.25", "flavor": "m1.small"}
    # -- p-alpha: a shop tree, a ci tree, standalone stacks
    add(
        "alpha-shop", "p-alpha", "shop",
        types=["OS::Heat::ResourceGroup", "OS::Neutron::Net", "OS::Neutron::Subnet"],
        created="2024-03-01T08:00:00Z", updated_at="2024-03-05T08:00:00Z",
        tags=["prod", "web"], parameters={**nginx, "replicas": 3},
        description="Production web shop for the alpha team",
        outputs=[{"key": "url", "value": "http://shop.example.org/", "description": "Shop URL",
                  "error": None}],
    )  # fmt: skip
    add(
        "alpha-shop-web", "p-alpha", "shop-web", "alpha-shop", parent_resource="web",
        types=["OS::Heat::ResourceGroup"], created="2024-03-01T08:01:00Z",
        updated_at="2024-03-05T08:01:00Z", tags=["prod", "web"],
        parameters={"image": "nginx:1.25", "count": 2},
    )  # fmt: skip
    for i, status in ((0, "CREATE_COMPLETE"), (1, "UPDATE_FAILED")):
        add(
            f"alpha-shop-web-{i}", "p-alpha", f"shop-web-{i}", "alpha-shop-web",
            parent_resource=str(i), types=["OS::Nova::Server", "OS::Cinder::Volume"],
            created="2024-03-01T08:02:00Z", status=status, parameters=dict(nginx),
            updated_at="2024-03-06T10:00:00Z" if i else None,
            status_reason="Resource UPDATE failed: quota exceeded for instances" if i
            else "Stack CREATE completed successfully",
        )  # fmt: skip
    add(
        "alpha-shop-db", "p-alpha", "shop-db", "alpha-shop", parent_resource="db",
        types=["OS::Nova::Server", "OS::Cinder::Volume"], created="2024-03-01T08:03:00Z",
        parameters={"image": "postgres:16", "volume_size": 100},
    )  # fmt: skip
    add(
        "alpha-ci", "p-alpha", "ci-runner", types=["OS::Nova::Server"],
        created="2024-02-10T09:00:00Z", updated_at="2024-03-10T09:00:00Z",
        status="UPDATE_COMPLETE", tags=["ci"], parameters={"image": "ubuntu-22.04", "runners": 4},
        description="Continuous integration runners",
    )  # fmt: skip
    add(
        "alpha-ci-pool", "p-alpha", "ci-pool", "alpha-ci", parent_resource="pool",
        types=["OS::Heat::AutoScalingGroup"], created="2024-02-10T09:01:00Z",
        status="UPDATE_COMPLETE", tags=["ci"], parameters={"image": "ubuntu-22.04"},
    )  # fmt: skip
    add(
        "alpha-lab", "p-alpha", "lab", created="2024-03-15T12:00:00Z", status="CREATE_FAILED",
        status_reason="Stack CREATE failed: image not found",
    )  # fmt: skip
    add(
        "alpha-dns", "p-alpha", "dns", types=["OS::Designate::Zone", "OS::Designate::RecordSet"],
        created="2024-01-05T00:00:00Z", tags=["infra"], template_version="2018-08-31",
        parameters={"zone": "alpha.example.org."},
    )  # fmt: skip
    add(
        "alpha-vpn", "p-alpha", "vpn", types=["OS::Neutron::VPNService"],
        created="2024-01-20T00:00:00Z", status="CHECK_COMPLETE", tags=["infra", "net"],
        parameters={"peer": "203.0.113.7"},
    )  # fmt: skip
    add(
        "alpha-web", "p-alpha", "web", types=["OS::Nova::Server"], created="2024-03-20T00:00:00Z",
        tags=["web", "staging"], parameters={"image": "nginx:1.24"},
    )  # fmt: skip
    add(
        "alpha-old", "p-alpha", "legacy-app", types=["OS::Nova::Server"],
        created="2023-06-01T00:00:00Z", status="SUSPEND_COMPLETE", template_version="2015-04-30",
        parameters={"image": "centos-7"},
    )  # fmt: skip
    # -- p-beta: a kubernetes tree three levels deep, standalone stacks
    add(
        "beta-k8s", "p-beta", "k8s",
        types=["OS::Heat::ResourceGroup", "OS::Neutron::Net", "OS::Octavia::LoadBalancer"],
        created="2024-02-01T00:00:00Z", updated_at="2024-03-02T00:00:00Z",
        tags=["prod", "k8s"], description="Kubernetes cluster for the beta team",
        parameters={"image": "fedora-coreos-39", "node_count": 5, "master_count": 3},
    )  # fmt: skip
    for group, resource in (("masters", "kube_masters"), ("minions", "kube_minions")):
        add(
            f"beta-k8s-{group}", "p-beta", f"k8s-{group}", "beta-k8s", parent_resource=resource,
            types=["OS::Heat::ResourceGroup"], created="2024-02-01T00:01:00Z",
            tags=["prod", "k8s"], parameters={"image": "fedora-coreos-39"},
        )  # fmt: skip
    for i in range(3):
        add(
            f"beta-k8s-master-{i}", "p-beta", f"k8s-master-{i}", "beta-k8s-masters",
            parent_resource=str(i), types=["OS::Nova::Server", "OS::Cinder::Volume"],
            created=f"2024-02-01T00:02:0{i}Z",
            status="UPDATE_IN_PROGRESS" if i == 2 else "CREATE_COMPLETE",
            parameters={"image": "fedora-coreos-39", "flavor": "m1.large"},
        )  # fmt: skip
    add(
        "beta-k8s-minion-0", "p-beta", "k8s-minion-0", "beta-k8s-minions", parent_resource="0",
        types=["OS::Nova::Server"], created="2024-02-01T00:03:00Z",
        parameters={"image": "fedora-coreos-39", "flavor": "m1.xlarge"},
    )  # fmt: skip
    add(
        "beta-k8s-minion-0-vol", "p-beta", "k8s-minion-0-vol", "beta-k8s-minion-0",
        parent_resource="volume", types=["OS::Cinder::Volume"], created="2024-02-01T00:04:00Z",
        parameters={"size": 50},
    )  # fmt: skip
    add(
        "beta-web", "p-beta", "web", types=["OS::Nova::Server"], created="2024-03-20T00:00:00Z",
        tags=["web"], parameters={"image": "nginx:1.25"},
    )  # fmt: skip
    add(
        "beta-db", "p-beta", "db", types=["OS::Nova::Server", "OS::Cinder::Volume"],
        created="2024-02-15T00:00:00Z", status="DELETE_FAILED", tags=["prod"],
        status_reason="Resource DELETE failed: volume in use", parameters={"image": "mariadb:10.11"},
    )  # fmt: skip
    add(
        "beta-batch", "p-beta", "batch", created="2024-02-20T00:00:00Z",
        status="ROLLBACK_COMPLETE", parameters={"image": "python:3.12", "schedule": "0 3 * * *"},
    )  # fmt: skip
    add(
        "beta-cache", "p-beta", "cache", types=["OS::Nova::Server"],
        created="2024-02-21T00:00:00Z", tags=["prod", "cache"],
        parameters={"image": "redis:7", "memory_mb": 512},
    )  # fmt: skip
    add(
        "beta-monitor", "p-beta", "monitoring", types=["OS::Nova::Server"],
        created="2024-02-22T00:00:00Z", updated_at="2024-03-01T00:00:00Z",
        status="UPDATE_COMPLETE", tags=["ops"],
        parameters={"image": "prom/prometheus:v2.51", "retention": "15d"},
    )  # fmt: skip
    add(
        "beta-queue", "p-beta", "queue", types=["OS::Nova::Server"],
        created="2024-02-23T00:00:00Z", parameters={"image": "rabbitmq:3.13"},
    )  # fmt: skip
    # -- p-gamma: the awkward data
    add("gamma-dotted", "p-gamma", "dotted", created="2024-04-01T00:00:00Z",
        parameters={"a.b": 1, "plain": "x"})  # fmt: skip
    add("gamma-nested", "p-gamma", "nested", created="2024-04-02T00:00:00Z",
        parameters={"a": {"b": 1, "c": "deep"}, "config": {"log": {"level": "debug"}}})  # fmt: skip
    add(
        "gamma-unicode", "p-gamma", "unicode-ünïcödé", created="2024-04-03T00:00:00Z",
        tags=["été"], parameters={"région": "Zürich", "名前": "東京タワー"},
        description="Données de production à Zürich",
    )  # fmt: skip
    add("gamma-long", "p-gamma", "long", created="2024-04-04T00:00:00Z",
        parameters={"blob": LONG_VALUE})  # fmt: skip
    add("gamma-lists", "p-gamma", "lists", created="2024-04-05T00:00:00Z",
        parameters={"ports": [80, 443], "zones": ["az1", "az2"]})  # fmt: skip
    add("gamma-null", "p-gamma", "null", created="2024-04-06T00:00:00Z",
        parameters={"key_name": None, "debug": True, "ratio": 0.5})  # fmt: skip
    add("gamma-numbers", "p-gamma", "numbers", created="2024-04-07T00:00:00Z",
        parameters={"count": 3, "count_str": "3", "big": 10})  # fmt: skip
    add(
        "gamma-outputs", "p-gamma", "outputs", created="2024-04-08T00:00:00Z",
        outputs=[
            {"key": "url", "value": "http://203.0.113.10:8080/", "description": "Public URL",
             "error": None},
            {"key": "ips", "value": ["10.0.0.5", "10.0.0.6"], "description": "Addresses",
             "error": None},
        ],
    )  # fmt: skip
    add(
        "gamma-template", "p-gamma", "template", types=["OS::Nova::Server"],
        created="2024-04-09T00:00:00Z", parameters={"image": "debian-12"},
        template={
            "heat_template_version": "2021-04-16",
            "parameters": {"image": {"type": "string"}},
            "resources": {"server": {"type": "OS::Nova::Server", "properties": {
                "flavor": "m1.large", "image": {"get_param": "image"}}}},
        },
    )  # fmt: skip
    add(
        "gamma-env", "p-gamma", "env", created="2024-04-10T00:00:00Z",
        environment={
            "parameters": {"flavor": "m1.tiny"},
            "parameter_defaults": {"key_name": "ops"},
            "resource_registry": {"OS::Gamma::Web": "web.yaml"},
        },
        files=["web.yaml"],
    )  # fmt: skip
    add("gamma-app", "p-gamma", "app", created="2024-04-11T00:00:00Z", tags=["app"],
        types=["OS::Heat::Stack"])  # fmt: skip
    add("gamma-app-tier", "p-gamma", "app-tier", "gamma-app", parent_resource="tier",
        created="2024-04-11T00:01:00Z", tags=["app"], types=["OS::Heat::Stack"])  # fmt: skip
    add("gamma-app-tier-db", "p-gamma", "app-tier-db", "gamma-app-tier", parent_resource="db",
        created="2024-04-11T00:02:00Z", tags=["app", "db"], types=["OS::Trove::Instance"])  # fmt: skip
    add("gamma-bare", "p-gamma", "bare", created="2024-04-12T00:00:00Z")
    corpus = list(docs.values())
    for i, doc in enumerate(corpus):
        doc["version"] = i + 1
    assert len(corpus) == 40, len(corpus)
    return corpus


CORPUS = build_corpus()
CORPUS_BY_ID = {doc["id"]: doc for doc in CORPUS}


# -- the reference evaluator -------------------------------------------------------------------------
# Written apart from the engines' own value conversions (engines/values.py) on purpose: an oracle
# that shared them would agree with their bugs.


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _as_text(value: Any) -> str:
    """Keyword/text exact form of a value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _iso(value)
    return str(value)


def _as_dynamic(value: Any) -> str:
    if isinstance(value, datetime):
        return _iso(value)
    return F.scalar_text(value)


def _as_date(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _dynamic_leaves(doc: dict, root: str) -> list[tuple[str, str]]:
    value = doc.get(root)
    return [] if value is None else list(F.flatten(value, root))


def field_values(doc: dict, field: str) -> list[Any]:
    """The values of ``field`` in ``doc``, in the form they compare in."""
    name, kind = F.resolve(field)
    if kind == "dynamic":
        return [text for path, text in _dynamic_leaves(doc, name.split(".", 1)[0]) if path == name]
    raw = doc.get(name)
    values = [v for v in (raw if isinstance(raw, (list, tuple)) else [raw]) if v is not None]
    if kind in (F.KEYWORD, F.TEXT):
        return [_as_text(v) for v in values]
    if kind == F.DATE:
        return [d for d in map(_as_date, values) if d is not None]
    return [int(n) for n in map(_as_number, values) if n is not None and n.is_integer()]


def _query_value(kind: str, value: Any) -> Any:
    if kind == "dynamic":
        return _as_dynamic(value)
    if kind in (F.KEYWORD, F.TEXT):
        return _as_text(value)
    if kind == F.DATE:
        return _as_date(value)
    number = _as_number(value)
    return number


def words(text: str) -> list[str]:
    """Approximate analysis: runs of letters/digits, lower-cased, shorter than 40 bytes."""
    return [w.lower() for w in re.findall(r"[^\W_]+", text) if len(w.encode()) < 40]


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield str(key)
            yield from _strings(child)
    elif isinstance(value, (list, tuple)):
        for child in value:
            yield from _strings(child)
    elif isinstance(value, bool):
        yield "true" if value else "false"
    elif value is not None:
        yield str(value)


def _analysed_values(doc: dict, field: str | None) -> list[list[str]]:
    if field is None or field == F.FULLTEXT:
        # typed fields in FULLTEXT_EXCLUDED (ids, times, owners) are asked for by field only
        kept = {k: v for k, v in doc.items() if k not in F.FULLTEXT_EXCLUDED}
        return [words(s) for s in _strings(kept)]
    return [words(v) for v in field_values(doc, field)]


def _is_analysed(field: str | None) -> bool:
    return field is None or field == F.FULLTEXT or F.resolve(field)[1] == F.TEXT


def _wildcard_regex(pattern: str) -> re.Pattern:
    out = []
    chars = iter(pattern)
    for c in chars:
        if c == "\\":
            nxt = next(chars, None)
            if nxt is not None:
                out.append(re.escape(nxt))
        elif c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        else:
            out.append(re.escape(c))
    return re.compile("".join(out), re.DOTALL)


def _in_range(value: Any, node: Range, conv) -> bool:
    for bound, test in (
        (node.gte, lambda v, b: v >= b),
        (node.gt, lambda v, b: v > b),
        (node.lte, lambda v, b: v <= b),
        (node.lt, lambda v, b: v < b),
    ):
        if bound is None:
            continue
        b = conv(bound)
        if b is None or not test(value, b):
            return False
    return True


def minimum_should_match(node: Bool) -> int:
    if node.minimum_should_match is not None:
        return node.minimum_should_match
    return 0 if (node.must or node.filter) else (1 if node.should else 0)


def matches(node: Node, doc: dict) -> bool:
    """Whether ``doc`` matches ``node``: the meaning of the query tree."""
    if isinstance(node, MatchAll):
        return True
    if isinstance(node, MatchNone):
        return False
    if isinstance(node, Bool):
        if not (node.must or node.should or node.must_not or node.filter):
            return True
        if not all(matches(c, doc) for c in node.must + node.filter):
            return False
        if any(matches(c, doc) for c in node.must_not):
            return False
        return sum(matches(c, doc) for c in node.should) >= minimum_should_match(node)
    if isinstance(node, Ids):
        return doc["id"] in {str(v) for v in node.values}
    if isinstance(node, (Text, Phrase)):
        if not _is_analysed(node.field):
            return matches(Term(node.field or "", node.text), doc)
        query = words(node.text)
        if not query:
            return False
        analysed = _analysed_values(doc, node.field)
        if isinstance(node, Phrase):
            n = len(query)
            return any(v[i : i + n] == query for v in analysed for i in range(len(v) - n + 1))
        present = {w for v in analysed for w in v}
        hits = [w in present for w in query]
        return any(hits) if node.operator == "or" else all(hits)
    if isinstance(node, Exists):
        name, kind = F.resolve(node.field)
        if kind == "dynamic":
            leaves = _dynamic_leaves(doc, name.split(".", 1)[0])
            return any(p == name or p.startswith(name + ".") for p, _ in leaves)
        return bool(field_values(doc, name))
    if isinstance(node, (Prefix, Wildcard)) and node.field == F.FULLTEXT:
        # a bare word with a wildcard: against the analysed words of the full text
        present = {w for v in _analysed_values(doc, None) for w in v}
        if isinstance(node, Prefix):
            return any(w.startswith(node.value.lower()) for w in present)
        rx = _wildcard_regex(node.pattern.lower())
        return any(rx.fullmatch(w) for w in present)
    name, kind = F.resolve(node.field)
    values = field_values(doc, name)
    if isinstance(node, Term):
        wanted = _query_value(kind, node.value)
        return wanted is not None and wanted in values
    if isinstance(node, Terms):
        wanted_set = {_query_value(kind, v) for v in node.values} - {None}
        return any(v in wanted_set for v in values)
    if isinstance(node, Prefix):
        return any(v.startswith(node.value) for v in values)
    if isinstance(node, Wildcard):
        rx = _wildcard_regex(node.pattern)
        return any(rx.fullmatch(v) for v in values)
    if isinstance(node, Range):
        if kind == F.INT:
            conv: Any = _as_number
        elif kind == F.DATE:
            conv = _as_date
        else:
            conv = _as_dynamic if kind == "dynamic" else _as_text
        return any(_in_range(v, node, conv) for v in values)
    raise TypeError(f"unknown node {node!r}")


def sort_value(doc: dict, key: SortKey) -> Any:
    values = field_values(doc, key.field)
    if not values:
        return None
    return max(values) if key.descending else min(values)


def score(node: Node, doc: dict) -> float:
    """The score of a matching ``doc``: the coordination score, computed from the document and the
    query alone (no collection statistics, so no other stack can change it). Every leaf scores 1
    but a Text on an analysed field, which scores 1 per distinct query word the document holds (all
    of them for an ``and`` Text); a bool sums its must clauses and its matching should clauses
    (filter clauses score 0, must_not nothing); a bool without clauses scores 1."""
    if isinstance(node, MatchNone):
        return 0.0
    if isinstance(node, Bool):
        if not (node.must or node.should or node.must_not or node.filter):
            return 1.0
        total = sum(score(c, doc) for c in node.must)
        total += sum(score(c, doc) for c in node.should if matches(c, doc))
        return float(total)
    if isinstance(node, Text) and _is_analysed(node.field):
        present = {w for v in _analysed_values(doc, node.field) for w in v}
        return float(sum(1 for w in dict.fromkeys(words(node.text)) if w in present))
    return 1.0


SCORE = SortKey("_score", descending=True)


def reference_order(
    docs: Iterable[dict], sort: Sequence[SortKey], scores: dict[str, float] | None = None
) -> list[dict]:
    """``docs`` in the order of ``sort`` (missing values last, ties by id); ``_score`` keys order
    by ``scores`` (id → score, best first), or order nothing when no scores are given."""

    def compare(a: dict, b: dict) -> int:
        for key in sort:
            if key.field == "_score":
                if scores is None or scores[a["id"]] == scores[b["id"]]:
                    continue
                return -1 if scores[a["id"]] > scores[b["id"]] else 1
            va, vb = sort_value(a, key), sort_value(b, key)
            if va == vb:
                continue
            if va is None:
                return 1
            if vb is None:
                return -1
            c = -1 if va < vb else 1
            return -c if key.descending else c
        return -1 if a["id"] < b["id"] else (1 if a["id"] > b["id"] else 0)

    return sorted(docs, key=cmp_to_key(compare))


def reference_search(
    docs: Iterable[dict],
    node: Node,
    sort: Sequence[SortKey] = (),
    offset: int = 0,
    limit: int = 10,
) -> tuple[int, list[str]]:
    """``(total, ids of the page)``; without sort keys, by score (best first), then id."""
    total, page, _ = reference_page(docs, node, sort, offset, limit)
    return total, [sid for sid, _ in page]


def reference_page(
    docs: Iterable[dict],
    node: Node,
    sort: Sequence[SortKey] = (),
    offset: int = 0,
    limit: int = 10,
) -> tuple[int, list[tuple[str, float]], float | None]:
    """``(total, [(id, score)] of the page, max_score)``: what ``Engine.search`` must answer.

    ``max_score`` is the best score of all matches whatever the sort and the page (None without
    matches, and when ``limit`` is 0).
    """
    found = [d for d in docs if matches(node, d)]
    scores = {d["id"]: score(node, d) for d in found}
    ordered = reference_order(found, list(sort) or [SCORE], scores)
    page = [(d["id"], scores[d["id"]]) for d in ordered[offset : offset + limit]]
    best = max(scores.values()) if scores and limit > 0 else None
    return len(found), page, best


def page_of(result: SearchResult) -> tuple[int, list[tuple[str, float]], float | None]:
    """An engine's answer in the form of ``reference_page``."""
    return result.total, [(h.id, h.score) for h in result.hits], result.max_score


def reference_aggregate(
    docs: Iterable[dict], node: Node, aggs: dict[str, TermsAgg]
) -> dict[str, list[tuple[str, int]]]:
    found = [d for d in docs if matches(node, d)]
    out = {}
    for name, agg in aggs.items():
        counts: Counter[str] = Counter()
        for doc in found:
            counts.update({str(v) for v in field_values(doc, agg.field)})
        out[name] = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: agg.size]
    return out


# -- helpers --------------------------------------------------------------------------------------


def ids(result: SearchResult) -> list[str]:
    return [hit.id for hit in result.hits]


class _Desc(str):
    """A string that sorts backwards (to check descending keys with ``sorted``)."""

    def __lt__(self, other: str) -> bool:
        return str.__gt__(self, other)

    def __gt__(self, other: str) -> bool:
        return str.__lt__(self, other)


def corpus_ids(node: Node) -> set[str]:
    return {doc["id"] for doc in CORPUS if matches(node, doc)}


def _d(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- random corpora and trees for the property test ------------------------------------------------

_STATUSES = ["CREATE_COMPLETE", "UPDATE_FAILED", "DELETE_FAILED", "CHECK_COMPLETE"]
_TAGS = ["a", "b", "c", "é"]
_NAMES = ["web", "web-1", "Web", "db", "wéb", "a*b?", "web 2"]
_DATES = [
    "2024-01-01T00:00:00Z",
    "2024-01-01T00:00:01Z",
    "2024-06-30T12:00:00Z",
    "2025-01-01T00:00:00Z",
]
_PARAM_SCALARS: list[Any] = [1, 3, "3", "10", "x", "x.y", "", None, True, 2.5, "ü", "web"]
_PARAM_VALUES = st.one_of(
    st.sampled_from(_PARAM_SCALARS),
    st.lists(st.sampled_from(_PARAM_SCALARS), max_size=3),
    st.fixed_dictionaries({"k": st.sampled_from(_PARAM_SCALARS)}),
)
_PARAM_KEYS = ["p", "q", "a.b", "a"]
_DYNAMIC_PATHS = ["parameters.p", "parameters.q", "parameters.a.b", "parameters.a", "parameters.a.k",
                  "parameters.p.k", "outputs.value", "resources.type"]  # fmt: skip


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
    resources = [_resource(f"r{i}", t) for i, t in enumerate(types)]
    return make_doc(
        stack_id, outputs=outputs, resources=resources, resource_types=sorted(set(types)), **parts
    )


def _leaf_strategy(stack_ids: list[str]) -> st.SearchStrategy[Node]:
    text_fields = st.sampled_from(["status", "name", "tags", "project_id"])
    keyword_values = st.sampled_from(_STATUSES + _TAGS + _NAMES + ["p1", "p2", "", "w", "zz"])
    dynamic = st.sampled_from(_DYNAMIC_PATHS)
    scalars = st.sampled_from(
        [v for v in _PARAM_SCALARS if v is not None] + ["null", "OS::Nova::Server"]
    )
    dates = st.sampled_from([_d(t) for t in _DATES]) | st.just(_d("2024-03-01T00:00:00Z"))
    ints = st.sampled_from([0, 1, 2, 10, -1])
    prefixes = st.sampled_from(["", "w", "we", "x", "3", "1", "é", "a*", "OS::"])
    patterns = st.sampled_from(["*", "w*", "?eb", "*-1", "a\\*b\\?", "x*y", "*.*", "??", "OS::*"])
    ids_ = st.sampled_from(stack_ids) if stack_ids else st.just("none")
    return st.one_of(
        st.just(MatchAll()),
        st.just(MatchNone()),
        st.builds(Term, text_fields, keyword_values),
        st.builds(Term, dynamic, scalars),
        st.builds(Term, st.just("depth"), ints),
        st.builds(Term, st.just("created_at"), dates),
        st.builds(Term, st.just("id"), ids_),
        st.builds(Terms, text_fields, st.lists(keyword_values, max_size=3).map(tuple)),
        st.builds(Terms, dynamic, st.lists(scalars, max_size=3).map(tuple)),
        st.builds(Terms, st.just("depth"), st.lists(ints, max_size=3).map(tuple)),
        st.builds(Prefix, text_fields | dynamic, prefixes),
        st.builds(Wildcard, text_fields | dynamic, patterns),
        st.builds(Exists, st.sampled_from(["tags", "depth", "updated_at", "name"]) | dynamic),
        st.builds(Ids, st.lists(ids_, max_size=3).map(tuple)),
        st.builds(Text, st.sampled_from(["status", "tags"]) | dynamic, keyword_values | scalars.map(str)),
        st.builds(Phrase, st.sampled_from(["project_id"]) | dynamic, scalars.map(str)),
        # full text: analysed fields score per distinct word present
        st.builds(Text, st.sampled_from([None, "name", "description"]), _TEXTS,
                  operator=st.sampled_from(["and", "or"])),
        st.builds(Phrase, st.sampled_from([None, "name", "description"]), _TEXTS),
        st.builds(Prefix, st.just(F.FULLTEXT), st.sampled_from(["we", "d", "ser", "W"])),
        st.builds(Range, st.just("depth"), gte=st.none() | ints, lt=st.none() | ints),
        st.builds(Range, st.just("depth"), gt=st.none() | ints, lte=st.none() | ints),
        st.builds(Range, st.just("created_at"), gte=st.none() | dates, lte=st.none() | dates),
        st.builds(Range, st.just("updated_at"), gt=st.none() | dates, lt=st.none() | dates),
        st.builds(Range, text_fields | dynamic, gte=st.none() | keyword_values | scalars.map(str),
                  lt=st.none() | keyword_values | scalars.map(str)),
        st.builds(Range, text_fields | dynamic, gt=st.none() | keyword_values,
                  lte=st.none() | keyword_values),
    )  # fmt: skip


def _tree_strategy(stack_ids: list[str]) -> st.SearchStrategy[Node]:
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
_TREES = _tree_strategy(_POOL)
_SORTS = st.lists(
    st.builds(SortKey, st.sampled_from(_SORT_FIELDS), st.booleans()) | st.just(SCORE), max_size=3
)


@st.composite
def _scenario(draw: st.DrawFn) -> dict:
    parts = draw(st.lists(_DOC_PARTS, max_size=len(_POOL)))
    return {
        "docs": [_random_doc(sid, p) for sid, p in zip(_POOL, parts, strict=False)],
        "tree": draw(_TREES),
        "sort": draw(_SORTS),
        "offset": draw(st.integers(0, 4)),
        "limit": draw(st.integers(1, 15)),
    }


_SCENARIOS = _scenario()


def _prefix_ids(node: Node, prefix: str) -> Node:
    """``node`` with the stack ids it names prefixed (each example uses fresh ids)."""
    if isinstance(node, Ids):
        return Ids(tuple(prefix + str(v) for v in node.values))
    if isinstance(node, Term) and F.resolve(node.field)[0] == "id":
        return Term(node.field, prefix + str(node.value))
    if isinstance(node, Bool):
        return Bool(
            must=tuple(_prefix_ids(c, prefix) for c in node.must),
            should=tuple(_prefix_ids(c, prefix) for c in node.should),
            must_not=tuple(_prefix_ids(c, prefix) for c in node.must_not),
            filter=tuple(_prefix_ids(c, prefix) for c in node.filter),
            minimum_should_match=node.minimum_should_match,
        )
    return node


# -- noninterference: two indexes that differ only in other projects' stacks ---------------------

_ME = frozenset({"p-me", "p-me2"})  # the caller's projects (a member of both)
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
        resources=[_resource(f"r{i}", t) for i, t in enumerate(types)],
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
        project = root["project_id"] if root else sorted(_ME)[i % 2]
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


def _isolation_queries(ids_: list[str]) -> st.SearchStrategy[dict]:
    some = sorted(ids_)[:: max(1, len(ids_) // 16)]  # a short list keeps reports readable
    trees = _tree_strategy(some)
    pick = st.integers(0, len(ids_) - 1).map(sorted(ids_).__getitem__)
    after = pick | st.text(alphabet="s0t-1é東ack9", max_size=9)
    return st.fixed_dictionaries(
        {
            "tree": trees,
            "projects": st.sampled_from([frozenset({"p-me"}), _ME]),
            "sort": _SORTS,
            "offset": st.integers(0, 5),
            "limit": st.integers(1, 15),
            "after": st.none() | after,
        }
    )


# -- the suite -----------------------------------------------------------------------------------


class EngineConformance:
    """Mix into a test class that provides ``make_engine(tmp_path)``."""

    property_examples = 80

    def make_engine(self, tmp_path) -> Engine:
        raise NotImplementedError

    def reopen(self, engine: Engine, tmp_path) -> Engine:
        """Close ``engine`` and open the same index again."""
        engine.close()
        return self.make_engine(tmp_path)

    @pytest.fixture
    def engine(self, tmp_path):
        engine = self.make_engine(tmp_path)
        yield engine
        engine.close()

    @pytest.fixture(scope="class")
    def corpus(self, tmp_path_factory):
        engine = self.make_engine(tmp_path_factory.mktemp("corpus"))
        result = engine.upsert((copy.deepcopy(doc), doc["version"]) for doc in CORPUS)
        assert result.applied == len(CORPUS)
        # a tombstone among the live stacks: it must never show up anywhere
        engine.delete([("gone-stack", 7)])
        engine.commit()
        yield engine
        engine.close()

    # helpers
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

    # -- writes: upsert, versions, commit, persistence --------------------------------------------

    def test_upsert_get_and_version(self, engine):
        doc = make_doc("s1", parameters={"image": "cirros"})
        assert engine.get("s1") is None
        assert engine.get_version("s1") is None
        assert engine.upsert([(doc, 3)]).applied == 1
        engine.commit()
        assert engine.get("s1") == (doc, 3)
        assert engine.get_version("s1") == (3, False)
        hit = engine.search(Ids(("s1",))).hits[0]
        assert (hit.id, hit.version, hit.source) == ("s1", 3, doc)

    def test_newer_version_replaces(self, engine):
        engine.upsert([(make_doc("s1", status="CREATE_IN_PROGRESS"), 1)])
        engine.commit()
        result = engine.upsert([(make_doc("s1", status="CREATE_COMPLETE"), 2)])
        assert (result.applied, result.ignored) == (1, 0)
        engine.commit()
        assert engine.get("s1")[0]["status"] == "CREATE_COMPLETE"
        assert engine.get_version("s1") == (2, False)
        assert engine.count(MatchAll()) == 1
        assert engine.count(Term("status", "CREATE_IN_PROGRESS")) == 0

    def test_older_or_equal_version_ignored(self, engine):
        engine.upsert([(make_doc("s1", status="UPDATE_COMPLETE"), 5)])
        engine.commit()
        result = engine.upsert(
            [(make_doc("s1", status="OLD"), 4), (make_doc("s1", status="SAME"), 5)]
        )
        assert (result.applied, result.ignored) == (0, 2)
        engine.commit()
        assert engine.get("s1")[0]["status"] == "UPDATE_COMPLETE"
        assert engine.get_version("s1") == (5, False)

    def test_versions_compare_with_uncommitted_writes(self, engine):
        result = engine.upsert(
            [(make_doc("s1", status="A_ONE"), 1), (make_doc("s1", status="A_THREE"), 3)]
        )
        assert result.applied == 2
        result = engine.upsert([(make_doc("s1", status="A_TWO"), 2)])
        assert (result.applied, result.ignored) == (0, 1)
        assert engine.get_version("s1") == (3, False)
        engine.commit()
        assert engine.get("s1")[0]["status"] == "A_THREE"
        assert engine.count(MatchAll()) == 1

    def test_commit_makes_writes_visible(self, engine):
        engine.upsert([(make_doc(f"s{i}", tags=["batch"]), 1) for i in range(5)])
        engine.commit()
        assert engine.count(Term("tags", "batch")) == 5
        assert set(ids(engine.search(Term("tags", "batch")))) == {f"s{i}" for i in range(5)}

    def test_persists_after_reopen(self, tmp_path):
        engine = self.make_engine(tmp_path)
        engine.upsert([(make_doc("s1", tags=["kept"]), 2), (make_doc("s2"), 1)])
        engine.delete([("s2", 4)])
        engine.commit()
        engine = self.reopen(engine, tmp_path)
        try:
            assert engine.get("s1") == (make_doc("s1", tags=["kept"]), 2)
            assert engine.get_version("s2") == (4, True)
            assert ids(engine.search(Term("tags", "kept"))) == ["s1"]
            assert engine.upsert([(make_doc("s1"), 2)]).ignored == 1
        finally:
            engine.close()

    def test_documents_round_trip(self, engine):
        for doc in CORPUS:
            engine.upsert([(copy.deepcopy(doc), doc["version"])])
        engine.commit()
        for doc in CORPUS:
            assert engine.get(doc["id"]) == (doc, doc["version"])

    # -- deletes and tombstones ----------------------------------------------------------------

    def test_delete_leaves_tombstone(self, engine):
        engine.upsert([(make_doc("s1", tags=["t"]), 2), (make_doc("s2", tags=["t"]), 2)])
        engine.commit()
        result = engine.delete([("s1", 3)])
        assert (result.applied, result.ignored) == (1, 0)
        engine.commit()
        assert engine.get("s1") is None
        assert engine.get_version("s1") == (3, True)
        for node in (
            MatchAll(),
            Term("tags", "t"),
            Ids(("s1", "s2")),
            Exists("id"),
            Prefix("id", "s"),
        ):
            assert ids(engine.search(node)) == ["s2"]
            assert engine.count(node) == 1
        assert engine.search(Term("id", "s1")).total == 0
        assert engine.aggregate(MatchAll(), {"t": TermsAgg("tags")}) == {"t": [("t", 1)]}

    def test_upsert_after_delete_ignored_whatever_the_version(self, engine):
        engine.upsert([(make_doc("s1"), 1)])
        engine.delete([("s1", 2)])
        engine.commit()
        for version in (1, 2, 3, 1000):
            result = engine.upsert([(make_doc("s1"), version)])
            assert (result.applied, result.ignored) == (0, 1)
        engine.commit()
        assert engine.get("s1") is None
        assert engine.get_version("s1") == (2, True)
        assert engine.count(MatchAll()) == 0

    def test_delete_unknown_id_creates_tombstone(self, engine):
        result = engine.delete([("never-seen", 5)])
        assert result.applied == 1
        engine.commit()
        assert engine.get_version("never-seen") == (5, True)
        assert engine.upsert([(make_doc("never-seen"), 9)]).ignored == 1
        engine.commit()
        assert engine.get("never-seen") is None
        assert engine.count(MatchAll()) == 0

    def test_delete_with_lower_version_still_deletes(self, engine):
        engine.upsert([(make_doc("s1"), 10)])
        engine.commit()
        assert engine.delete([("s1", 3)]).applied == 1
        engine.commit()
        assert engine.get("s1") is None
        assert engine.get_version("s1") == (10, True)

    def test_delete_twice(self, engine):
        engine.delete([("s1", 4)])
        engine.commit()
        result = engine.delete([("s1", 4)])
        assert (result.applied, result.ignored) == (0, 1)
        engine.delete([("s1", 6)])
        engine.commit()
        assert engine.get_version("s1") == (6, True)
        engine.delete([("s1", 5)])
        engine.commit()
        assert engine.get_version("s1") == (6, True)

    def test_delete_before_commit_of_upsert(self, engine):
        engine.upsert([(make_doc("s1"), 1)])
        engine.delete([("s1", 1)])
        engine.upsert([(make_doc("s1"), 2)])
        engine.commit()
        assert engine.get("s1") is None
        assert engine.get_version("s1") == (1, True)
        assert engine.count(MatchAll()) == 0

    def test_tombstones_invisible_to_the_corpus(self, corpus):
        assert corpus.get("gone-stack") is None
        assert corpus.get_version("gone-stack") == (7, True)
        assert corpus.count(MatchAll()) == len(CORPUS)
        assert corpus.search(MatchAll(), limit=100).total == len(CORPUS)
        assert corpus.search(Ids(("gone-stack",))).total == 0
        assert corpus.count(Bool(must_not=(Term("status", "CREATE_COMPLETE"),))) == len(
            corpus_ids(Bool(must_not=(Term("status", "CREATE_COMPLETE"),)))
        )
        agg = corpus.aggregate(MatchAll(), {"p": TermsAgg("project_id")})
        assert sum(n for _, n in agg["p"]) == len(CORPUS)

    # -- every tree node -----------------------------------------------------------------------

    def test_match_all_and_none(self, corpus):
        self.check(corpus, MatchAll(), set(CORPUS_BY_ID))
        self.check(corpus, MatchNone(), set())

    def test_term_keyword(self, corpus):
        self.check(corpus, Term("status", "UPDATE_FAILED"), {"alpha-shop-web-1"})
        self.check(corpus, Term("status", "update_failed"), set())
        self.check(corpus, Term("tags", "infra"), {"alpha-dns", "alpha-vpn"})
        self.check(corpus, Term("tags", "été"), {"gamma-unicode"})
        self.check(
            corpus,
            Term("root_id", "beta-k8s"),
            {d["id"] for d in CORPUS if d["id"].startswith("beta-k8s")},
        )
        self.check(
            corpus,
            Term("ancestors", "beta-k8s-minions"),
            {"beta-k8s-minion-0", "beta-k8s-minion-0-vol"},
        )
        self.check(
            corpus,
            Term("path", "shop-web"),
            {"alpha-shop-web", "alpha-shop-web-0", "alpha-shop-web-1"},
        )
        self.check(corpus, Term("resource_types", "OS::Octavia::LoadBalancer"), {"beta-k8s"})
        self.check(corpus, Term("template_version", "2015-04-30"), {"alpha-old"})
        self.check(corpus, Term("parent_resource", "kube_masters"), {"beta-k8s-masters"})
        self.check(corpus, Term("files", "web.yaml"), {"gamma-env"})
        self.check(corpus, Term("id", "gamma-bare"), {"gamma-bare"})
        self.check(corpus, Term("_id", "gamma-bare"), {"gamma-bare"})  # alias  # fmt: skip

    def test_term_text_field_exact_form(self, corpus):
        self.check(corpus, Term("name", "shop"), {"alpha-shop"})
        self.check(corpus, Term("name", "web"), {"alpha-web", "beta-web"})
        self.check(corpus, Term("name", "Shop"), set())
        self.check(corpus, Term("name", "unicode-ünïcödé"), {"gamma-unicode"})
        self.check(corpus, Term("name.raw", "k8s"), {"beta-k8s"})
        reason = "Resource DELETE failed: volume in use"
        self.check(corpus, Term("status_reason", reason), {"beta-db"})

    def test_term_int_and_date(self, corpus):
        self.check(corpus, Term("depth", 3), {"beta-k8s-minion-0-vol"})
        self.check(corpus, Term("depth", 0), {d["id"] for d in CORPUS if d["depth"] == 0})
        self.check(
            corpus,
            Term("created_at", _d("2024-03-01T08:02:00Z")),
            {"alpha-shop-web-0", "alpha-shop-web-1"},
        )
        self.check(corpus, Term("updated_at", _d("2024-03-10T09:00:00Z")), {"alpha-ci"})
        self.check(corpus, Term("created_at", _d("2024-03-01T08:02:01Z")), set())  # fmt: skip

    def test_terms(self, corpus):
        self.check(
            corpus,
            Terms("status", ("CREATE_FAILED", "DELETE_FAILED", "NOPE")),
            {"alpha-lab", "beta-db"},
        )
        self.check(
            corpus, Terms("depth", (2, 3)), {d["id"] for d in CORPUS if d["depth"] in (2, 3)}
        )
        self.check(
            corpus,
            Terms("parameters.image", ("redis:7", "debian-12")),
            {"beta-cache", "gamma-template"},
        )
        self.check(corpus, Terms("tags", ()), set())  # fmt: skip

    def test_prefix(self, corpus):
        self.check(
            corpus,
            Prefix("name", "shop-w"),
            {"alpha-shop-web", "alpha-shop-web-0", "alpha-shop-web-1"},
        )
        self.check(corpus, Prefix("status", "DELETE"), {"beta-db"})
        self.check(
            corpus,
            Prefix("parameters.image", "nginx:"),
            {d["id"] for d in CORPUS if str(d["parameters"].get("image", "")).startswith("nginx:")},
        )
        self.check(corpus, Prefix("resource_types", "OS::Designate::"), {"alpha-dns"})
        self.check(corpus, Prefix("parameters.région", "Zü"), {"gamma-unicode"})
        self.check(corpus, Prefix("name", "Shop"), set())  # fmt: skip
        # a bare ``zebra*`` / ``Zebra*``: analysed words of the full text, case-insensitively
        self.check(corpus, Prefix(F.FULLTEXT, "zebra"), {"gamma-long"})
        self.check(corpus, Prefix(F.FULLTEXT, "Zebra"), {"gamma-long"})
        self.check(corpus, Wildcard(F.FULLTEXT, "zebra?inch"), {"gamma-long"})

    def test_wildcard(self, corpus):
        self.check(corpus, Wildcard("name", "shop-web-?"), {"alpha-shop-web-0", "alpha-shop-web-1"})
        self.check(corpus, Wildcard("name", "k8s-*-0"), {"beta-k8s-master-0", "beta-k8s-minion-0"})
        self.check(corpus, Wildcard("name", "*tier*"), {"gamma-app-tier", "gamma-app-tier-db"})
        self.check(
            corpus,
            Wildcard("parameters.image", "nginx:1.2?"),
            {
                d["id"]
                for d in CORPUS
                if d["parameters"].get("image") in ("nginx:1.25", "nginx:1.24")
            },
        )
        self.check(corpus, Wildcard("parameters.schedule", "0 3 \\* * *"), {"beta-batch"})
        self.check(corpus, Wildcard("parameters.schedule", "0 3 \\? * *"), set())
        self.check(corpus, Wildcard("status", "*_FAILED"), {"alpha-shop-web-1", "alpha-lab", "beta-db"})  # fmt: skip

    def test_range_dates(self, corpus):
        march = Range("created_at", gte=_d("2024-03-01T00:00:00Z"), lt=_d("2024-04-01T00:00:00Z"))
        found = self.check(corpus, march)
        assert found == {d["id"] for d in CORPUS if d["created_at"].startswith("2024-03")}
        self.check(
            corpus, Range("created_at", lt=_d("2024-01-06T00:00:00Z")), {"alpha-dns", "alpha-old"}
        )
        self.check(
            corpus,
            Range("created_at", gt=_d("2024-04-11T00:01:00Z")),
            {"gamma-app-tier-db", "gamma-bare"},
        )
        self.check(
            corpus,
            Range("created_at", gte=_d("2024-04-11T00:01:00Z"), lte=_d("2024-04-11T00:02:00Z")),
            {"gamma-app-tier", "gamma-app-tier-db"},
        )
        self.check(
            corpus,
            Range("updated_at", gte=_d("2024-03-05T08:00:00Z")),
            {"alpha-shop", "alpha-shop-web", "alpha-shop-web-1", "alpha-ci"},
        )
        self.check(corpus, Range("created_at", gt=_d("2030-01-01T00:00:00Z")), set())  # fmt: skip

    def test_range_ints(self, corpus):
        self.check(corpus, Range("depth", gte=2), {d["id"] for d in CORPUS if d["depth"] >= 2})
        self.check(corpus, Range("depth", gt=0, lt=2), {d["id"] for d in CORPUS if d["depth"] == 1})
        self.check(corpus, Range("depth", lte=0), {d["id"] for d in CORPUS if d["depth"] == 0})
        self.check(corpus, Range("depth", gt=3), set())
        self.check(corpus, Range("version", gte=39), {CORPUS[38]["id"], CORPUS[39]["id"]})

    def test_range_keyword_text(self, corpus):
        self.check(
            corpus,
            Range("status", gte="D", lt="T"),
            {d["id"] for d in CORPUS if "D" <= d["status"] < "T"},
        )
        self.check(
            corpus, Range("name", gt="u"), {"gamma-unicode", "alpha-vpn", "alpha-web", "beta-web"}
        )
        self.check(corpus, Range("name", lte="app"), {"gamma-app"})
        self.check(
            corpus,
            Range("parameters.image", gte="p", lt="s"),
            {"beta-batch", "beta-monitor", "alpha-shop-db", "beta-cache", "beta-queue"},
        )
        self.check(corpus, Range("parameters.count", gte="2", lte="3"), {"alpha-shop-web", "gamma-numbers"})  # fmt: skip
        # bounds no term can hold (a lone surrogate) still compare by code point
        self.check(corpus, Range("name", gt="u\udfff"), {"alpha-vpn", "alpha-web", "beta-web"})
        self.check(corpus, Range("name", gte="unicode-\ud800", lte="v\ud800"), {"alpha-vpn"})
        found = self.check(corpus, Range("parameters.image", gt="nginx\ud800", lt="p\udbff"))
        assert found == {"alpha-shop-db", "beta-monitor", "beta-batch"}
        self.check(corpus, Range("status", gte="UPDATE_\udfff"), set())
        # bounds sharing a long prefix, prefixes of each other, equal, crossed, empty
        self.check(corpus, Range("name", gte="shop-web", lte="shop-web-0"),
                   {"alpha-shop-web", "alpha-shop-web-0"})
        self.check(corpus, Range("name", gt="shop-web", lt="shop-web-1"), {"alpha-shop-web-0"})
        self.check(corpus, Range("name", gte="web", lte="web"), {"alpha-web", "beta-web"})
        self.check(corpus, Range("name", gt="web", lte="web"), set())
        self.check(corpus, Range("name", gte="z", lte="a"), set())
        self.check(corpus, Range("name", gte="", lt="b"),
                   {"gamma-app", "gamma-app-tier", "gamma-app-tier-db"})
        self.check(corpus, Range("name", gte="", lte="b\U0010ffff"),
                   {"gamma-app", "gamma-app-tier", "gamma-app-tier-db", "beta-batch",
                    "gamma-bare"})
        self.check(corpus, Range("id", gt="beta-k8s-m", lt="beta-k8s-minion-0-vol"),
                   {"beta-k8s-master-0", "beta-k8s-master-1", "beta-k8s-master-2",
                    "beta-k8s-masters", "beta-k8s-minion-0"})

    def test_exists(self, corpus):
        self.check(corpus, Exists("updated_at"), {d["id"] for d in CORPUS if d["updated_at"]})
        self.check(corpus, Exists("tags"), {d["id"] for d in CORPUS if d["tags"]})
        self.check(corpus, Exists("parent_id"), {d["id"] for d in CORPUS if d["parent_id"]})
        self.check(
            corpus, Exists("parent_resource"), {d["id"] for d in CORPUS if d["parent_resource"]}
        )
        self.check(
            corpus,
            Exists("parameters.image"),
            {d["id"] for d in CORPUS if "image" in d["parameters"]},
        )
        self.check(corpus, Exists("parameters.a.b"), {"gamma-dotted", "gamma-nested"})
        self.check(corpus, Exists("parameters.a"), {"gamma-dotted", "gamma-nested"})
        self.check(corpus, Exists("parameters.config.log"), {"gamma-nested"})
        self.check(corpus, Exists("parameters.key_name"), {"gamma-null"})
        self.check(corpus, Exists("environment.resource_registry.OS::Gamma::Web"), {"gamma-env"})
        self.check(corpus, Exists("outputs.error"), {"alpha-shop", "gamma-outputs"})
        self.check(corpus, Exists("parameters.nope"), set())
        self.check(corpus, Exists("deleted_at"), set())  # fmt: skip

    def test_ids(self, corpus):
        self.check(corpus, Ids(("gamma-bare", "beta-db", "no-such")), {"gamma-bare", "beta-db"})
        self.check(corpus, Ids(()), set())

    def test_text_anywhere(self, corpus):
        self.check(corpus, Text(None, "quota"), {"alpha-shop-web-1"})
        self.check(corpus, Text(None, "Kubernetes"), {"beta-k8s"})
        self.check(corpus, Text(None, "zebrafinch"), {"gamma-long"})  # beyond MAX_VALUE_CHARS
        self.check(corpus, Text(None, "zürich"), {"gamma-unicode"})
        self.check(corpus, Text(None, "quota instances"), {"alpha-shop-web-1"})
        self.check(corpus, Text(None, "quota kubernetes"), set())
        self.check(
            corpus, Text(None, "quota kubernetes", operator="or"), {"alpha-shop-web-1", "beta-k8s"}
        )
        self.check(corpus, Text(None, "15d"), {"beta-monitor"})  # a parameter value
        self.check(corpus, Text(None, "retention"), {"beta-monitor"})  # a parameter key
        self.check(corpus, Text(None, "!!!"), set())  # fmt: skip

    def test_text_field(self, corpus):
        self.check(corpus, Text("description", "kubernetes cluster"), {"beta-k8s"})
        self.check(corpus, Text("description", "kubernetes shop"), set())
        self.check(
            corpus,
            Text("description", "kubernetes shop", operator="or"),
            {"beta-k8s", "alpha-shop"},
        )
        self.check(
            corpus, Text("status_reason", "FAILED"), {"alpha-shop-web-1", "alpha-lab", "beta-db"}
        )
        self.check(
            corpus, Text("name", "shop"), {d["id"] for d in CORPUS if d["name"].startswith("shop")}
        )
        self.check(corpus, Text("name", "minion"), {"beta-k8s-minion-0", "beta-k8s-minion-0-vol"})
        self.check(corpus, Text("description", "quota"), set())  # fmt: skip

    def test_phrase(self, corpus):
        self.check(corpus, Phrase("description", "web shop"), {"alpha-shop"})
        self.check(corpus, Phrase("description", "shop web"), set())
        self.check(corpus, Phrase(None, "quota exceeded"), {"alpha-shop-web-1"})
        self.check(corpus, Phrase(None, "exceeded quota"), set())
        self.check(
            corpus, Phrase("name", "minion 0"), {"beta-k8s-minion-0", "beta-k8s-minion-0-vol"}
        )

    def test_text_on_keyword_and_dynamic_is_exact(self, corpus):
        self.check(corpus, Text("status", "UPDATE_FAILED"), {"alpha-shop-web-1"})
        self.check(corpus, Text("status", "update failed"), set())
        self.check(corpus, Phrase("status", "UPDATE_FAILED"), {"alpha-shop-web-1"})
        self.check(corpus, Text("parameters.image", "redis:7"), {"beta-cache"})
        self.check(corpus, Text("parameters.image", "redis"), set())
        self.check(corpus, Phrase("parameters.schedule", "0 3 * * *"), {"beta-batch"})
        self.check(corpus, Text("depth", "3"), {"beta-k8s-minion-0-vol"})

    def test_bool(self, corpus):
        prod, web = Term("tags", "prod"), Term("tags", "web")
        both = {d["id"] for d in CORPUS if {"prod", "web"} <= set(d["tags"])}
        either = {d["id"] for d in CORPUS if {"prod", "web"} & set(d["tags"])}
        self.check(corpus, Bool(must=(prod, web)), both)
        self.check(corpus, Bool(filter=(prod, web)), both)
        self.check(corpus, Bool(should=(prod, web)), either)  # ES: should-only needs one
        self.check(corpus, Bool(should=(prod, web), minimum_should_match=2), both)
        self.check(corpus, Bool(should=(prod, web), minimum_should_match=3), set())
        self.check(corpus, Bool(should=(prod, web), minimum_should_match=0), set(CORPUS_BY_ID))
        # with must/filter, should is optional
        alpha = Term("project_id", "p-alpha")
        self.check(corpus, Bool(must=(alpha,), should=(prod,)), corpus_ids(alpha))
        self.check(corpus, Bool(filter=(alpha,), should=(prod,)), corpus_ids(alpha))
        self.check(
            corpus,
            Bool(filter=(alpha,), should=(prod, web), minimum_should_match=1),
            corpus_ids(alpha) & either,
        )
        self.check(corpus, Bool(must_not=(prod,)), set(CORPUS_BY_ID) - corpus_ids(prod))
        self.check(corpus, Bool(must=(alpha,), must_not=(prod, web)), corpus_ids(alpha) - either)
        self.check(corpus, Bool(), set(CORPUS_BY_ID))
        self.check(corpus, Bool(must=(MatchNone(),), should=(prod,)), set())  # fmt: skip

    def test_nested_bool(self, corpus):
        tree = Bool(
            filter=(Terms("project_id", ("p-alpha", "p-beta")),),
            must=(
                Bool(
                    should=(
                        Term("status", "UPDATE_FAILED"),
                        Bool(must=(Term("tags", "prod"), Range("depth", gte=1))),
                    )
                ),
            ),
            must_not=(Bool(should=(Term("parameters.image", "fedora-coreos-39"),)),),
        )
        self.check(corpus, tree, {"alpha-shop-web", "alpha-shop-web-1"})
        scoped = Bool(filter=(Term("project_id", "p-gamma"),), must=(Text(None, "deep"),))
        self.check(corpus, scoped, {"gamma-nested"})

    # -- dynamic paths -------------------------------------------------------------------------

    def test_dynamic_exact_values(self, corpus):
        nginx = {d["id"] for d in CORPUS if d["parameters"].get("image") == "nginx:1.25"}
        assert len(nginx) == 5
        self.check(corpus, Term("parameters.image", "nginx:1.25"), nginx)
        self.check(corpus, Term("parameters.image", "nginx"), set())
        self.check(corpus, Term("parameters.image", "NGINX:1.25"), set())
        self.check(corpus, Term("resources.type", "OS::Trove::Instance"), {"gamma-app-tier-db"})
        self.check(
            corpus,
            Term("resources.nested_stack_id", "beta-k8s-minion-0-vol"),
            {"beta-k8s-minion-0"},
        )
        self.check(corpus, Term("outputs.value", "http://203.0.113.10:8080/"), {"gamma-outputs"})
        self.check(corpus, Term("outputs.value", "10.0.0.6"), {"gamma-outputs"})
        self.check(corpus, Term("outputs.key", "url"), {"alpha-shop", "gamma-outputs"})
        self.check(
            corpus,
            Term("template.resources.server.properties.flavor", "m1.large"),
            {"gamma-template"},
        )
        self.check(
            corpus,
            Term("template.resources.server.properties.image.get_param", "image"),
            {"gamma-template"},
        )
        self.check(corpus, Term("environment.parameter_defaults.key_name", "ops"), {"gamma-env"})
        self.check(corpus, Term("parameters.flavor", "m1.tiny"), set())  # environment, not parameters  # fmt: skip

    def test_dynamic_numbers_compare_as_text(self, corpus):
        self.check(corpus, Term("parameters.count", 3), {"gamma-numbers"})
        self.check(corpus, Term("parameters.count", "3"), {"gamma-numbers"})
        self.check(corpus, Term("parameters.count_str", 3), {"gamma-numbers"})
        self.check(corpus, Term("parameters.ratio", 0.5), {"gamma-null"})
        self.check(corpus, Term("parameters.ratio", "0.5"), {"gamma-null"})
        self.check(corpus, Term("parameters.replicas", 3), {"alpha-shop"})
        self.check(corpus, Term("parameters.debug", True), {"gamma-null"})
        self.check(corpus, Term("parameters.debug", "true"), {"gamma-null"})
        # text order: "10" < "3"
        self.check(corpus, Range("parameters.big", lt="3"), {"gamma-numbers"})

    def test_dynamic_dotted_keys(self, corpus):
        self.check(corpus, Term("parameters.a.b", 1), {"gamma-dotted", "gamma-nested"})
        self.check(corpus, Term("parameters.a.b", "1"), {"gamma-dotted", "gamma-nested"})
        self.check(corpus, Term("parameters.a.c", "deep"), {"gamma-nested"})
        self.check(corpus, Term("parameters.config.log.level", "debug"), {"gamma-nested"})

    def test_dynamic_unicode(self, corpus):
        self.check(corpus, Term("parameters.région", "Zürich"), {"gamma-unicode"})
        self.check(corpus, Term("parameters.名前", "東京タワー"), {"gamma-unicode"})
        self.check(corpus, Prefix("parameters.名前", "東京"), {"gamma-unicode"})
        self.check(corpus, Wildcard("parameters.名前", "*タ?ー"), {"gamma-unicode"})

    def test_dynamic_long_value(self, corpus):
        assert len(LONG_VALUE) > F.MAX_VALUE_CHARS
        self.check(corpus, Term("parameters.blob", LONG_VALUE[: F.MAX_VALUE_CHARS]), {"gamma-long"})
        self.check(corpus, Prefix("parameters.blob", "lorem ipsum"), {"gamma-long"})
        self.check(corpus, Text(None, "zebrafinch"), {"gamma-long"})

    def test_dynamic_lists_and_null(self, corpus):
        self.check(corpus, Term("parameters.ports", 443), {"gamma-lists"})
        self.check(corpus, Term("parameters.ports", "80"), {"gamma-lists"})
        self.check(corpus, Terms("parameters.zones", ("az2", "az9")), {"gamma-lists"})
        self.check(corpus, Term("parameters.key_name", "null"), {"gamma-null"})
        self.check(corpus, Term("outputs.error", "null"), {"alpha-shop", "gamma-outputs"})

    # -- sorting and paging --------------------------------------------------------------------

    def assert_sorted(self, engine: Engine, node: Node, sort: list[SortKey]) -> list[str]:
        total, expected = reference_search(CORPUS, node, sort, 0, 100)
        result = engine.search(node, sort=sort, limit=100)
        assert (result.total, ids(result)) == (total, expected), sort
        assert page_of(result) == reference_page(CORPUS, node, sort, 0, 100), sort
        return expected

    def test_sort_keyword_text_date_int(self, corpus):
        for field in ("status", "name", "created_at", "depth", "project_id", "id", "path"):
            for descending in (False, True):
                self.assert_sorted(corpus, MatchAll(), [SortKey(field, descending)])
        by_name = self.assert_sorted(corpus, MatchAll(), [SortKey("name")])
        assert by_name.index("alpha-web") + 1 == by_name.index("beta-web")  # tie: by id
        by_created = self.assert_sorted(corpus, MatchAll(), [SortKey("created_at", True)])
        assert by_created[:4] == ["gamma-bare", "gamma-app-tier-db", "gamma-app-tier", "gamma-app"]

    def test_sort_missing_values_last(self, corpus):
        with_updates = {d["id"] for d in CORPUS if d["updated_at"]}
        for descending in (False, True):
            order = self.assert_sorted(corpus, MatchAll(), [SortKey("updated_at", descending)])
            assert set(order[: len(with_updates)]) == with_updates
            rest = order[len(with_updates) :]
            assert rest == sorted(rest)
        order = self.assert_sorted(corpus, MatchAll(), [SortKey("tags", True)])
        untagged = sorted(d["id"] for d in CORPUS if not d["tags"])
        assert order[-len(untagged) :] == untagged

    def test_sort_lists_by_min_and_max(self, corpus):
        asc = self.assert_sorted(corpus, Exists("tags"), [SortKey("tags")])
        desc = self.assert_sorted(corpus, Exists("tags"), [SortKey("tags", True)])
        assert asc[0] == "gamma-app"  # "app"
        assert desc[0] == "gamma-unicode"  # "été" sorts after every ASCII tag

    def test_sort_several_keys(self, corpus):
        self.assert_sorted(corpus, MatchAll(), [SortKey("depth", True), SortKey("name")])
        self.assert_sorted(
            corpus,
            MatchAll(),
            [SortKey("project_id"), SortKey("status", True), SortKey("created_at")],
        )
        self.assert_sorted(corpus, MatchAll(), [SortKey("updated_at"), SortKey("root_id", True)])
        self.assert_sorted(corpus, Term("tags", "prod"), [SortKey("tags"), SortKey("depth", True)])  # fmt: skip

    def test_paging_is_stable(self, corpus):
        for sort in ([SortKey("status")], [SortKey("updated_at", True)], []):
            pages = []
            for offset in range(0, 45, 7):
                result = corpus.search(MatchAll(), sort=sort, offset=offset, limit=7)
                assert result.total == len(CORPUS)
                pages.extend(ids(result))
            assert len(pages) == len(CORPUS) == len(set(pages))
            if sort:
                assert pages == reference_search(CORPUS, MatchAll(), sort, 0, 100)[1]
            else:
                assert pages == sorted(pages)

    def test_total_is_exact_whatever_the_limit(self, corpus):
        node = Term("project_id", "p-beta")
        expected = len(corpus_ids(node))
        for limit, offset in ((1, 0), (3, 5), (100, 0), (5, 100), (0, 0)):
            result = corpus.search(node, limit=limit, offset=offset)
            assert result.total == expected
            assert len(result.hits) == max(0, min(limit, expected - offset))

    def test_default_order_score_then_id(self, corpus):
        # constant scores: id order
        node = Term("project_id", "p-gamma")
        assert ids(corpus.search(node, limit=100)) == sorted(corpus_ids(node))
        # scored: best first, equal scores by id
        result = corpus.search(Text(None, "nginx shop web", operator="or"), limit=100)
        assert result.total == len(result.hits) > 3
        keys = [(-hit.score, hit.id) for hit in result.hits]
        assert keys == sorted(keys)
        assert result.max_score == result.hits[0].score
        # paging through score order gives the same sequence
        paged = []
        for offset in range(0, result.total, 2):
            page = corpus.search(
                Text(None, "nginx shop web", operator="or"), offset=offset, limit=2
            )
            paged.extend(ids(page))
        assert paged == ids(result)

    def test_sort_by_score_key(self, corpus):
        score = SortKey("_score", descending=True)
        # a tree without full text: every match scores the same, _score orders nothing
        node = Term("project_id", "p-beta")
        for sort in ([score], [score, SortKey("name")], [SortKey("status"), score]):
            self.assert_sorted(corpus, node, sort)
        # with full text: _score first is the default order
        text = Text(None, "nginx shop web", operator="or")
        default = corpus.search(text, limit=100)
        by_score = corpus.search(text, sort=[score], limit=100)
        assert [(h.id, h.score) for h in by_score.hits] == [(h.id, h.score) for h in default.hits]
        # ties on score ordered by the next key, then by id
        result = corpus.search(text, sort=[score, SortKey("name", True)], limit=100)
        keys = [(-h.score, _Desc(h.source["name"]), h.id) for h in result.hits]
        assert keys == sorted(keys) and len(keys) == default.total
        # score as a later key: within each project, best first
        result = corpus.search(text, sort=[SortKey("project_id"), score], limit=100)
        keys = [(h.source["project_id"], -h.score, h.id) for h in result.hits]
        assert keys == sorted(keys) and len(keys) == default.total
        scores = {h.id: h.score for h in default.hits}
        assert all(h.score == scores[h.id] for h in result.hits)
        paged = []
        for offset in range(0, default.total, 3):
            page = corpus.search(text, sort=[SortKey("project_id"), score], offset=offset, limit=3)
            paged.extend(ids(page))
        assert paged == ids(result)

    def test_fields_filter_source(self, corpus):
        result = corpus.search(Ids(("alpha-shop",)), fields=["name", "status", "nope"])
        hit = result.hits[0]
        assert hit.source == {"name": "shop", "status": "CREATE_COMPLETE"}
        assert (hit.id, hit.version) == ("alpha-shop", CORPUS_BY_ID["alpha-shop"]["version"])
        full = corpus.search(Ids(("alpha-shop",))).hits[0]
        assert full.source == CORPUS_BY_ID["alpha-shop"]

    # -- count and aggregations ----------------------------------------------------------------

    def test_count(self, corpus):
        assert corpus.count(MatchAll()) == len(CORPUS)
        assert corpus.count(Term("tags", "prod")) == len(corpus_ids(Term("tags", "prod")))
        assert corpus.count(MatchNone()) == 0

    def test_aggregate_terms(self, corpus):
        aggs = {
            "status": TermsAgg("status"),
            "tags": TermsAgg("tags", size=3),
            "types": TermsAgg("resource_types", size=4),
            "projects": TermsAgg("project_id"),
            "roots": TermsAgg("root_id", size=2),
            "hot": TermsAgg("template_version", size=1),
        }
        got = corpus.aggregate(MatchAll(), aggs)
        assert got == reference_aggregate(CORPUS, MatchAll(), aggs)
        assert got["projects"] == [("p-beta", 14), ("p-gamma", 14), ("p-alpha", 12)]
        assert got["roots"] == [("beta-k8s", 8), ("alpha-shop", 5)]

    def test_count_distinct(self, corpus):
        def reference(node: Node, field: str) -> int:
            return len(reference_aggregate(CORPUS, node, {"a": TermsAgg(field, 10**6)})["a"])

        beta = Term("project_id", "p-beta")
        nested = Bool(must_not=(Term("depth", 0),))
        for node in (MatchAll(), beta, nested, Term("tags", "prod")):
            for field in ("root_id", "project_id", "tags", "status", "name"):
                assert corpus.count_distinct(node, field) == reference(node, field), (node, field)
        assert corpus.count_distinct(MatchAll(), "root_id") > 2
        assert corpus.count_distinct(MatchNone(), "root_id") == 0

    def test_aggregate_respects_query_and_ties(self, corpus):
        node = Bool(filter=(Term("project_id", "p-beta"),), must_not=(Term("depth", 0),))
        aggs = {"status": TermsAgg("status"), "tags": TermsAgg("tags", 5)}
        assert corpus.aggregate(node, aggs) == reference_aggregate(CORPUS, node, aggs)
        # ties by value: six stacks of p-gamma have one distinct name each
        names = corpus.aggregate(Term("project_id", "p-gamma"), {"n": TermsAgg("name", size=3)})
        assert names == {"n": [("app", 1), ("app-tier", 1), ("app-tier-db", 1)]}
        assert corpus.aggregate(MatchNone(), {"s": TermsAgg("status")}) == {"s": []}

    # -- rebuild -------------------------------------------------------------------------------

    def test_rebuild_replaces_the_index(self, engine):
        engine.upsert([(make_doc("old-1", tags=["old"]), 1), (make_doc("old-2"), 1)])
        engine.delete([("old-gone", 3)])
        engine.commit()
        items = [(make_doc("new-1", tags=["new"]), "new-1", 4), (None, "new-gone", 6)]
        items += [(make_doc(f"new-{i}"), f"new-{i}", 1) for i in range(2, 12)]
        assert engine.rebuild(iter(items)) == len(items)
        assert engine.count(MatchAll()) == 11
        assert engine.count(Term("tags", "old")) == 0
        assert ids(engine.search(Term("tags", "new"))) == ["new-1"]
        assert engine.get("old-1") is None and engine.get_version("old-1") is None
        assert engine.get_version("old-gone") is None
        assert engine.get("new-1") == (make_doc("new-1", tags=["new"]), 4)
        assert engine.get_version("new-gone") == (6, True)
        # writes after a rebuild see its versions and tombstones
        assert engine.upsert([(make_doc("new-gone"), 99)]).ignored == 1
        assert engine.upsert([(make_doc("new-1"), 4)]).ignored == 1
        assert engine.upsert([(make_doc("new-1", tags=["newer"]), 5)]).applied == 1
        engine.commit()
        assert ids(engine.search(Term("tags", "newer"))) == ["new-1"]

    def test_rebuild_then_reopen(self, tmp_path):
        engine = self.make_engine(tmp_path)
        engine.upsert([(make_doc("before"), 1)])
        engine.commit()
        engine.rebuild([(make_doc("after"), "after", 2), (None, "dead", 3)])
        engine = self.reopen(engine, tmp_path)
        try:
            assert ids(engine.search(MatchAll())) == ["after"]
            assert engine.get_version("dead") == (3, True)
            assert engine.get_version("before") is None
        finally:
            engine.close()

    def test_rebuild_empty(self, engine):
        engine.upsert([(make_doc("s1"), 1)])
        engine.commit()
        assert engine.rebuild([]) == 0
        assert engine.count(MatchAll()) == 0
        assert engine.health()["documents"] == 0

    # -- the checkpoint ------------------------------------------------------------------------
    # ``projection.Projector`` stores the store sequence it projected up to with each commit:
    # ``commit(checkpoint=n)``, ``rebuild(items, checkpoint=n)``, ``checkpoint()``. (base.py does
    # not declare these yet.)

    def test_checkpoint_commits_with_the_writes(self, tmp_path):
        engine: Any = self.make_engine(tmp_path)  # Any: base.Engine lacks the checkpoint methods
        assert engine.checkpoint() == 0
        engine.upsert([(make_doc("s1"), 1)])
        engine.commit(checkpoint=5)
        assert engine.checkpoint() == 5
        engine.upsert([(make_doc("s2"), 1)])
        engine.commit()  # no checkpoint given: the last one stays
        assert engine.checkpoint() == 5
        engine.commit(checkpoint=7)
        # the checkpoint is invisible to everything else
        assert engine.count(MatchAll()) == 2
        assert ids(engine.search(MatchAll())) == ["s1", "s2"]
        assert engine.health()["documents"] == 2
        engine = self.reopen(engine, tmp_path)
        try:
            assert engine.checkpoint() == 7
            engine.rebuild([(make_doc("s3"), "s3", 1)], checkpoint=11)
            assert engine.checkpoint() == 11
            assert ids(engine.search(MatchAll())) == ["s3"]
            engine.rebuild([])
            assert engine.checkpoint() == 0
        finally:
            engine.close()

    # -- health --------------------------------------------------------------------------------

    def test_health(self, engine):
        health = engine.health()
        assert health["ok"] is True and health["engine"] == engine.name
        assert health["documents"] == 0
        engine.upsert([(make_doc("s1"), 1), (make_doc("s2"), 1)])
        engine.delete([("s2", 2)])
        engine.commit()
        health = engine.health()
        assert (health["ok"], health["documents"]) == (True, 1)

    # -- the property: engine == reference evaluator -------------------------------------------

    def test_matches_reference_evaluator(self, tmp_path_factory):
        engine = self.make_engine(tmp_path_factory.mktemp("property"))
        counter = itertools.count()
        previous: list[str] = []

        @settings(
            max_examples=self.property_examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(scenario=_SCENARIOS)
        def run(scenario):
            prefix = f"ex{next(counter)}-"
            docs = [{**doc, "id": prefix + doc["id"]} for doc in scenario["docs"]]
            # each example starts from an engine whose earlier stacks are all tombstones
            if previous:
                engine.delete([(sid, 1) for sid in previous])
            previous[:] = [doc["id"] for doc in docs]
            engine.upsert((copy.deepcopy(doc), 1) for doc in docs)
            engine.commit()
            tree, sort = _prefix_ids(scenario["tree"], prefix), scenario["sort"]
            offset, limit = scenario["offset"], scenario["limit"]
            total, expected = reference_search(docs, tree, sort, offset, limit)
            assert engine.count(tree) == total
            result = engine.search(tree, sort=sort, offset=offset, limit=limit)
            assert (result.total, ids(result)) == (total, expected)
            # scores, score order and max_score too: coordination scores are exact
            assert page_of(result) == reference_page(docs, tree, sort, offset, limit)
            result = engine.search(tree, limit=100)
            assert page_of(result) == reference_page(docs, tree, (), 0, 100)
            aggs = {"s": TermsAgg("status", size=2), "t": TermsAgg("tags", size=3)}
            assert engine.aggregate(tree, aggs) == reference_aggregate(docs, tree, aggs)

        try:
            run()
        finally:
            engine.close()

    # -- noninterference: what a caller gets depends only on what the caller may see ----------

    isolation_examples = 300

    def test_noninterference(self, tmp_path_factory):
        """Two indexes hold the caller's stacks identically and differ only in other projects'
        stacks (5 against 260, the same words, ids sharing the caller's prefixes, tombstones):
        every scoped query (wrapped by ``query/scope.py`` itself) answers the same hits, scores,
        order, max_score, totals, counts and buckets on both, and what the reference evaluator
        answers over the caller's stacks alone. So no score, order, error or count can tell a
        caller anything about other projects (issue #11: BM25 statistics, range term caps)."""
        shared, few, many, tombstones = isolation_corpora()
        small = self.make_engine(tmp_path_factory.mktemp("isolation-small"))
        big = self.make_engine(tmp_path_factory.mktemp("isolation-big"))
        try:
            small.upsert((copy.deepcopy(d), 3) for d in shared)
            small.upsert((copy.deepcopy(d), 1) for d in few)
            small.commit()
            # the large one: other orders of writes, several commits, tombstones
            big.upsert((copy.deepcopy(d), 1) for d in many[:130])
            big.commit()
            big.upsert((copy.deepcopy(d), 3) for d in reversed(shared))
            big.delete((sid, 2) for sid in tombstones)
            big.commit()
            big.upsert((copy.deepcopy(d), 1) for d in many[130:])
            big.delete((d["id"], 2) for d in many[::9])
            big.commit()
            everyone = [d["id"] for d in shared + few + many] + tombstones
            self._noninterference(small, big, shared, everyone)
        finally:
            small.close()
            big.close()

    def _noninterference(
        self, small: Engine, big: Engine, shared: list[dict], everyone: list[str]
    ) -> None:
        aggs = {"s": TermsAgg("status", size=2), "t": TermsAgg("tags", size=3),
                "n": TermsAgg("name", size=4), "r": TermsAgg("root_id", size=5)}

        @settings(
            max_examples=self.isolation_examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(case=_isolation_queries(everyone))
        @example(case={"tree": Text(None, "web db", operator="or"), "projects": _ME, "sort": [],
                       "offset": 0, "limit": 10, "after": None})
        @example(case={"tree": Phrase("description", "web server"), "projects": _ME,
                       "sort": [SortKey("status"), SCORE], "offset": 1, "limit": 5,
                       "after": "stack-0003"})
        def run(case):
            tree = case["tree"]
            sort = case["sort"]
            if case["after"] is not None:  # search_after: a range on the id after the last hit
                tree = Bool(must=(tree,), filter=(Range("id", gt=case["after"]),))
                sort = [*sort, SortKey("id")]
            q = scope(tree, case["projects"])
            offset, limit = case["offset"], case["limit"]
            answers = []
            for engine in (small, big):
                page = engine.search(q, sort=sort, offset=offset, limit=limit)
                first = engine.search(q, limit=100)
                answers.append((
                    page_of(page), [(h.version, h.source) for h in page.hits], page_of(first),
                    engine.count(q), engine.count_distinct(q, "root_id"), engine.aggregate(q, aggs),
                ))
            assert answers[0] == answers[1]
            want = reference_page(shared, q, sort, offset, limit)
            assert answers[0][0] == want
            assert answers[0][2] == reference_page(shared, q, (), 0, 100)
            assert answers[0][5] == reference_aggregate(shared, q, aggs)

        run()



__all__ = [
    "CORPUS",
    "EngineConformance",
    "build_corpus",
    "make_doc",
    "matches",
    "reference_aggregate",
    "reference_order",
    "reference_search",
]
