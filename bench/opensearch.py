"""6. The OpenSearch engine: bulk reindex and the query mix, measured like the embedded engine.

Per size, on the store the indexing benchmark generated (the same synthetic stacks), against a
dedicated OpenSearch node (tools/opensearch node ``NODE``, heap ``HEAP``, wiped first, stopped
after), each phase in its own process:

* ``rebuild``: ``heatseeker reindex``'s work on OpenSearch, ``Projector(store,
  OpenSearchEngine).rebuild()`` (bulk requests, refresh off until the swap): stacks/s, the index's
  size on disk (OpenSearch's own store size), and the node's resident memory (its JVM, heap and
  all) and the heatseeker process's peak RSS. Baseline: the tantivy rebuild of the same stacks in
  the same run (``3. Indexing``).
* ``latency``: the query mix of ``2.`` (same questions, values, askers) through heatseeker's query
  layer on the OpenSearch engine. Baseline ("raw"): the very requests heatseeker sent for each
  question (recorded during the warm-up), replayed straight with opensearch-py: OpenSearch's own
  time plus HTTP and JSON, so the ratio is heatseeker's overhead on this engine. Answers (totals
  and page ids) are compared with the embedded engine's on the same stacks: both engines must
  answer the same question the same way.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from bench import common

NODE = 5
HEAP = "1g"
PREFIX = "hs-bench"


def _lab():
    sys.path.insert(0, os.path.join(common.ROOT, "tools", "opensearch"))
    import opensearchlab

    return opensearchlab


def _engine(url: str, read_only: bool = False):
    from heatseeker.engines.opensearch import OpenSearchEngine

    return OpenSearchEngine([url], index_prefix=PREFIX, replicas=0, timeout=300,
                            read_only=read_only)  # fmt: skip


def _node_pid() -> str | None:
    lab = _lab()
    try:
        with open(os.path.join(lab.sandbox(), "opensearch", f"node{NODE}", "pid")) as fh:
            return fh.read().strip()
    except OSError:
        return None


def phase_rebuild(args: dict) -> dict:
    from heatseeker.projection import Projector
    from heatseeker.record import Store

    store = Store(os.path.join(args["dir"], "state.sqlite"))
    engine = _engine(args["url"])
    started = time.perf_counter()
    n = Projector(store, engine).rebuild()
    took = time.perf_counter() - started
    engine.client.indices.refresh(index=engine.search_alias)
    stats = engine.client.indices.stats(index=engine.search_alias, metric="store,docs")
    size = sum(i["primaries"]["store"]["size_in_bytes"] for i in stats["indices"].values())
    health = engine.health()
    engine.close()
    pid = _node_pid()
    return {
        "stacks": n,
        "seconds": round(took, 2),
        "docs_per_s": round(n / took, 1),
        "index_mb": round(size / 2**20, 1),
        "documents": health.get("documents"),
        "node_rss_mb": common.rss_mb(pid) if pid else None,
        "node_peak_rss_mb": common.peak_rss_mb(pid) if pid else None,
    }


class _Recorder:
    """Wraps the engine's client: records each search/count request of the current question."""

    def __init__(self, client):
        self.client = client
        self.calls: list[tuple[str, dict]] = []
        self.recording = False
        for name in ("search", "count"):
            original = getattr(client, name)
            setattr(client, name, self._wrap(name, original))

    def _wrap(self, name: str, original: Callable) -> Callable:
        def call(*args, **kwargs):
            if self.recording:
                self.calls.append((name, kwargs))
            return original(*args, **kwargs)

        return call


