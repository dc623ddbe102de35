"""The Markdown report of a benchmark run (from the JSON ``bench.run`` writes)."""

from __future__ import annotations

import json
import sys


def _f(x, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        if abs(x) >= 100:
            return f"{x:,.0f}"
        return f"{x:.{digits}g}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def _x(x) -> str:
    return "–" if x is None else f"{x:g}×"


def _table(head: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_f(c) if not isinstance(c, str) else c for c in r) + " |" for r in rows]
    return out + [""]


def _status(res: dict) -> str | None:
    if "skipped" in res:
        return f"_Skipped: {res['skipped']}_"
    if "failed" in res:
        return f"_Failed: {res['failed']}_"
    return None


def markdown(r: dict) -> str:
    m = r["machine"]
    b = r["benchmarks"]
    L: list[str] = []
    L.append(f"# heatseeker benchmarks ({r['mode']} run, {m['date']})")
    L.append("")
    L.append(f"`{r['command'].strip()}` — {r['total_seconds']:.0f} s in all "
             f"({', '.join(f'{k} {v:.0f} s' for k, v in r['seconds'].items())}). "
             "Benchmarks, not tests: figures vary with the machine and with what else runs on it.")
    L.append("")
    L.append("## Machine")
    L.append("")
    L += _table(["", ""], [
        ["cores / memory", f"{m['cores']} / {m['memory_gb']} GB"],
        ["CPU", m["cpu"]],
        ["kernel", m["kernel"]],
        ["python / tantivy / SQLite", f"{m['python']} / {m['tantivy']} / {m['sqlite']}"],
        ["oslo.messaging / python-heatclient", f"{m['oslo.messaging']} / {m['python-heatclient']}"],
        ["heatseeker", m["heatseeker"]],
        ["load average (1/5/15 min) at start → end",
         f"{m['load_average_at_start']} → {m.get('load_average_at_end')}"],
        ["CPU pressure (share of the last minute some task waited for a CPU) start → end",
         f"{_f(m.get('cpu_pressure_avg60_at_start'))} % → {_f(m.get('cpu_pressure_avg60_at_end'))} %"],
        ["busiest other processes at start", ", ".join(m["busy_processes_at_start"]) or "none"],
    ])  # fmt: skip
    load = max(m["load_average_at_start"][0], (m.get("load_average_at_end") or [0])[0])
    if load > 1.5:
        L.append(f"**The machine was shared during this run** (load average up to {load:g} on "
                 f"{m['cores']} cores: other engineers' test suites, the Heat sandbox, OpenSearch "
                 "nodes). Wall-clock figures are pessimistic; the indexing phases also report the "
                 "process's CPU seconds, which contention inflates far less.")  # fmt: skip
        L.append("")
    if r.get("assessment"):
        L.append("## Targets")
        L.append("")
        why = limits(r)
        L += _table(["target", "result", "what limits it (from this run's profiles and timings)"],
                    [[a["target"], a["result"], why.get(a.get("key", ""), "")
                      if "MISSED" in a["result"] else ""] for a in r["assessment"]])  # fmt: skip
    L += _query_vs_api(b.get("query_vs_api"), b.get("latency"))
    L += _latency(b.get("latency"))
    L += _indexing(b.get("indexing"))
    L += _opensearch(b.get("opensearch"), b.get("indexing"), b.get("latency"))
    L += _history(b.get("history"))
    L += _freshness(b.get("freshness"))
    L += _listener(b.get("listener"))
    L += _several_hosts(b.get("record"), b.get("multihost"), b.get("multihost_freshness"))
    L += _regions(b.get("regions"))
    L += _store(b.get("store"))
    L += _sync(b.get("sync"))
    return "\n".join(L).rstrip() + "\n"


def _sync(sy: dict | None) -> list[str]:
    if sy is None:
        return []
    L = ["## 11. sync at Heat's speed (#16, bench/sync_rate.py)", ""]
    s = _status(sy)
    if s:
        return L + [s, ""]
    box, ratio = sy["sandbox"], sy["ratio_sync_to_raw"]
    L.append(f"The sandbox's {box['stacks']} stacks ({box['roots']} roots, {box['nested']} nested), "
             f"`[heat] concurrency` {box['concurrency']}. Raw reader: python-heatclient lists every "
             "project's stacks, then reads each with the five calls heatseeker makes (show, "
             "template, environment, files, resources; by `name/id`), one after the other, "
             f"{box['concurrency']} stacks at a time. sync: `heatseeker sync --full` (a process, "
             "listing included, its own reconcile time). The sides take turns; rounds: "
             f"{len(ratio['per_round'])}.")  # fmt: skip
    L.append("")
    raw, piped, full = (sy["raw_reader"]["stacks_per_s"], sy["raw_reader_pipelined"]["stacks_per_s"],
                        sy["sync_full"]["stacks_per_s"])
    L += _table(["", "best stacks/s", "median stacks/s"], [
        ["raw reader (baseline)", _f(raw["best"]), _f(raw["median"])],
        ["raw reader, four calls at once after the show", _f(piped["best"]), _f(piped["median"])],
        ["**heatseeker sync --full**", _f(full["best"]), _f(full["median"])],
        ["**ratio** (target ≥ 0.8)", _x(ratio["best"]), f"**{_x(ratio['median'])}**"],
    ])  # fmt: skip
    first = sy.get("first_sync") or {}
    u = sy["unchanged_resync"]
    ex = u[f"extrapolated_{100_000}"]
    L.append(f"Per round: {', '.join(_x(r) for r in ratio['per_round'])}. A first sync into an "
             f"empty data dir: {_f(first.get('stacks_per_s'))} stacks/s. An unchanged cloud "
             f"re-synced: {_f(u['reconcile_s']['median'])} s for {u['stacks']:g} stacks against "
             f"{_f(u['raw_listing_s']['median'])} s for the raw listing alone; EXTRAPOLATED "
             f"linearly to 100,000 stacks: {_f(ex['reconcile_s'])} s against "
             f"{_f(ex['raw_listing_s'])} s (Heat's listing costs it a few ms per stack).")
    split = sy.get("split_full")
    if split:
        main = ", ".join(f"{k} {_f(v)} s" for k, v in split["main_thread_s"].items() if v >= 0.01)
        L.append("")
        L.append(f"A full reconcile in this process ({_f(split['stacks_per_s'])} stacks/s): the "
                 f"main thread's time: {main}; read slots idle {_f(100 * split['idle_share_of_window'])} % "
                 f"of the reads' window; Heat's CPU {_f(split.get('heat_cpu_ms_per_stack'))} ms per "
                 f"stack; discarded connections: {split.get('pool_full_warnings')}.")  # fmt: skip
    L.append("")
    return L


