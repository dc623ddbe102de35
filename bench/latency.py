"""2. Query latency at scale: a fixed query mix through heatseeker's query layer, and the same
queries built by hand against tantivy (the baseline), on the index the indexing benchmark built.

heatseeker: ``querystring.parse`` → ``Searcher`` with a ``Visibility`` (a member of the largest
project, admin-only fields hidden; or a cloud admin for the all-project questions) → the tantivy
engine; every result page holds the top 20 with full sources and the exact total, as the API
returns them.

raw: the same questions as tantivy queries written by hand against the same index (its ``_kv``,
``_all``, ``__raw`` fields, the project filter and the tombstone filter added by hand), top 20 with
the stored JSON decoded, the exact count. Facets are one tantivy ``aggregate`` call, roll-up a terms
aggregation on ``root_id`` and a fetch of the roots. Answers are compared (totals, and the ids of the
page when both order by id): a benchmark that does not answer the same question measures nothing.

Each query cycles through 12 parameter values (images, words, ids …); the two sides alternate who
runs first. Runs in its own process (``--phase``) per size.
"""

from __future__ import annotations

import cProfile
import json
import os
import random
import sqlite3
import time
from collections.abc import Callable

from bench import common
from bench.generate import FLAVORS, IMAGES, TYPES, WORDS
from heatseeker.searcher import ROLLUP_TOTAL_BOUND

TARGET_P99_MS = 20.0
TARGET_OVERHEAD = 2.0
LIMIT = 20
VALUES = 12
FACET_FIELDS = ("status", "action", "state", "tags", "resource_types", "template_version")


