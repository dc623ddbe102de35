"""1. Query speed against the Heat API, on the real sandbox.

The baseline is what a user does today to answer a question about stacks: list every stack with
``show_nested`` (as a cloud admin, ``global_tenant``), then read what the question needs stack by
stack, sequentially, with python-heatclient (the cheapest forms: ``name/id`` paths, no output
resolution, ``nested_depth`` to read a whole tree's resources in one call).

heatseeker answers from an index that ``heatseeker sync`` built from the same sandbox, in-process
through ``querystring.parse`` → ``Searcher`` (as the API server does); the CLI's wall time (a new
Python process each time) is reported beside it. Both sides must give the same answer.

Questions:

1. root stacks holding a resource type anywhere in their tree (``Bench::Server``, a provider
   template resource at depth 0 or 1)   API: list + resources(nested_depth=3) of every root
2. stacks whose parameter ``image`` is X       API: list + show of every stack
3. stacks in a failed state under a given root  API: list (statuses and parents are in it)
4. the stack that owns a physical resource id   API: list + resources(nested_depth=3) of every root
   (the id could be anywhere: the walk reads every root; stopping at the owner would save half on
   average)

The API walk's cost at 100,000 stacks is *extrapolated* from the measured mean cost of each kind
of call (list page of 200, show, resources of a tree) times the number of calls it would make
(70 % roots, as in the synthetic set); it is not measured.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections import defaultdict

from bench import common, sandbox

RESOURCE_TYPE = "Bench::Server"
IMAGE = "rocky-9"
PAGE = 200
ROOT_SHARE_100K = 0.7
QUESTIONS = {
    "q1": "root stacks holding a resource type anywhere in their tree",
    "q2": "stacks whose parameter image is X",
    "q3": "stacks in a failed state under a given root",
    "q4": "the stack that owns a physical resource id",
}
# the latency benchmark's query that asks the same question (for the 100k comparison)
LATENCY_EQUIVALENT = {
    "q1": "roll-up to roots",
    "q2": "parameter value (all projects)",
    "q3": "failed under a root (all projects)",
    "q4": "physical resource id (all projects)",
}


class Calls:
    """Times every Heat API call of a walk, by kind."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = defaultdict(list)

    def __call__(self, kind: str, fn):
        started = time.perf_counter()
        out = fn()
        self.seconds[kind].append(time.perf_counter() - started)
        return out

    def summary(self) -> dict:
        return {k: {"calls": len(v), "mean_ms": round(1000 * sum(v) / len(v), 2)}
                for k, v in self.seconds.items()}  # fmt: skip


def api_list(hc, calls: Calls) -> list[dict]:
    out: list[dict] = []
    marker = None
    while True:
        kw = {"show_nested": True, "limit": PAGE}
        if hc.scope is None:
            kw["global_tenant"] = True
        if marker:
            kw["marker"] = marker
        page = calls("list page", lambda kw=kw: [s.to_dict() for s in hc.stacks.list(**kw)])
        out += page
        if len(page) < PAGE:
            return out
        marker = page[-1]["id"]


def _tree_resources(hc, calls: Calls, root: dict) -> list[dict]:
    path = f"{root['stack_name']}/{root['id']}"
    return calls("resources of a tree",
                 lambda: [r.to_dict() for r in hc.resources.list(path, nested_depth=3)])  # fmt: skip


def api_q1(hc, calls: Calls, _arg) -> set[str]:
    roots = [s for s in api_list(hc, calls) if not s.get("parent")]
    return {r["id"] for r in roots
            if any(x.get("resource_type") == RESOURCE_TYPE for x in _tree_resources(hc, calls, r))}


def api_q2(hc, calls: Calls, image: str) -> set[str]:
    found = set()
    for s in api_list(hc, calls):
        show = calls("show", lambda s=s: hc.stacks.get(f"{s['stack_name']}/{s['id']}",
                                                          resolve_outputs=False).to_dict())  # fmt: skip
        if (show.get("parameters") or {}).get("image") == image:
            found.add(s["id"])
    return found