def _store(st: dict | None) -> list[str]:
    if st is None:
        return []
    L = ["## 10. Heavy trees on disk (TripleO shape; #16, bench/tripleo.py)", ""]
    s = _status(st)
    if s:
        return L + [s, ""]
    f = st["fill"]
    low, high = f["stacks_per_tree"]
    L.append(f"{st['trees']} generated overcloud tree{'s' * (st['trees'] != 1)} of TripleO's shape, "
             f"{low if low == high else f'{low}–{high}'} stacks each in 7 levels (a root, "
             "three role ResourceGroups of servers, each role's service chain, ~80 service "
             "templates and what is nested below them). Every stack carries what Heat answers for "
             f"it: the tree's whole resource registry ({f['registry_entries']} entries) and "
             f"parameter_defaults ({_f(f['parameter_defaults_kb'])} KB), its {f['files_per_tree']} "
             f"files ({_f(f['files_mb_per_tree'])} MB; documents keep their names); documents built "
             "by `documents.build_all` with what each parent made secret. Store: `Store.apply`, "
             f"{1000:,} per transaction, history on, with the file digests and summaries a sync "
             "writes; on disk: the SQLite file and its WAL after a checkpoint. Index: "
             "`Projector.rebuild()` three times (each in its own process, as `heatseeker "
             "reindex`); its live generation, and the whole directory after the three.")
    L.append("")
    gens = st["generations_after_rebuilds"]
    L += _table(["stacks", "trees", "JSON of the documents", "store on disk",
                 "index (live generation)", "store ÷ index (target ≤ 1)",
                 "index directory after 3 rebuilds", "fill stacks/s", "same answers"],
                [[st["stacks"], st["trees"], f"{_f(st['json_mb'])} MB ({_f(f['mean_doc_kb'])} KB/stack)",
                  f"**{_f(st['store_mb'])} MB**", f"{_f(st['index_mb'])} MB",
                  f"**{_x(st['store_over_index'])}**",
                  f"{_f(st['index_dir_after_rebuilds_mb'])} MB ({gens} generation{'s' * (gens != 1)})",
                  _f(f["stacks_per_s"]), "yes" if st["same_answers"] else "**NO**"]])  # fmt: skip
    tables = ", ".join(f"{k} {_f(v)} MB" for k, v in (f.get("tables_mb") or {}).items())
    L.append(f"The store: {tables or 'per table: not measured (no dbstat)'}; "
             f"{_f(f['store_vacuumed_mb'])} MB once vacuumed; stack rows {_f(f['stack_rows_mb'])} MB; "
             f"{f['history']['revisions']:,} revisions: bodies {_f(f['history']['body_mb'])} MB, "
             f"their file digests (every file's name, per revision) "
             f"{_f(f['history'].get('file_digests_mb'))} MB. The "
             f"fill took {_f(f['seconds'])} s ({_f(f['build_seconds'])} s of it building the "
             f"documents), peak RSS {_f(f['peak_rss_mb'])} MB.")  # fmt: skip
    L.append("")
    L += _table(["rebuild", "seconds", "stacks/s", "CPU s", "peak RSS", "live generation",
                 "index directory", "generations on disk"],
                [[r["round"], _f(r["seconds"]), _f(r["stacks_per_s"]), _f(r.get("process_cpu_s")),
                  f"{_f(r['peak_rss_mb'])} MB",
                  f"{_f(r['index_mb'])} MB", f"{_f(r['index_dir_mb'])} MB",
                  ", ".join(r["generations_on_disk"])] for r in st["rebuilds"]])  # fmt: skip
    a = st["answers"]
    L.append(f"Answers: {a['stacks_compared']:,} stored documents compared with the generated ones "
             f"(`Store.get`, {_f(a['get_ms_per_stack'])} ms each, and `Store.iter_all`): "
             f"{a['documents_differ']} differ; after each rebuild, searches (a resource type, the "
             "shared registry, one tree's parameter_defaults, a file name, the servers' network "
             "configs, a password's value) return exactly the stacks the generated documents say; "
             f"documents holding a secret value: {f['documents_with_a_secret']}. "
             + ("All agree." if st["same_answers"] else f"DISAGREE: {st['answers_disagree'][:3]}"))
    L.append("")
    return L


def _regions(rg: dict | None) -> list[str]:
    if rg is None:
        return []
    L = ["## 9. Several regions in one installation (#15, bench/regions.py)", ""]
    st = _status(rg)
    if st:
        return L + [st, ""]
    qm = rg["query_mix"]
    L.append(f"### The query mix with a region filter and without ({qm['stacks']:,} synthetic "
             f"stacks, {qm['regions']['RegionOne']:,} in RegionOne and "
             f"{qm['regions']['RegionTwo']:,} in RegionTwo, whole trees; a member of the largest "
             f"project, {qm['project_stacks']:,} stacks; {qm['rounds']} rounds, the sides "
             "alternated; the embedded engine)")
    L.append("")
    rows = [[name, _f(t["all"]["p50_ms"]), _f(t["all"]["p99_ms"]), _f(t["region"]["p50_ms"]),
             _f(t["region"]["p99_ms"])] for name, t in qm["per_query"].items()]
    rows.append(["**the mix**", _f(qm["all"]["p50_ms"]), _f(qm["all"]["p99_ms"]),
                 _f(qm["region"]["p50_ms"]), _f(qm["region"]["p99_ms"])])
    L += _table(["question", "p50 ms (baseline: no filter)", "p99 ms", "with region:RegionTwo p50",
                 "p99"], rows)
    L.append(f"With the filter / without: p50 {_x(qm['ratio_p50'])}, p99 {_x(qm['ratio_p99'])}. "
             + ("The answers agree (filtered + the other region's = unfiltered)."
                if not qm["answers_disagree"] else f"ANSWERS DIFFER: {qm['answers_disagree'][:3]}"))
    L.append("")
    sb = rg["sandbox"]
    st = _status(sb)
    L.append("### sync and freshness with two regions against one (the sandbox's two Keystone-mode "
             "Heats, RegionOne :8014 and RegionTwo :8024)")
    L.append("")
    if st:
        return L + [st, ""]
    sy = sb["sync"]
    L += _table(["sync into an empty data dir", "regions", "stacks", "seconds", "stacks/s"],
                [[label, ", ".join(sy[k]["regions"]), sy[k]["stacks"], sy[k]["seconds"],
                  sy[k]["stacks_per_s"]] for k, label in (("one", "one region (baseline)"),
                                                          ("two", "two regions"))])
    L.append(f"Two regions / one, stacks per second: {_x(sy['ratio_stacks_per_s'])} "
             f"({sb['stacks_made_per_region']} stacks with a nested one made in each region for "
             "the run; the rest of each Heat's stacks are counted too).")
    L.append("")
    fr = sb["freshness"]
    L += _table(["from the update call until a search shows it", "n", "p50 ms", "max ms"],
                [[k, v["n"], v["p50_ms"], v["max_ms"]] for k, v in fr.items()
                 if isinstance(v, dict)])
    L.append(f"Two-region listener / one-region listener, p50: {_x(fr['ratio_p50_two_vs_one'])} "
             "(Heat's own update time is in every figure, the same on both sides).")
    L.append("")
    return L


