"""6. The OpenSearch engine: bulk reindex and the query mix, measured like the embedded engine.

Per size, on the store the indexing benchmark generated (the same synthetic stacks), against a
dedicated OpenSearch node (tools/opensearch node ``NODE``, heap ``HEAP``, wiped first, stopped
after), each phase in its own process:

* ``rebuild``: ``heatseeker reindex``'s work on OpenSearch, ``Projector(store,
  OpenSearchEngine).rebuild()`` (bulk requests, refresh off until the swap): stacks/s, the index's
  size on disk (OpenSearch's own store size), and the node's resident memory (its JVM, heap and
  all) and the heatseeker process's peak RSS. Baseline: the tantivy rebuild of the same stacks in
  the same run (``3. Indexing``).
* ``raw`` (the baseline of ``rebuild``, issue 16 part 2): the same documents, prepared by the
  engine's own ``prepare`` *before* the clock starts (so the baseline is OpenSearch's own speed plus
  the client's), sent by ``opensearchpy.helpers.parallel_bulk`` with the same request size and
  concurrency into an index with the same mapping and bulk-load settings, ended like a rebuild
  (settings restored, flush, refresh). Rebuild and raw take turns, ``rounds`` pairs per size.
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
TARGET_DOCS_S = 1000.0  # issue 16 part 2, at 100k on one local node with a 1 GB heap ...
TARGET_RATIO = 0.8  # ... measured against raw parallel_bulk: the ratio is the target


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
    from heatseeker.projection import PARALLEL_MIN, Projector, default_workers
    from heatseeker.record import Store

    store = Store(os.path.join(args["dir"], "state.sqlite"))
    engine = _engine(args["url"])
    pid = _node_pid()
    jvm0 = common.cpu_s(pid) if pid else None
    cpu0 = time.process_time()
    started = time.perf_counter()
    with common.TreeRss() as tree:
        n = Projector(store, engine).rebuild()
    took = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    jvm = common.cpu_s(pid) if pid else None
    engine.client.indices.refresh(index=engine.search_alias)
    stats = engine.client.indices.stats(index=engine.search_alias, metric="store,docs")
    size = sum(i["primaries"]["store"]["size_in_bytes"] for i in stats["indices"].values())
    health = engine.health()
    engine.close()
    return {
        "stacks": n,
        "seconds": round(took, 2),
        "docs_per_s": round(n / took, 1),
        "workers": default_workers() if n >= PARALLEL_MIN else 1,
        "reindex_cpu_s": round(cpu, 1),  # this process, the timed part only
        "bulk_size": engine.bulk_size,
        "bulk_concurrency": engine.bulk_concurrency,
        "peak_rss_all_processes_mb": tree.peak_mb,
        "workers_cpu_s": common.children_cpu_s(),
        "node_cpu_s": round(jvm - jvm0, 1) if jvm is not None and jvm0 is not None else None,
        "index_mb": round(size / 2**20, 1),
        "documents": health.get("documents"),
        "node_rss_mb": common.rss_mb(pid) if pid else None,
        "node_peak_rss_mb": common.peak_rss_mb(pid) if pid else None,
    }


def phase_raw(args: dict) -> dict:
    """The baseline: the same documents, prepared before the clock starts, through
    ``helpers.parallel_bulk`` (same request size and concurrency, same mapping and settings)."""
    import tempfile

    from opensearchpy import OpenSearch, helpers

    from heatseeker.engines import opensearch as O
    from heatseeker.record import Store

    store = Store(os.path.join(args["dir"], "state.sqlite"))
    engine = _engine(args["url"])
    size, threads = engine.bulk_size, engine.bulk_concurrency
    heads: list[tuple[str, int]] = []
    prep_started = time.process_time()
    with tempfile.TemporaryFile(dir=args["dir"]) as spool:
        limit = args.get("limit")
        for rec in store.iter_all(batch=100):
            if limit is not None and len(heads) >= limit:
                break
            sid, external, body = O.prepare((None if rec.deleted else rec.doc, rec.id, rec.version))
            heads.append((sid, external))
            spool.write(body + b"\n")
        prepare_cpu = time.process_time() - prep_started
        store.close()
        spool.seek(0)
        client = OpenSearch([args["url"]], timeout=300, pool_maxsize=max(4, threads + 2))
        index = f"{PREFIX}-raw"
        client.indices.delete(index=index, params={"ignore_unavailable": "true"})

        def actions():
            spool.seek(0)
            for (sid, external), line in zip(heads, spool, strict=True):
                yield {"_index": index, "_id": sid, "version": external,
                       "version_type": "external", "_source": line[:-1].decode()}  # fmt: skip

        pid = _node_pid()
        jvm0 = common.cpu_s(pid) if pid else None
        cpu0 = time.process_time()
        started = time.perf_counter()
        # as a rebuild does: a new index, loaded, then its settings restored, flushed, refreshed
        client.indices.create(index=index, body={
            "settings": {"number_of_shards": 1, "number_of_replicas": 0, **O.BULK_LOAD_SETTINGS},
            "mappings": O.mapping()}, params={"wait_for_active_shards": "1"})  # fmt: skip
        n = retried = 0
        todo = actions()
        for attempt in range(O.BULK_RETRIES + 1):
            # a node with a 1 GB heap refuses some requests for want of room (429, its circuit
            # breaker): parallel_bulk does not send them again, so this loop does, after the same
            # pause as the engine's (any other refusal ends the run)
            again: list[dict] = []
            for ok, info in helpers.parallel_bulk(client, todo, thread_count=threads,
                                                  chunk_size=size, max_chunk_bytes=O.BULK_MAX_BYTES,
                                                  raise_on_error=False, raise_on_exception=False):
                if ok:
                    n += 1
                    continue
                op = info.get("index", {})
                if int(op.get("status", 500)) != 429 or attempt == O.BULK_RETRIES:
                    raise RuntimeError(f"raw bulk refused: {str(info)[:500]}")
                again.append(op["_id"])
            if not again:
                break
            retried += len(again)
            wanted = set(again)
            todo = (a for a in actions() if a["_id"] in wanted)
            time.sleep(min(8.0, O.BULK_BACKOFF * 2**attempt))
        client.indices.put_settings(index=index, body={k: None for k in O.BULK_LOAD_SETTINGS})
        client.indices.flush(index=index)
        client.indices.refresh(index=index)
        took = time.perf_counter() - started
        cpu = time.process_time() - cpu0
        jvm = common.cpu_s(pid) if pid else None
    stats = client.indices.stats(index=index, metric="store,docs")
    nbytes = sum(i["primaries"]["store"]["size_in_bytes"] for i in stats["indices"].values())
    docs = sum(i["primaries"]["docs"]["count"] for i in stats["indices"].values())
    client.indices.delete(index=index)
    client.close()
    engine.close()
    return {
        "stacks": n,
        "documents": docs,
        "seconds": round(took, 2),
        "docs_per_s": round(n / took, 1),
        "client_cpu_s": round(cpu, 1),
        "sent_again_for_room": retried,
        "node_cpu_s": round(jvm - jvm0, 1) if jvm is not None and jvm0 is not None else None,
        "prepare_cpu_s_untimed": round(prepare_cpu, 1),
        "bulk_size": size,
        "threads": threads,
        "index_mb": round(nbytes / 2**20, 1),
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


def _rebuild_pairs(n: int, d: str, url: str, pairs: int) -> dict:
    """``pairs`` rounds of heatseeker's rebuild and the raw baseline, taking turns (this shared
    machine's speed drifts over minutes); the ratio is the median of the rounds'."""
    import statistics

    # a fresh node compiles its indexing code on the first documents: warm it up first, or the
    # side that goes first pays for it
    common.log(f"opensearch {n}: warming the node up (a raw load, not measured)")
    common.run_phase("bench.opensearch", {"phase": "raw", "dir": d, "url": url, "limit": 5000},
                     timeout=7200)  # fmt: skip
    rebuilds, raws = [], []
    for r in range(pairs):
        for side in ("rebuild", "raw") if r % 2 == 0 else ("raw", "rebuild"):
            common.log(f"opensearch {n}: round {r + 1}/{pairs}: {side}")
            res = common.run_phase("bench.opensearch", {"phase": side, "dir": d, "url": url},
                                   timeout=7200)  # fmt: skip
            (rebuilds if side == "rebuild" else raws).append(res)
            common.log(f"opensearch {n}: {side} {res['docs_per_s']} stacks/s")
    per_round = [common.ratio(a["docs_per_s"], b["docs_per_s"])
                 for a, b in zip(rebuilds, raws, strict=True)]  # fmt: skip
    known = [x for x in per_round if x is not None]
    ratio = round(statistics.median(known), 2) if known else None
    speed = statistics.median(x["docs_per_s"] for x in rebuilds)
    return {
        "rebuild": rebuilds[0],  # round 1's; every round under "rounds"
        "raw": raws[0],
        "rounds": [{"rebuild": a, "raw": b} for a, b in zip(rebuilds, raws, strict=True)],
        "ratio_heatseeker_over_raw_per_round": per_round,
        "ratio_heatseeker_over_raw_speed": ratio,
        "median_docs_per_s": speed,
        "target_docs_per_s": TARGET_DOCS_S,
        "target_ratio_over_raw": TARGET_RATIO,
        "meets_ratio": ratio is not None and ratio >= TARGET_RATIO,
        "meets_docs_per_s": speed >= TARGET_DOCS_S,
    }


def run(sizes: list[int], seed: int, rounds: int, pairs: int = 1) -> dict:
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
            res: dict = _rebuild_pairs(n, d, url, pairs)
            common.log(f"opensearch {n}: {res['ratio_heatseeker_over_raw_speed']}x raw (rounds "
                       f"{res['ratio_heatseeker_over_raw_per_round']}); {rounds} rounds of the "
                       "query mix")  # fmt: skip
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


PHASES = {"rebuild": phase_rebuild, "raw": phase_raw, "latency": phase_latency}

if __name__ == "__main__":
    common.phase_main(PHASES)