def api_q3(hc, calls: Calls, root_id: str) -> set[str]:
    listing = api_list(hc, calls)
    parent = {s["id"]: s.get("parent") for s in listing}
    found = set()
    for s in listing:
        cursor, seen = s["id"], set()
        while cursor and cursor not in seen:
            if cursor == root_id:
                if s["stack_status"].endswith("_FAILED"):
                    found.add(s["id"])
                break
            seen.add(cursor)
            cursor = parent.get(cursor)
    return found


def api_q4(hc, calls: Calls, physical_id: str) -> set[str]:
    found = set()
    for r in [s for s in api_list(hc, calls) if not s.get("parent")]:
        for res in _tree_resources(hc, calls, r):
            if res.get("physical_resource_id") == physical_id:
                for link in res.get("links") or []:
                    if link.get("rel") == "stack":
                        found.add(link["href"].rstrip("/").rsplit("/", 1)[-1])
    return found


def _pick_targets(hc, project: str | None) -> dict:
    """The failed root and the physical id the questions ask about (read before any timing)."""
    listing = sandbox.listing(hc, project=project)
    roots = {s["stack_name"]: s for s in listing if not s.get("parent")}
    fail_root = roots["bench-failtree-000"]["id"]
    tiered = roots["bench-tiered-000"]
    deepest = [r for r in hc.resources.list(f"{tiered['stack_name']}/{tiered['id']}", nested_depth=3)
               if r.resource_type == "OS::Heat::TestResource"]  # fmt: skip
    return {"q1": RESOURCE_TYPE, "q2": IMAGE, "q3": fail_root,
            "q4": deepest[0].physical_resource_id}  # fmt: skip


def _hs_question(searcher, view, parse, q: str, arg: str) -> set[str]:
    if q == "q1":
        res = searcher.search_roots(parse(f'resources.type:"{arg}"'), view=view, limit=10_000)
        return {r.root_id for r in res.roots}
    if q == "q2":
        found = searcher.search(parse(f"parameters.image:{arg}"), view=view, limit=10_000,
                                fields=("id", "name", "project_id", "status"))  # fmt: skip
    elif q == "q3":
        found = searcher.search(parse("status:*_FAILED"), view=view, subtree=arg, limit=10_000)
    else:
        found = searcher.search(parse(f"resources.physical_resource_id:{arg}"), view=view, limit=10)
    return {h.id for h in found.hits}


CLI_QUERY = {
    "q1": lambda a: ["--rollup", "root", f'resources.type:"{a}"'],
    "q2": lambda a: [f"parameters.image:{a}"],
    "q3": lambda a: ["--under", a, "status:*_FAILED"],
    "q4": lambda a: [f"resources.physical_resource_id:{a}"],
}