def _areas(by_area: dict, k: int = 3) -> str:
    return ", ".join(f"{name} {share:.0%}" for name, share in list(by_area.items())[:k])


def limits(r: dict) -> dict[str, str]:
    """What limits each missed target, keyed by the target's first word, from the run's data."""
    b = r["benchmarks"]
    out: dict[str, str] = {}
    lat = (b.get("latency") or {}).get("sizes") or {}
    sized = {int(k): v for k, v in lat.items() if "queries" in v}
    if sized:
        n = max(sized)
        big = sized[n]
        qs = big["queries"]
        by_p99 = sorted(qs, key=lambda k: -(qs[k]["heatseeker"]["p99_ms"] or 0))
        slow = ", ".join(f"{k} {qs[k]['heatseeker']['p99_ms']:.0f} ms (raw {qs[k]['raw']['p99_ms']:.0f})"
                         for k in by_p99[:3])  # fmt: skip
        text = f"slowest p99 at {n:,}: {slow}."
        prof = big.get("profiles") or {}
        if by_p99[0] in prof:
            text += f" {by_p99[0]}'s time: {_areas(prof[by_p99[0]]['by_area'])}."
        rest = big.get("mix_without_rollup")
        if rest:
            text += (f" Without the roll-up the mix's p99 is {rest['heatseeker']['p99_ms']:.1f} ms "
                     f"(raw {rest['raw']['p99_ms']:.1f} ms).")
        if "roll-up to roots" in by_p99[:1]:
            text += (" A roll-up's total is exact up to 10,000 roots, then \"at least\" (as "
                     "Elasticsearch's `track_total_hits`; the raw baseline counts the same way): a "
                     "terms aggregation over the u64 hash column `_rootkey` within the bound, a "
                     "cardinality estimate far beyond it. Its page is rounds of top-k searches "
                     "over every matching stack ordered by score then root id (`_rootord`, a u64 "
                     "column; roots with several matches are asked again for their order), then "
                     "the page's matches, their count per root and the roots' documents.")
        out["query"] = text
        worst = sorted(qs, key=lambda k: -(qs[k]["overhead_p50"] or 0))[:2]
        text = "largest overhead: " + ", ".join(f"{k} {qs[k]['overhead_p50']}×" for k in worst) + "."
        for k in worst:
            if k in prof:
                text += f" {k}'s time: {_areas(prof[k]['by_area'])}."
        out["overhead"] = text
    idx = b.get("indexing") or {}
    if idx.get("profile"):
        p = idx["profile"]
        sizes = idx.get("sizes") or {}
        n = max(sizes, key=int) if sizes else None
        row = sizes[n] if n else {}
        rb, raw = row.get("rebuild") or {}, row.get("raw") or {}
        cpu = (rb.get("process_cpu_s") or 0) + (rb.get("workers_cpu_s") or 0)
        out["bulk"] = (f"the rebuild is CPU-bound on this machine's cores: {_f(round(cpu, 1))} CPU s in "
                       f"all (its worker processes included) against raw's {_f(raw.get('process_cpu_s'))} "
                       "s, since heatseeker indexes each value three ways (exact path=value terms, "
                       "paths, full text) where raw indexes one JSON field; its Python time: "
                       f"{_areas(p['by_area'], 4)} (cProfile, {p['stacks']:,} stacks).")  # fmt: skip
    osr = {k: v for k, v in ((b.get("opensearch") or {}).get("sizes") or {}).items()
           if (v.get("rebuild") or {}).get("node_cpu_s") is not None
           and (v.get("raw") or {}).get("node_cpu_s") is not None}
    if osr:
        n = max(osr, key=int)
        rb, raw = osr[n]["rebuild"], osr[n]["raw"]
        k = 1000 / int(n)
        prep = (rb.get("workers_cpu_s") or 0) + (rb.get("reindex_cpu_s") or 0)
        text = (f"CPU per document (round 1): OpenSearch's own indexing "
                f"{_f(round(rb['node_cpu_s'] * k, 2))} ms under heatseeker, "
                f"{_f(round(raw['node_cpu_s'] * k, 2))} ms under raw; heatseeker's reading and "
                f"preparing {_f(round(prep * k, 2))} ms more (raw's documents were prepared before its "
                f"clock: {_f(round(raw['prepare_cpu_s_untimed'] * k, 2))} ms), and the node, the "
                "worker processes and the reindex process share the same 2 cores, so the ratio is "
                "about OpenSearch's CPU over OpenSearch's plus the preparation's.")  # fmt: skip
        out["opensearch-ratio"] = text
        out["opensearch-speed"] = ("raw parallel_bulk itself: "
                                   f"{_f(raw['docs_per_s'])} stacks/s; " + text)
    st = b.get("store") or {}
    if st.get("fill", {}).get("tables_mb"):
        big = ", ".join(f"{k} {_f(v)} MB" for k, v in list(st["fill"]["tables_mb"].items())[:3])
        hist = st["fill"]["history"]
        out["store"] = (f"the store's largest tables: {big} (the documents' JSON: "
                        f"{_f(st['json_mb'])} MB; stack rows {_f(st['fill']['stack_rows_mb'])} MB, "
                        f"revision bodies {_f(hist['body_mb'])} MB, the revisions' file digests "
                        f"{_f(hist.get('file_digests_mb'))} MB).")  # fmt: skip
    sy = b.get("sync") or {}
    if sy.get("raw_reader"):
        cpu = [(r.get("heat_cpu_ms_per_stack"), s.get("heat_cpu_ms_per_stack"))
               for r, s in zip(sy["raw_reader"]["rounds"], sy["sync_full"]["rounds"], strict=False)]
        out["sync"] = (f"per round {', '.join(_x(x) for x in sy['ratio_sync_to_raw']['per_round'])}: "
                       "Heat is the bottleneck (its CPU per stack read, raw / sync: "
                       + ", ".join(f"{_f(a)} / {_f(c)} ms" for a, c in cpu)
                       + "); the sides' rates move with the machine's load (see Machine).")
    for i, burst in enumerate((b.get("freshness") or {}).get("bursts") or []):
        w = burst.get("where_the_time_goes") or {}
        parts = {k: v["p50_ms"] for k, v in w.items() if isinstance(v, dict) and v.get("p50_ms") is not None}
        if not parts:
            continue
        top = max(parts, key=lambda k: parts[k])
        floor = (burst.get("floor") or {}).get("p50_ms")
        out[f"freshness-{i}"] = (
            f"The Heat reads of one change took {_f(floor)} ms (p50) during this burst (the floor). "
            "p50 per step: " + ", ".join(f"{k.replace('_', ' ')} {v:.0f} ms" for k, v in parts.items())
            + f"; the largest is {top.replace('_', ' ')}. Batches: {_at_once(w)} (mean "
            f"{w.get('mean_batch_s')} s each, Heat reads included).")  # fmt: skip
    return out