def phase_latency(args: dict) -> dict:
    from bench.latency import _Heatseeker, _queries, _samples, summarise, timed_rounds
    from heatseeker.engines.tantivy import TantivyEngine

    d = args["dir"]
    rounds = args["rounds"]
    samples = _samples(os.path.join(d, "state.sqlite"), args["seed"])
    engine = _engine(args["url"], read_only=True)
    hs = _Heatseeker(engine, samples["project"])
    embedded = TantivyEngine(os.path.join(d, "index"), read_only=True)
    reference = _Heatseeker(embedded, samples["project"])
    recorder = _Recorder(engine.client)
    originals = {name: getattr(type(engine.client), name) for name in ("search", "count")}
    queries = _queries(samples)
    requests: dict[tuple[str, str], list[tuple[str, dict]]] = {}
    disagree: list[dict] = []
    totals: dict[str, list[int]] = {q["name"]: [] for q in queries}
    for spec in queries:  # warm-up: record the requests, compare the answers with tantivy's
        for value in spec["values"]:
            recorder.calls, recorder.recording = [], True
            h = hs.run(spec, value)
            recorder.recording = False
            requests[(spec["name"], value)] = recorder.calls
            e = reference.run(spec, value)
            totals[spec["name"]].append(h[0])
            same_ids = spec.get("facets") or spec["name"].startswith(("full text", "bool")) \
                or h[1] == e[1]
            if h[0] != e[0] or not same_ids:
                disagree.append({"query": spec["name"], "value": value, "opensearch": h[0],
                                 "tantivy": e[0], "same_page_ids": bool(same_ids)})  # fmt: skip
    embedded.close()

    def replay(key: tuple[str, str]) -> tuple[int, list[str]]:
        for name, kwargs in requests[key]:
            originals[name](engine.client, **kwargs)
        return 0, []

    times = timed_rounds(queries, rounds, hs.run, lambda spec, value: replay((spec["name"], value)))
    per_query, all_hs, all_raw = summarise(queries, times, totals)
    for spec in queries:
        per_query[spec["name"]]["requests"] = len(requests[(spec["name"], spec["values"][0])])
    mix_hs, mix_raw = common.summary_ms(all_hs), common.summary_ms(all_raw)
    engine.close()
    return {
        "stacks": samples["stacks"],
        "project": {"id": samples["project"], "stacks": samples["project_stacks"]},
        "rounds": rounds,
        "mix": {"heatseeker": mix_hs, "raw": mix_raw,
                "overhead_p50": common.ratio(mix_hs["p50_ms"], mix_raw["p50_ms"]),
                "overhead_p99": common.ratio(mix_hs["p99_ms"], mix_raw["p99_ms"])},
        "queries": per_query,
        "answers_disagree": disagree,
    }  # fmt: skip


def run(sizes: list[int], seed: int, rounds: int) -> dict:
    from bench.indexing import data_dir

    lab = _lab()
    out: dict = {"node": {"n": NODE, "heap": HEAP}, "sizes": {}}
    os.environ["HEATSEEKER_OPENSEARCH_HEAP"] = HEAP
    common.log(f"opensearch: starting node {NODE} (heap {HEAP}, fresh)")
    url = lab.start_node(NODE, fresh=True)
    try:
        info = lab.health(NODE)
        out["node"]["status"] = info.get("status")
        from opensearchpy import OpenSearch

        out["node"]["version"] = OpenSearch([url]).info()["version"]["number"]
        for n in sizes:
            d = data_dir(n)
            if not os.path.isdir(os.path.join(d, "index")):
                out["sizes"][str(n)] = {"skipped": "no store: the indexing benchmark did not run"}
                continue
            common.log(f"opensearch {n}: rebuild")
            res: dict = {"rebuild": common.run_phase(
                "bench.opensearch", {"phase": "rebuild", "dir": d, "url": url}, timeout=3600)}
            common.log(f"opensearch {n}: {res['rebuild']['docs_per_s']} stacks/s; "
                       f"{rounds} rounds of the query mix")  # fmt: skip
            res["latency"] = common.run_phase(
                "bench.opensearch",
                {"phase": "latency", "dir": d, "url": url, "seed": seed, "rounds": rounds},
                timeout=3600,
            )
            mix = res["latency"]["mix"]
            common.log(f"opensearch {n}: mix p50 {mix['heatseeker']['p50_ms']} ms p99 "
                       f"{mix['heatseeker']['p99_ms']} ms; raw p50 {mix['raw']['p50_ms']}")
            out["sizes"][str(n)] = res
    finally:
        lab.stop_node(NODE)
    return out


PHASES = {"rebuild": phase_rebuild, "latency": phase_latency}

if __name__ == "__main__":
    common.phase_main(PHASES)