def run(quick: bool, rounds: int) -> dict:
    why = sandbox.available()
    if why:
        return {"skipped": f"the Heat sandbox does not answer ({why}): bash tools/sandbox/start.sh"}
    common.log("query vs API: making sure the bench stacks exist on the sandbox")
    seeded = sandbox.ensure(quick, log=common.log)
    # full: a cloud admin asks about every project; quick: a member of the quick project asks
    project = sandbox.QUICK_PROJECT if quick else None
    hc = sandbox.heatlab.hc_for(project) if project else sandbox.admin()
    hc.scope = project
    # full: a first sync into an empty data dir (its time is a figure of its own); quick: the
    # data dir of an earlier run is kept, the sync is then incremental
    d = os.path.join(common.WORK, "sandbox-index")
    first_sync = not quick or not os.path.isdir(d)
    if first_sync:
        common.fresh_dir(d)
    conf = common.write_conf(d, "heatseeker-bench-unused")
    common.log(f"query vs API: heatseeker sync ({'first' if first_sync else 'incremental'})")
    started = time.perf_counter()
    proc = subprocess.run(common.heatseeker_cmd(conf, "sync"), capture_output=True, text=True,
                          timeout=900, cwd=common.ROOT)  # fmt: skip
    if proc.returncode == 3:  # an index of an earlier schema: what an operator does on upgrade
        common.log("query vs API: the kept index needs `heatseeker reindex` (a newer schema)")
        subprocess.run(common.heatseeker_cmd(conf, "reindex"), capture_output=True, text=True,
                       timeout=900, cwd=common.ROOT, check=True)  # fmt: skip
        proc = subprocess.run(common.heatseeker_cmd(conf, "sync"), capture_output=True,
                              text=True, timeout=900, cwd=common.ROOT)  # fmt: skip
    sync_s = time.perf_counter() - started
    if proc.returncode != 0:
        return {"skipped": f"heatseeker sync failed: {proc.stdout[-500:]} {proc.stderr[-1500:]}"}

    from heatseeker.engines.tantivy import TantivyEngine
    from heatseeker.query.querystring import parse
    from heatseeker.query.visibility import Visibility
    from heatseeker.searcher import Searcher

    engine = TantivyEngine(os.path.join(d, "data", "index"), read_only=True)
    searcher, view = Searcher(engine), Visibility.everything()
    if project:
        view = Visibility(frozenset({project}))
    scope_args = ["--project", project] if project else ["--all-projects"]
    targets = _pick_targets(hc, project)
    total = engine.health()["documents"]
    walks = {"q1": api_q1, "q2": api_q2, "q3": api_q3, "q4": api_q4}
    out: dict = {
        "stacks": total,
        "asked_by": f"a member of project {project}" if project else "a cloud admin, all projects",
        "stacks_visible": len(sandbox.listing(hc, project=project)),
        "roots": sum(1 for s in sandbox.listing(hc, project=project) if not s.get("parent")),
        "bench_roots": len(seeded["roots"]),
        "bench_stacks_created_now": seeded["created"],
        "sync_seconds": round(sync_s, 2),
        "sync_kind": "first sync, empty data dir" if first_sync else "incremental",
        "sync_output": proc.stdout.strip()[-300:],
        "questions": {},
    }
    calls_all = Calls()
    for q, walk in walks.items():
        arg = targets[q]
        common.log(f"query vs API: {QUESTIONS[q]} — API walk")
        calls = Calls()
        started = time.perf_counter()
        api_answer = walk(hc, calls, arg)
        api_s = time.perf_counter() - started
        for k, v in calls.seconds.items():
            calls_all.seconds[k] += v
        hs_answer = _hs_question(searcher, view, parse, q, arg)
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            _hs_question(searcher, view, parse, q, arg)
            times.append(time.perf_counter() - started)
        started = time.perf_counter()
        cli = subprocess.run(common.heatseeker_cmd(conf, "search", *scope_args, "--json",
                                                   "--limit", "1000", *CLI_QUERY[q](arg)),
                             capture_output=True, text=True, timeout=120, cwd=common.ROOT)  # fmt: skip
        cli_s = time.perf_counter() - started
        hs = common.summary_ms(times)
        out["questions"][q] = {
            "question": QUESTIONS[q],
            "argument": arg,
            "answer_size": len(api_answer),
            "answers_agree": api_answer == hs_answer,
            "api_walk_s": round(api_s, 3),
            "api_calls": calls.summary(),
            "heatseeker": hs,
            "heatseeker_cli_s": round(cli_s, 2) if cli.returncode == 0 else None,
            "speedup_p50": common.ratio(api_s * 1000, hs["p50_ms"]),
        }
        if not out["questions"][q]["answers_agree"]:
            out["questions"][q]["difference"] = {
                "api_only": sorted(api_answer - hs_answer)[:10],
                "heatseeker_only": sorted(hs_answer - api_answer)[:10],
            }
    engine.close()
    per_call = {k: v["mean_ms"] / 1000 for k, v in calls_all.summary().items()}
    out["api_per_call_ms"] = calls_all.summary()
    out["extrapolated_100k"] = extrapolate(per_call, 100_000)
    return out


def extrapolate(per_call_s: dict, n: int) -> dict:
    """Seconds the API walk of each question would take at ``n`` stacks (EXTRAPOLATED)."""
    pages = -(-n // PAGE)
    roots = int(n * ROOT_SHARE_100K)
    lp = per_call_s.get("list page", 0.0)
    calls = {
        "q1": {"list page": pages, "resources of a tree": roots},
        "q2": {"list page": pages, "show": n},
        "q3": {"list page": pages},
        "q4": {"list page": pages, "resources of a tree": roots},
    }
    out = {}
    for q, c in calls.items():
        seconds = sum(count * per_call_s.get(kind, lp) for kind, count in c.items())
        out[q] = {"calls": c, "seconds": round(seconds, 1), "extrapolated": True}
    return out