def _query_vs_api(q: dict | None, lat: dict | None) -> list[str]:
    if q is None:
        return []
    L = ["## 1. Query speed against the Heat API (real sandbox)", ""]
    st = _status(q)
    if st:
        return L + [st, ""]
    L.append(f"The sandbox held {q['stacks']:,} stacks; asked by {q['asked_by']} "
             f"({q['stacks_visible']:,} stacks, {q['roots']:,} roots visible). heatseeker: "
             f"`heatseeker sync` ({q['sync_kind']}) took {q['sync_seconds']:.1f} s, then in-process "
             "searches (p50 of repeated runs); the CLI column is one `heatseeker search` command, "
             "Python start-up included. API: python-heatclient, sequential, as a user scripts it.")
    L.append("")
    rows = []
    for v in q["questions"].values():
        calls = ", ".join(f"{c['calls']} × {n} ({c['mean_ms']:.0f} ms)" for n, c in v["api_calls"].items())
        rows.append([v["question"], str(v["answer_size"]), "yes" if v["answers_agree"] else "**NO**",
                     f"{v['api_walk_s']:.2f} s", calls, f"{v['heatseeker']['p50_ms']:.2f} ms",
                     f"{_f(v['heatseeker_cli_s'])} s", _x(v["speedup_p50"])])  # fmt: skip
    L += _table(["question", "answer", "same answer", "Heat API walk", "API calls (mean each)",
                 "heatseeker p50", "CLI", "speed-up"], rows)  # fmt: skip
    ex = q.get("extrapolated_100k") or {}
    if ex:
        L.append("**At 100,000 stacks — EXTRAPOLATED for the API walk** (the measured mean cost of "
                 "each kind of call × the calls the walk would make, 70 % roots; Heat's own cost "
                 "per call would likely grow with its database, so this is optimistic for the API). "
                 "heatseeker's figure is *measured*: the same question in the latency benchmark's "
                 "mix on 100,000 synthetic stacks.")  # fmt: skip
        L.append("")
        from bench.query_vs_api import LATENCY_EQUIVALENT, QUESTIONS

        big = ((lat or {}).get("sizes") or {}).get("100000") or {}
        rows = []
        for k, e in ex.items():
            calls = " + ".join(f"{n:,} {kind}" for kind, n in e["calls"].items())
            hq = (big.get("queries") or {}).get(LATENCY_EQUIVALENT[k]) or {}
            hs = (hq.get("heatseeker") or {}).get("p50_ms")
            ratio = None if hs is None else round(e["seconds"] * 1000 / hs)
            rows.append([QUESTIONS[k], calls, f"{e['seconds']:,.0f} s ({e['seconds'] / 3600:.1f} h)",
                         "–" if hs is None else f"{hs:.2f} ms ({LATENCY_EQUIVALENT[k]})",
                         "–" if ratio is None else f"{ratio:,}×"])  # fmt: skip
        L += _table(["question", "API calls at 100k", "API walk (extrapolated)",
                     "heatseeker p50 at 100k (measured)", "ratio"], rows)  # fmt: skip
    return L


def _latency(lat: dict | None) -> list[str]:
    if lat is None:
        return []
    L = ["## 2. Query latency at scale (synthetic stacks)", ""]
    st = _status(lat)
    if st:
        return L + [st, ""]
    L.append("Top 20 with full sources and the exact total, through `querystring.parse` → "
             "`Searcher` + `Visibility` → tantivy engine, against the same question written by hand "
             "as raw tantivy queries on the same index (baseline). Each query cycles through 12 "
             "values; the two sides alternate. Overhead = heatseeker ÷ raw.")
    L.append("")
    for n, r in sorted(lat["sizes"].items(), key=lambda x: int(x[0])):
        L.append(f"### {int(n):,} stacks")
        L.append("")
        if "skipped" in r:
            L += [f"_Skipped: {r['skipped']}_", ""]
            continue
        L.append(f"{r['rounds']} rounds; the project-scoped queries are asked by a member of the "
                 f"largest project ({r['project']['stacks']:,} stacks).")
        L.append("")
        rows = []
        for name, q in r["queries"].items():
            rows.append([name, f"`{q['query']}`", _f(q["matches_median"]),
                         _f(q["heatseeker"]["p50_ms"]), _f(q["heatseeker"]["p99_ms"]),
                         _f(q["raw"]["p50_ms"]), _f(q["raw"]["p99_ms"]), _x(q["overhead_p50"])])  # fmt: skip
        mx = r["mix"]
        rest = r.get("mix_without_rollup")
        if rest:
            rows.append(["mix without roll-up", "", "", _f(rest["heatseeker"]["p50_ms"]),
                         _f(rest["heatseeker"]["p99_ms"]), _f(rest["raw"]["p50_ms"]),
                         _f(rest["raw"]["p99_ms"]), _x(rest["overhead_p50"])])  # fmt: skip
        rows.append(["**whole mix**", "", "", f"**{_f(mx['heatseeker']['p50_ms'])}**",
                     f"**{_f(mx['heatseeker']['p99_ms'])}**", _f(mx["raw"]["p50_ms"]),
                     _f(mx["raw"]["p99_ms"]), f"**{_x(mx['overhead_p50'])}**"])  # fmt: skip
        L += _table(["query", "as typed", "matches (median)", "heatseeker p50 ms", "p99 ms",
                     "raw p50 ms", "raw p99 ms", "overhead p50"], rows)  # fmt: skip
        L.append(f"Overhead over the whole mix: {_x(mx['overhead_p50'])} at p50, "
                 f"{_x(mx['overhead_p99'])} at p99, {_x(mx['overhead_total_time'])} in total time. "
                 f"Answers compared: {_agree(r['answers_disagree'])} "
                 f"Searching process peak RSS {r['peak_rss_mb']} MB.")  # fmt: skip
        L.append("")
        for name, p in (r.get("profiles") or {}).items():
            L.append(f"Profile of **{name}** ({p['why']}; cProfile, {p['runs']} runs): own time by "
                     "area " + ", ".join(f"{k} {v:.0%}" for k, v in p["by_area"].items()) + "; top: "
                     + ", ".join(f"`{t['function']}` {t['share']:.0%}" for t in p["top_own_time"][:5])
                     + ".")  # fmt: skip
            L.append("")
    return L