def _samples(store_path: str, seed: int) -> dict:
    """Real values from the indexed documents: the largest project, physical ids, roots with
    failed descendants, name prefixes."""
    db = sqlite3.connect(store_path)
    top = db.execute(
        "SELECT project_id, COUNT(*) c FROM stacks GROUP BY project_id ORDER BY c DESC LIMIT 1"
    ).fetchone()
    n = db.execute("SELECT COUNT(*) FROM stacks").fetchone()[0]
    rng = random.Random(seed)
    phys: list[str] = []
    fail_roots: list[str] = []
    nested_roots: list[str] = []
    step = max(1, n // 4000)
    from heatseeker.record import Store

    sampled = [sid for (sid,) in db.execute("SELECT id FROM stacks WHERE seq % ? = 0", (step,))]
    records = Store(store_path, create=False).get_many(sampled)  # parts joined (record/contents.py)
    for sid in sampled:
        doc = records[sid].doc
        if doc["resources"] and len(phys) < 200:
            phys.append(rng.choice(doc["resources"])["physical_resource_id"])
        if doc["depth"] > 0:
            nested_roots.append(doc["root_id"])
            if doc["state"] == "FAILED":
                fail_roots.append(doc["root_id"])
    roots = list(dict.fromkeys(fail_roots + nested_roots))[:VALUES]
    return {
        "project": top[0],
        "project_stacks": top[1],
        "stacks": n,
        "physical_ids": rng.sample(phys, min(VALUES, len(phys))),
        "fail_roots": roots,
    }


def _queries(s: dict) -> list[dict]:
    """The mix: name, query-string template, values, who asks, extra options."""
    images = list(IMAGES[:VALUES])
    return [
        {"name": "term filters", "q": "status:{v} AND tags:prod",
         "values": ["UPDATE_COMPLETE", "CREATE_COMPLETE", "CREATE_FAILED", "UPDATE_FAILED"] * 3,
         "view": "project"},
        {"name": "full text, one word", "q": "{v}", "values": list(WORDS[:VALUES]),
         "view": "project"},
        {"name": "nested path", "q": "template.resources.server.properties.flavor:{v}",
         "values": (list(FLAVORS) * 2)[:VALUES], "view": "project"},
        {"name": "parameter value (all projects)", "q": "parameters.image:{v}", "values": images,
         "view": "admin"},
        {"name": "resource type", "q": "resources.type:{v}",
         "values": [t for t, _ in TYPES][:VALUES], "view": "project"},
        {"name": "name prefix", "q": "name:{v}*",
         "values": ["web", "api", "db", "cache", "queue", "search", "billing", "auth", "media",
                    "etl", "ml", "gateway"], "view": "project"},
        {"name": "bool + sort", "q": "(status:CREATE_COMPLETE OR status:UPDATE_COMPLETE) AND "
         "parameters.flavor:{v} AND NOT tags:legacy", "values": (list(FLAVORS) * 2)[:VALUES],
         "view": "project", "sort": "updated_at"},
        {"name": "facets", "q": "", "values": [""] * VALUES, "view": "project", "facets": True},
        {"name": "roll-up to roots", "q": "resources.type:{v}",
         "values": ["OS::Heat::ResourceGroup", "My::Server", "OS::Heat::AutoScalingGroup",
                    "My::Tier", "OS::Heat::Stack", "OS::Nova::Server", "OS::Cinder::Volume",
                    "OS::Neutron::Port", "OS::Aodh::Alarm", "OS::Swift::Container",
                    "OS::Nova::KeyPair", "OS::Octavia::Pool"], "view": "project", "rollup": True},
        {"name": "physical resource id (all projects)", "q": "resources.physical_resource_id:{v}",
         "values": s["physical_ids"], "view": "admin"},
        {"name": "failed under a root (all projects)", "q": "status:*_FAILED",
         "values": s["fail_roots"], "view": "admin", "under": True},
    ]  # fmt: skip


class _Heatseeker:
    """The questions through heatseeker's layer."""

    def __init__(self, engine, project: str):
        from heatseeker.api.facets import facets
        from heatseeker.query.fields import ADMIN_ONLY_DEFAULT
        from heatseeker.query.querystring import parse
        from heatseeker.query.tree import SortKey
        from heatseeker.query.visibility import Visibility
        from heatseeker.searcher import Searcher

        self.searcher = Searcher(engine)
        self.parse, self.facets, self.SortKey = parse, facets, SortKey
        self.views = {
            "project": Visibility(frozenset({project}), frozenset(ADMIN_ONLY_DEFAULT)),
            "admin": Visibility.everything(),
        }

    def run(self, spec: dict, value: str) -> tuple[int, list[str]]:
        view = self.views[spec["view"]]
        if spec.get("facets"):
            body = self.facets(self.searcher, view)
            return body["doc_count"], []
        node = self.parse(spec["q"].format(v=value))
        if spec.get("rollup"):
            res = self.searcher.search_roots(node, view=view, limit=LIMIT)
            return res.total, [r.root_id for r in res.roots]
        sort = (self.SortKey(spec["sort"], descending=True),) if spec.get("sort") else ()
        found = self.searcher.search(node, view=view, sort=sort, limit=LIMIT,
                                     subtree=value if spec.get("under") else None)  # fmt: skip
        return found.total, [h.id for h in found.hits]


class _Raw:
    """The same questions as tantivy queries written by hand on heatseeker's index."""

    def __init__(self, index_dir: str, project: str):
        import tantivy

        from heatseeker.engines.tantivy import _term_field  # a term with whitespace: _kv_spaced

        self._kv_field = _term_field
        with open(os.path.join(index_dir, "CURRENT")) as fh:
            gen = fh.read().strip()
        self.t = tantivy
        self.index = tantivy.Index.open(os.path.join(index_dir, gen))
        self.s = self.index.searcher()
        self.schema = self.index.schema
        self.project = project
        self.Q = tantivy.Query
        self.M, self.N, self.S = tantivy.Occur.Must, tantivy.Occur.MustNot, tantivy.Occur.Should

    def _term(self, field: str, value) -> object:
        return self.Q.term_query(self.schema, field, value)

    def _kv(self, path: str, value: str) -> object:
        term = path + "\x1f" + value
        return self._term(self._kv_field("_kv", term), term)

    def _scoped(self, q, view: str) -> object:
        Q = self.Q
        subs = [(self.M, q), (self.N, self._term("_deleted", True))]
        if view == "project":
            proj = Q.const_score_query(Q.term_set_query(self.schema, "project_id", [self.project]), 0.0)
            subs.append((self.M, proj))
        return Q.boolean_query(subs)

    def _page(self, q, *, by_id: bool, order_field: str | None = None) -> tuple[int, list[str]]:
        t = self.t
        if order_field:
            res = self.s.search(q, LIMIT, count=True, order_by_field=order_field, order=t.Order.Desc)
        elif by_id:
            res = self.s.search(q, LIMIT, count=True, order_by_field="_idkey", order=t.Order.Asc)
        else:
            res = self.s.search(q, LIMIT, count=True)
        ids = []
        for _, addr in res.hits:
            doc = self.s.doc(addr)
            src = json.loads(doc.get_first("_source"))
            src.update(json.loads(doc.get_first("_body")))
            ids.append(src["id"])
        return int(res.count or 0), ids

    def _distinct_roots(self, q) -> int:
        """The roll-up's total: the distinct ``_rootkey`` values (the u64 hash of ``root_id``) of
        ``q``'s matches up to ROLLUP_TOTAL_BOUND, else the bound (the API's ``track_total_hits``
        default, as Elasticsearch's): a cardinality estimate far beyond the bound says "more",
        else the values are counted."""
        bound = ROLLUP_TOTAL_BOUND
        est = self.s.aggregate(q, {"c": {"cardinality": {"field": "_rootkey"}}})["c"]["value"]
        if float(est or 0) > 2 * bound + 100:
            return bound
        buckets = {"r": {"terms": {"field": "_rootkey", "size": 2_000_000,
                                   "segment_size": 2_000_000}}}  # fmt: skip
        return min(len(self.s.aggregate(q, buckets)["r"]["buckets"]), bound)

    def _first_roots(self, q, n: int) -> list[str]:
        """The first ``n`` root ids of ``q``'s matches in root id order (every match of a term
        query scores the same): the matches ordered by ``_rootord`` (the root ids' first 8
        bytes), each hit's root id read from its document, asked again without the roots found
        until ``n`` are."""
        Q = self.Q
        roots: list[str] = []
        while len(roots) < n:
            rest = q if not roots else Q.boolean_query(
                [(self.M, q), (self.N, Q.term_set_query(self.schema, "root_id", roots))])
            res = self.s.search(rest, n - len(roots), order_by_field="_rootord",
                                order=self.t.Order.Asc)  # fmt: skip
            if not res.hits:
                break
            window = sorted((key, json.loads(self.s.doc(addr).get_first("_source"))["root_id"])
                            for key, addr in res.hits)  # fmt: skip
            for _, root in window:
                if root not in roots:
                    roots.append(root)
        return roots[:n]

    def run(self, spec: dict, value: str) -> tuple[int, list[str]]:
        Q, M = self.Q, self.M
        name, view = spec["name"], spec["view"]
        cs = Q.const_score_query
        if name == "term filters":
            q = Q.boolean_query([(M, cs(self._term("status", value), 1.0)),
                                 (M, cs(self._term("tags", "prod"), 1.0))])  # fmt: skip
            return self._page(self._scoped(q, view), by_id=True)
        if name == "full text, one word":
            return self._page(self._scoped(self._term("_all", value.lower()), view), by_id=False)
        if name == "nested path":
            q = self._kv("template.resources.server.properties.flavor", value)
            return self._page(self._scoped(q, view), by_id=True)
        if name.startswith("parameter value"):
            return self._page(self._scoped(self._kv("parameters.image", value), view), by_id=True)
        if name == "resource type":
            return self._page(self._scoped(self._kv("resources.type", value), view), by_id=True)
        if name == "name prefix":
            q = Q.regex_query(self.schema, "name__raw", value + ".*")
            return self._page(self._scoped(q, view), by_id=True)
        if name == "bool + sort":
            q = Q.boolean_query([
                (M, Q.term_set_query(self.schema, "status", ["CREATE_COMPLETE", "UPDATE_COMPLETE"])),
                (M, self._kv("parameters.flavor", value)),
                (self.N, self._term("tags", "legacy")),
            ])  # fmt: skip
            return self._page(self._scoped(q, view), by_id=False, order_field="updated_at")
        if name == "facets":
            q = self._scoped(Q.all_query(), view)
            total = int(self.s.search(q, 1, count=True).count or 0)
            spec_aggs = {f: {"terms": {"field": f, "size": 1000}} for f in FACET_FIELDS}
            self.s.aggregate(q, spec_aggs)
            return total, []
        if name == "roll-up to roots":
            q = self._scoped(self._kv("resources.type", value), view)
            total = self._distinct_roots(q)
            roots = self._first_roots(q, LIMIT)
            if roots:
                rq = self._scoped(Q.term_set_query(self.schema, "id", roots), view)
                self._page(rq, by_id=True)
            return total, roots
        if name.startswith("physical resource id"):
            q = self._kv("resources.physical_resource_id", value)
            return self._page(self._scoped(q, view), by_id=True)
        if name.startswith("failed under a root"):
            under = Q.boolean_query([(self.S, self._term("id", value)),
                                     (self.S, self._term("ancestors", value))])  # fmt: skip
            q = Q.boolean_query([(M, Q.regex_query(self.schema, "status", ".*_FAILED")),
                                 (M, cs(under, 0.0))])  # fmt: skip
            return self._page(self._scoped(q, view), by_id=True)
        raise ValueError(name)


def _time(fn: Callable[[], tuple[int, list[str]]]) -> tuple[float, tuple[int, list[str]]]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


Answer = tuple[int, list[str]]


def timed_rounds(queries: list[dict], rounds: int, run_hs: Callable[[dict, str], Answer],
                 run_raw: Callable[[dict, str], Answer]) -> dict[str, dict[str, list[float]]]:
    """``rounds`` rounds of the mix, each question asked of both sides (who goes first
    alternates): the seconds of each, per question and side."""
    times: dict[str, dict[str, list[float]]] = {q["name"]: {"hs": [], "raw": []} for q in queries}
    for i in range(rounds):
        for spec in queries:
            value = spec["values"][i % len(spec["values"])]
            sides = [("hs", run_hs), ("raw", run_raw)]
            for side, fn in sides if i % 2 == 0 else sides[::-1]:
                took, _ = _time(lambda f=fn, s=spec, v=value: f(s, v))
                times[spec["name"]][side].append(took)
    return times


def summarise(queries: list[dict], times: dict[str, dict[str, list[float]]],
              totals: dict[str, list[int]]) -> tuple[dict, list[float], list[float]]:
    """Per question: its p50/p99 on both sides and the overhead; and every time of each side."""
    per_query = {}
    all_hs: list[float] = []
    all_raw: list[float] = []
    for spec in queries:
        t = times[spec["name"]]
        all_hs += t["hs"]
        all_raw += t["raw"]
        h, r = common.summary_ms(t["hs"]), common.summary_ms(t["raw"])
        tot = totals[spec["name"]]
        per_query[spec["name"]] = {
            "query": spec["q"] or "(facets)",
            "asked_by": "member of the largest project" if spec["view"] == "project"
            else "cloud admin, all projects",
            "matches_median": sorted(tot)[len(tot) // 2] if tot else None,
            "heatseeker": h,
            "raw": r,
            "overhead_p50": common.ratio(h["p50_ms"], r["p50_ms"]),
            "overhead_p99": common.ratio(h["p99_ms"], r["p99_ms"]),
        }  # fmt: skip
    return per_query, all_hs, all_raw


def phase_latency(args: dict) -> dict:
    from heatseeker.engines.tantivy import TantivyEngine

    d = args["dir"]
    rounds = args["rounds"]
    samples = _samples(os.path.join(d, "state.sqlite"), args["seed"])
    engine = TantivyEngine(os.path.join(d, "index"), read_only=True)
    hs = _Heatseeker(engine, samples["project"])
    raw = _Raw(os.path.join(d, "index"), samples["project"])
    queries = _queries(samples)
    disagree: list[dict] = []
    totals: dict[str, list[int]] = {q["name"]: [] for q in queries}
    # warm-up: every query and value once on both sides; answers compared here
    for spec in queries:
        for value in spec["values"]:
            h = hs.run(spec, value)
            r = raw.run(spec, value)
            totals[spec["name"]].append(h[0])
            same_ids = spec.get("facets") or spec["name"].startswith(
                ("full text", "bool")) or h[1] == r[1]  # fmt: skip
            if h[0] != r[0] or not same_ids:
                disagree.append({"query": spec["name"], "value": value, "heatseeker": h[0],
                                 "raw": r[0], "same_page_ids": bool(same_ids)})  # fmt: skip
    times = timed_rounds(queries, rounds, hs.run, raw.run)
    per_query, all_hs, all_raw = summarise(queries, times, totals)
    mix_hs, mix_raw = common.summary_ms(all_hs), common.summary_ms(all_raw)
    rest = [q["name"] for q in queries if not q.get("rollup")]
    rest_hs = common.summary_ms([x for k in rest for x in times[k]["hs"]])
    rest_raw = common.summary_ms([x for k in rest for x in times[k]["raw"]])
    out = {
        "stacks": samples["stacks"],
        "project": {"id": samples["project"], "stacks": samples["project_stacks"]},
        "rounds": rounds,
        "mix": {"heatseeker": mix_hs, "raw": mix_raw,
                "overhead_p50": common.ratio(mix_hs["p50_ms"], mix_raw["p50_ms"]),
                "overhead_p99": common.ratio(mix_hs["p99_ms"], mix_raw["p99_ms"]),
                "overhead_total_time": common.ratio(sum(all_hs), sum(all_raw))},  # fmt: skip
        "mix_without_rollup": {"heatseeker": rest_hs, "raw": rest_raw,
                               "overhead_p50": common.ratio(rest_hs["p50_ms"], rest_raw["p50_ms"]),
                               "overhead_p99": common.ratio(rest_hs["p99_ms"], rest_raw["p99_ms"])},
        "queries": per_query,
        "answers_disagree": disagree,
    }
    if args.get("profile"):
        out["profiles"] = _profiles(per_query, queries, hs)
    engine.close()
    return out


def _profiles(per_query: dict, queries: list[dict], hs: _Heatseeker) -> dict:
    """cProfile of the slowest query (by p99) and of the one with the largest overhead."""
    from bench.indexing import profile_summary

    slowest = max(per_query, key=lambda k: per_query[k]["heatseeker"]["p99_ms"] or 0)
    costly = max(per_query, key=lambda k: per_query[k]["overhead_p50"] or 0)
    out = {}
    for why, name in (("slowest p99", slowest), ("largest overhead", costly)):
        if name in out:
            continue
        spec = next(q for q in queries if q["name"] == name)
        prof = cProfile.Profile()
        started = time.perf_counter()
        prof.enable()
        for i in range(12):
            hs.run(spec, spec["values"][i % len(spec["values"])])
        prof.disable()
        out[name] = {"why": why, "runs": 12, **profile_summary(prof, time.perf_counter() - started, 10)}
    return out


PHASES = {"latency": phase_latency}


def run(sizes: list[int], seed: int, rounds: int) -> dict:
    from bench.indexing import data_dir

    out: dict = {"targets": {"p99_ms": TARGET_P99_MS, "overhead": TARGET_OVERHEAD}, "sizes": {}}
    for n in sizes:
        d = data_dir(n)
        if not os.path.isdir(os.path.join(d, "index")):
            out["sizes"][str(n)] = {"skipped": "no index: the indexing benchmark did not run"}
            continue
        common.log(f"latency {n}: {rounds} rounds of the query mix, heatseeker and raw tantivy")
        res = common.run_phase("bench.latency", {"phase": "latency", "dir": d, "seed": seed,
                                                 "rounds": rounds, "profile": n == max(sizes)},
                               timeout=1800)  # fmt: skip
        worst = max(q["heatseeker"]["p99_ms"] for q in res["queries"].values())
        res["meets_p99"] = res["mix"]["heatseeker"]["p99_ms"] < TARGET_P99_MS
        res["worst_query_p99_ms"] = worst
        res["meets_overhead"] = (res["mix"]["overhead_p50"] or 99) <= TARGET_OVERHEAD
        out["sizes"][str(n)] = res
        common.log(f"latency {n}: mix p50 {res['mix']['heatseeker']['p50_ms']} ms p99 "
                   f"{res['mix']['heatseeker']['p99_ms']} ms; raw p50 {res['mix']['raw']['p50_ms']} "
                   f"p99 {res['mix']['raw']['p99_ms']}")  # fmt: skip
    return out


if __name__ == "__main__":
    common.phase_main(PHASES)