def _at_once(w: dict) -> str:
    n = w.get("batches_at_once_max")
    if n is None:
        return "handled one at a time (heatseeker of this run had no [listener] workers)"
    return "handled one at a time" if n <= 1 else f"up to {n} handled at once"


def _agree(disagree: list[dict]) -> str:
    if not disagree:
        return "all agree."
    return "DISAGREE: " + json.dumps(disagree[:5]) + "."


def _indexing(idx: dict | None) -> list[str]:
    if idx is None:
        return []
    L = ["## 3. Indexing (synthetic stacks)", ""]
    st = _status(idx)
    if st:
        return L + [st, ""]
    L.append("heatseeker: `Projector.rebuild()` from a store holding the generated documents (what "
             "`heatseeker reindex` does), its documents read and prepared by one worker process per "
             "core (projection.py) and added by the reindex process; also in one process alone. "
             "Baseline: the same documents read from the same store and added by hand to a tantivy "
             "index with one JSON field (tantivy flattens in Rust), same writer memory (128 MB) and "
             "threads. Each phase in its own process; heatseeker's peak RSS is the sum of its "
             "processes (sampled), the others' their own. Target (issue 16): at least 0.9x raw's "
             "speed at 100k, under 1 GB. The store fill (`Store.apply`, 1,000 per durable "
             "transaction) is what a sync writes, without Heat.")
    L.append("")
    rows = []
    for n, r in sorted(idx["sizes"].items(), key=lambda x: int(x[0])):
        rb, raw, fill = r["rebuild"], r["raw"], r["fill"]
        alone = r.get("rebuild_one_process") or {}
        rss = r.get("peak_rss_all_processes_mb", rb.get("peak_rss_all_processes_mb", rb["peak_rss_mb"]))
        cpu = (rb["process_cpu_s"] or 0) + (rb.get("workers_cpu_s") or 0)
        rows.append([f"{int(n):,}", f"**{_f(rb['docs_per_s'])}** ({rb.get('workers', 1)} workers)",
                     _x(r.get("ratio_heatseeker_over_raw_speed")), _f(round(cpu, 1)),
                     f"{_f(rss)} MB", f"{_f(rb['index_mb'])} MB",
                     _f(alone.get("docs_per_s")), _x(r.get("ratio_one_process_over_raw_speed")),
                     _f(raw["docs_per_s"]), _f(raw["process_cpu_s"]), f"{_f(raw['peak_rss_mb'])} MB",
                     f"{_f(raw['index_mb'])} MB", _f(fill["docs_per_s"]),
                     f"{_f(fill['store_mb'])} MB ({_f(fill['mean_doc_kb'])} KB/doc)"])  # fmt: skip
    for n, r in sorted(idx["sizes"].items(), key=lambda x: int(x[0])):
        per = r.get("ratio_heatseeker_over_raw_per_round") or []
        if len(per) > 1:
            L.append(f"{int(n):,} stacks, {len(per)} rounds taking turns (heatseeker ÷ raw): "
                     + ", ".join(f"{x['rebuild']['docs_per_s']:g} ÷ {x['raw']['docs_per_s']:g} = "
                                 f"{_x(q)}" for x, q in zip(r["rounds"], per, strict=True))
                     + f"; the median {_x(r['ratio_heatseeker_over_raw_speed'])} is the ratio below "
                     "(the other columns are round 1's).")  # fmt: skip
            L.append("")
    L += _table(["stacks", "heatseeker stacks/s", "÷ raw (target 0.9)", "CPU s (all)",
                 "peak RSS (all)", "index", "one process stacks/s", "÷ raw", "raw stacks/s",
                 "raw CPU s", "raw peak RSS", "raw index", "store fill stacks/s", "store"],
                rows)  # fmt: skip
    split = [(n, x["rebuild"]) for n, r in sorted(idx["sizes"].items(), key=lambda x: int(x[0]))
             for x in r.get("rounds") or [r] if x["rebuild"].get("peak_rss_file_mb") is not None]
    if split:
        L.append("Peak RSS (all) at its sample, split: " + "; ".join(
            f"{int(n):,}: {_f(rb['peak_rss_all_processes_mb'])} MB = {_f(rb['peak_rss_anon_mb'])} MB "
            f"anonymous + {_f(rb['peak_rss_file_mb'])} MB mapped files" for n, rb in split)
            + " (tantivy maps the segment files it writes and merges: page cache the kernel can "
            "take back, counted in RSS).")  # fmt: skip
        L.append("")
    p = idx.get("profile")
    if p:
        L.append(f"Where a rebuild's time goes (cProfile of {p['stacks']:,} stacks, own time): "
                 + ", ".join(f"{k} {v:.0%}" for k, v in p["by_area"].items()) + ". Top functions: "
                 + ", ".join(f"`{t['function']}` {t['share']:.0%}" for t in p["top_own_time"][:6])
                 + ".")  # fmt: skip
        L.append("")
    return L


def _opensearch(os_: dict | None, idx: dict | None, lat: dict | None) -> list[str]:
    if os_ is None:
        return []
    L = ["## 6. The OpenSearch engine (synthetic stacks)", ""]
    st = _status(os_)
    if st:
        return L + [st, ""]
    node = os_["node"]
    L.append(f"A dedicated single-node OpenSearch {node.get('version', '?')} (tools/opensearch node "
             f"{node['n']}, heap {node['heap']}, wiped first) on this machine, fed the stacks of "
             "the indexing benchmark. Rebuild: `Projector.rebuild()` on the OpenSearch engine (what "
             "`heatseeker reindex` does: worker processes read the store and encode each document "
             "once, the reindex process frames them into bulk requests, `bulk_concurrency` in "
             "flight, no refresh until the swap). Its baseline (raw, issue 16 part 2): the same "
             "documents, prepared by the engine's own code *before* the clock starts, sent by "
             "`helpers.parallel_bulk` with the same request size and concurrency into an index "
             "with the same mapping and settings, ended the same way (flush, refresh); the two take "
             "turns. Queries: the mix of section 2 through heatseeker on OpenSearch; baseline "
             "(raw): the very requests heatseeker sent for each question, replayed straight with "
             "opensearch-py (OpenSearch's time plus HTTP and JSON), so the ratio is heatseeker's own "
             "overhead on this engine. The answers are compared with the embedded engine's.")
    L.append("")
    rows = []
    for n, r in sorted(os_["sizes"].items(), key=lambda x: int(x[0])):
        if "skipped" in r:
            rows.append([f"{int(n):,}", r["skipped"]] + [""] * 9)
            continue
        rb, raw = r["rebuild"], r.get("raw") or {}
        emb = ((idx or {}).get("sizes", {}).get(n) or {}).get("rebuild") or {}
        per = ", ".join(_x(x) for x in r.get("ratio_heatseeker_over_raw_per_round") or [])
        rows.append([f"{int(n):,}", f"**{_f(rb['docs_per_s'])}**", _f(raw.get("docs_per_s")),
                     f"**{_x(r.get('ratio_heatseeker_over_raw_speed'))}** ({per})",
                     _f(emb.get("docs_per_s")),
                     f"{_f(rb.get('peak_rss_all_processes_mb', rb.get('peak_rss_mb')))} MB",
                     f"{_f(rb['index_mb'])} MB", f"{_f(raw.get('index_mb'))} MB",
                     f"{_f(emb.get('index_mb'))} MB", f"{_f(rb['node_rss_mb'])} MB",
                     f"{_f(rb.get('bulk_size'))} × {_f(rb.get('bulk_concurrency'))}"])  # fmt: skip
    L += _table(["stacks", "heatseeker stacks/s", "raw parallel_bulk stacks/s",
                 "÷ raw (target 0.8; the rounds)", "embedded engine stacks/s (section 3)",
                 "heatseeker peak RSS (all processes)", "OpenSearch index", "raw index",
                 "embedded index", "OpenSearch node RSS (JVM)", "request size × in flight"],
                rows)  # fmt: skip
    for n, r in sorted(os_["sizes"].items(), key=lambda x: int(x[0])):
        rb, raw = r.get("rebuild") or {}, r.get("raw") or {}
        if rb.get("node_cpu_s") is not None and raw.get("node_cpu_s") is not None:
            k = 1000 / int(n)
            own = rb.get("reindex_cpu_s", rb.get("process_cpu_s")) or 0
            mine = rb["node_cpu_s"] + (rb.get("workers_cpu_s") or 0) + own
            theirs = raw["node_cpu_s"] + raw["client_cpu_s"]
            L.append(f"CPU per document at {int(n):,} stacks (round 1): heatseeker "
                     f"{_f(round(mine * k, 2))} ms (OpenSearch {_f(round(rb['node_cpu_s'] * k, 2))}, "
                     f"worker processes reading and preparing "
                     f"{_f(round((rb.get('workers_cpu_s') or 0) * k, 2))}, the reindex process "
                     f"{_f(round(own * k, 2))}); raw "
                     f"{_f(round(theirs * k, 2))} ms (OpenSearch "
                     f"{_f(round(raw['node_cpu_s'] * k, 2))}, the client "
                     f"{_f(round(raw['client_cpu_s'] * k, 2))}; its documents' preparation, "
                     f"before the clock: {_f(round(raw['prepare_cpu_s_untimed'] * k, 2))}). On "
                     "2 cores the speed is about 2 cores ÷ the CPU per document.")  # fmt: skip
            L.append("")
    for n, r in sorted(os_["sizes"].items(), key=lambda x: int(x[0])):
        rounds = r.get("rounds") or []
        if len(rounds) > 1:
            L.append(f"{int(n):,} stacks, every round (heatseeker ÷ raw stacks/s): " + "; ".join(
                f"{_f(x['rebuild']['docs_per_s'])} ÷ {_f(x['raw']['docs_per_s'])}" for x in rounds))
            L.append("")
    for n, r in sorted(os_["sizes"].items(), key=lambda x: int(x[0])):
        la = r.get("latency")
        if not la:
            continue
        emb = ((lat or {}).get("sizes", {}).get(n) or {}).get("queries", {})
        L.append(f"### Query mix on OpenSearch, {int(n):,} stacks")
        L.append("")
        L.append(f"{la['rounds']} rounds; project-scoped questions asked by a member of the largest "
                 f"project ({la['project']['stacks']:,} stacks). Answers compared with the embedded "
                 f"engine: {_agree(la['answers_disagree'])}")
        L.append("")
        rows = []
        for name, q in la["queries"].items():
            e = (emb.get(name) or {}).get("heatseeker") or {}
            rows.append([name, q["requests"], _f(q["heatseeker"]["p50_ms"]),
                         _f(q["heatseeker"]["p99_ms"]), _f(q["raw"]["p50_ms"]),
                         _x(q["overhead_p50"]), _f(e.get("p50_ms"))])  # fmt: skip
        mix = la["mix"]
        rows.append(["**whole mix**", "", f"**{_f(mix['heatseeker']['p50_ms'])}**",
                     f"**{_f(mix['heatseeker']['p99_ms'])}**", _f(mix["raw"]["p50_ms"]),
                     f"**{_x(mix['overhead_p50'])}**", ""])  # fmt: skip
        L += _table(["query", "requests", "heatseeker p50 ms", "p99 ms", "raw replay p50 ms",
                     "overhead p50", "embedded engine p50 ms (section 2)"], rows)  # fmt: skip
    return L


def _history(h: dict | None) -> list[str]:
    if h is None:
        return []
    L = ["## 7. History: what keeping revisions costs (bench/history.py)", ""]
    st = _status(h)
    if st:
        return L + [st, ""]
    L.append(f"{h['stacks']:,} generated stacks ({_f(h['mean_doc_json_bytes'] / 1024)} KB of JSON "
             f"each), created then changed in {h['update_rounds']} rounds (a new revision each), "
             f"then one round of state-only changes (no revision), through `Store.apply`, "
             f"{h['batch']} changes per durable transaction, into fresh stores: history off (the "
             "baseline, the store as it was before history), on with zlib (the default), on "
             f"without compression. Best of {h['repeat']} run(s) each, in alternating order; CPU "
             "µs are this process's only (less sensitive to other work than the wall clock).")
    L.append("")
    c = h["configs"]
    rows = []
    for name, label in (("off", "history off (baseline)"), ("zlib", "on, zlib (default)"),
                        ("raw", "on, uncompressed")):
        x = c[name]
        rows.append([label, _f(x.get("body_bytes_per_revision")), _f(x.get("disk_bytes_per_revision")),
                     _f(x["update_per_s"]), _f(x["update_cpu_us"]), _x(x.get("update_cpu_ratio")),
                     _f(x["state_only_cpu_us"]), _x(x.get("state_only_cpu_ratio")),
                     f"{_f(x['file_mb'])} MB"])  # fmt: skip
    L += _table(["store", "revision body B", "disk B per revision", "updates/s (wall)",
                 "CPU µs per update", "× off", "CPU µs per state-only change", "× off",
                 "SQLite file"], rows)  # fmt: skip
    L.append(f"zlib keeps a revision in {_f(h.get('compression_ratio'))}× less space than plain "
             "JSON. A sync or a notification batch spends its time reading Heat (tens of ms per "
             "stack); the store's extra work per change is well under a millisecond.")
    L.append("")
    return L


def _ratio(a, b):
    return None if not a or not b else round(a / b, 2)


def _freshness(fr: dict | None) -> list[str]:
    if fr is None:
        return []
    L = ["## 4. Freshness (real sandbox, RabbitMQ, `heatseeker listen`; #14)", ""]
    st = _status(fr)
    if st:
        return L + [st, ""]
    L.append("Single changes one at a time on a quiet system, then bursts of creates, updates and "
             "deletes sent at once while Heat is busy with them; for each stack, the time from its "
             "`end` notification's timestamp until a search first returned the new state (polled "
             f"every {fr['poll_interval_ms']:.0f} ms). **The floor** is what the Heat reads of one "
             "change cost at the same moment: a probe reads a stack outside the burst as the "
             "listener does, every 0.2 s; the ratio divides each figure by the floor's p50 of the "
             f"same burst. Listener: {fr['listener_settings']}. The steps come from the listener's "
             "own timestamps (`bench/listener_proc.py`).")  # fmt: skip
    L.append("")
    if fr.get("floor_quiet"):
        q = fr["floor_quiet"]
        L += [f"Floor on the quiet system: p50 {_f(q['p50_ms'])} ms, p99 {_f(q['p99_ms'])} ms "
              f"({q['n']} reads).", ""]
    rows = []
    runs = []
    if fr.get("singles"):
        runs.append(("single changes, one at a time", fr["singles"]))
    runs += [(f"{b['creates']} creates + {b['updates']} updates + {b.get('deletes', 0)} deletes", b)
             for b in fr["bursts"]]
    if fr.get("history_off"):
        b = fr["history_off"]
        runs.append((f"{b['creates']} + {b['updates']}, history off", b))
    for name, b in runs:
        lag, floor, ratio = b["lag"], b.get("floor") or {}, b.get("ratio") or {}
        met = {True: "met", False: "MISSED", None: "–"}[b.get("meets")]
        rows.append([name, str(lag["n"]), f"{_f(lag['p50_ms'])} / {_f(lag['p99_ms'])} ms",
                     f"{_f(floor.get('p50_ms'))} / {_f(floor.get('p99_ms'))} ms",
                     f"{_f(ratio.get('p50_ms'))}× / {_f(ratio.get('p99_ms'))}×",
                     f"{b.get('target') or '–'}: {met}",
                     f"{b['heat_busy_seconds']} s" if "heat_busy_seconds" in b else "–"])
    L += _table(["run", "samples", "p50 / p99", "floor p50 / p99 (same time)",
                 "÷ floor p50", "target", "Heat busy with the burst"], rows)
    kinds = ("create", "update", "delete")
    rows = [[name] + [f"{_f(b['per_kind'][k]['p50_ms'])} / {_f(b['per_kind'][k]['p99_ms'])} ms "
                      f"({b['per_kind'][k]['n']})" if k in b.get("per_kind", {}) else "–"
                      for k in kinds]
            for name, b in runs if b.get("per_kind")]
    if rows:
        L += ["Per kind of event (p50 / p99, samples): a burst's creates do not hold its deletes "
              "and updates back (the reads that finish an action go first).", ""]
        L += _table(["run", "create", "update", "delete"], rows)
    rows = [[name, str(b["coalescing"]["notifications"]), str(b["coalescing"]["heat_reads"]),
             _f(b["coalescing"]["reads_per_notification"]),
             str(b["coalescing"].get("heat_calls", "–")),
             _f(b["coalescing"].get("calls_per_notification"))]
            for name, b in runs if b.get("coalescing")]
    if rows:
        L += ["Coalescing: the notifications the listener handled during each burst against the "
              "Heat reads it made (a stack's events in one batch, or asked for by two batches "
              "before its read began, cost one read), and the Heat API calls those reads made (a "
              "read is five calls; the read of a create's end two, its content read at its start).",
              ""]
        L += _table(["run", "notifications", "Heat reads", "reads per notification",
                     "Heat API calls", "calls per notification"], rows)
    fid = fr.get("fidelity") or {}
    if fid:
        L += [f"History fidelity: {fid['updates']} updates of one stack ({fid['back_to_back']} back to "
              f"back, each sent as soon as Heat showed the last one complete, then "
              f"{fid['two_seconds_apart']} 2 s apart): {fid['revisions']} revisions recorded, "
              f"{fid['updates_shown_by_a_revision']} updates shown by a revision "
              f"({fid['back_to_back_shown']} of the back-to-back ones, {fid['apart_shown']} of the "
              f"2 s apart), {fid['gaps_marked']} states marked as never observed; every update "
              f"accounted for: {'yes' if fid['accounted_for'] else 'NO'}.", ""]
    for name, b in runs:
        w = b.get("where_the_time_goes") or {}
        if not w:
            continue
        parts = [(k, v) for k, v in w.items() if isinstance(v, dict)]
        L.append(f"{name}, where the time goes (p50 / max per stack): "
                 + "; ".join(f"{k.replace('_', ' ')} {_f(v['p50_ms'])} / {_f(v['max_ms'])} ms"
                             for k, v in parts)
                 + f". {w.get('batches')} batches ({_at_once(w)}; mean {w.get('mean_batch_s')} s, "
                 f"{w.get('mean_stacks_per_batch')} stacks each), {w.get('projections')} index commits.")  # fmt: skip
        L.append("")
        if b.get("not_seen"):
            L += [f"Never seen in the index: {b['not_seen']}", ""]
    return L


def _listener(li: dict | None) -> list[str]:
    if li is None:
        return []
    L = ["## 5. Listener throughput (real sandbox, RabbitMQ)", ""]
    st = _status(li)
    if st:
        return L + [st, ""]
    L.append(f"{li['notifications']:,} notifications (real envelope format) about {li['stacks']} real "
             "sandbox stacks, published at once to a fresh listener (empty data dir; "
             f"{li.get('listener_settings') or 'heatseeker defaults, batch size 100'}).")  # fmt: skip
    L.append("")
    L += _table(["", ""], [
        ["publish", f"{_f(li['publish_s'])} s"],
        ["drained (all handled, queue empty)", f"{_f(li['drained_s'])} s ({_f(li['notifications_per_s'])} notifications/s)"],
        ["index matches the API", f"{_f(li['index_matches_api_s'])} s ({li['stacks_matching_api']}/{li['stacks']} stacks)"],
        ["batches", f"{li['batches']}, {_at_once(li)} (mean {li['mean_batch_size']} notifications, {li.get('mean_stacks_per_batch')} stacks, {li.get('mean_batch_s')} s)"],
        ["stack reads from Heat (5 API calls each)", f"{li['stack_reads']:,} (+ {li['parent_walk_shows']} shows walking up to unknown parents) = {li['heat_api_calls']:,} API calls"],
        ["reads if each notification were handled alone", f"{li['reads_if_each_notification_alone']:,}"],
        ["reads saved by coalescing", f"{li['reads_saved']:,} ({_f(li['reads_saved_share'] * 100 if li['reads_saved_share'] is not None else None)} %)"],
        ["listener RSS idle → peak", f"{_f(li['rss_idle_mb'])} MB → {_f(li['peak_rss_mb'])} MB"],
    ])  # fmt: skip
    return L


def _several_hosts(rec: dict | None, mh: dict | None, mf: dict | None) -> list[str]:
    if rec is None and mh is None and mf is None:
        return []
    L = ["## 8. Several hosts: the record on MariaDB, two APIs, two listeners (#13)", ""]
    if rec is not None:
        L.append("### The record: `Store.apply`/`get` on MariaDB against SQLite (bench/record_micro.py)")
        L.append("")
        st = _status(rec)
        if st:
            L += [st, ""]
        else:
            L.append(f"{rec['n']:,} new stacks of {rec['resources_per_stack']} resources applied in "
                     f"batches of {rec['batch']}, {rec['n']:,} gets, {rec['n']:,} updates that each "
                     f"add a revision (history on); best of {rec['rounds']}, rounds alternated; the "
                     "sandbox's MariaDB over its unix socket, a throw-away database.")
            L.append("")
            ms, ratio = rec["ms_per_change"], rec["mariadb_over_sqlite"]
            rows = [[label, _f(ms["sqlite"][k]), _f(ms["mariadb"][k]), _x(ratio[k])]
                    for k, label in (("apply_new", "apply (new stack)"), ("get", "get"),
                                     ("apply_update", "apply (update + revision)"))]
            L += _table(["ms per change", "SQLite (baseline)", "MariaDB", "× SQLite"], rows)
    if mh is not None:
        L.append("### The same query mix through one API process and two (bench/multihost.py)")
        L.append("")
        st = _status(mh)
        if st:
            L += [st, ""]
        else:
            L.append(f"{mh['stacks']:,} synthetic stacks, record on MariaDB, index on OpenSearch; "
                     f"{mh['clients']} client threads for {_f(mh['seconds'])} s per run, best of 2 "
                     "alternated; two `heatseeker serve` processes behind a round-robin client. "
                     "Both processes, OpenSearch and MariaDB share this machine's cores: the ratio "
                     "is what a second process adds here, not what a second host would.")
            L.append("")
            b = mh["best"]
            rows = [[label, _f(b[k]["rps"]), _f(b[k]["p50_ms"]), _f(b[k]["p99_ms"]),
                     _f(b[k]["errors"])] for k, label in (("one", "one API (baseline)"),
                                                          ("two", "two APIs"))]
            L += _table(["", "req/s", "p50 ms", "p99 ms", "errors"], rows)
            L.append(f"Two over one: throughput {_x(mh['rps_ratio_two_over_one'])}, p50 "
                     f"{_x(mh['p50_ratio_two_over_one'])}, p99 {_x(mh['p99_ratio_two_over_one'])}.")
            L.append("")
    if mf is not None:
        L.append("### Freshness with one listener process and two on one pool "
                 "(bench/multihost_freshness.py)")
        L.append("")
        st = _status(mf)
        if st:
            L += [st, ""]
        else:
            L.append(f"A burst of {mf['n']} creates + {mf['n']} updates on the real sandbox, record "
                     "on MariaDB, index on OpenSearch; from Heat's `end` notification to the first "
                     "search that shows the new state.")
            L.append("")
            rows = [[k, m["listeners"], m["samples"], m["not_seen"], _f(m["lag"]["p50_ms"]),
                     _f(m["lag"]["p99_ms"])] for k, m in mf["modes"].items()]
            L += _table(["run", "listeners", "samples", "not seen", "p50 ms", "p99 ms"], rows)
            L.append(f"Two over one: p50 {_x(mf['p50_ratio_two_over_one'])}, p99 "
                     f"{_x(mf['p99_ratio_two_over_one'])}.")
            L.append("")
    return L


if __name__ == "__main__":  # python -m bench.report results/latest.json: print the Markdown again
    from bench.run import assess

    with open(sys.argv[1]) as fh:
        data = json.load(fh)
    data["assessment"] = assess(data)
    print(markdown(data), end="")
