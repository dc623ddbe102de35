"""#15: one heatseeker for several regions, measured against one region in the same run.

1. **The query mix with a region filter against the mix without** (synthetic stacks of
   bench/generate.py, each tree in one of two regions, 60/40; an embedded index): the same six
   questions a project member asks, through ``querystring.parse`` → ``Searcher`` as the API runs
   them, with and without `` AND region:RegionTwo``; the two sides alternate who runs first. The
   answers are checked: the filtered total plus the other region's equals the unfiltered total.
2. **sync with two regions against one** (the real Keystone-mode Heats of the sandbox: RegionOne on
   8014 and RegionTwo on 8024, tools/sandbox/keystone-heat.sh): a few stacks are made in each
   region, then ``heatseeker sync`` into an empty data directory with ``[heat] regions =
   RegionOne`` and with ``RegionOne, RegionTwo``; stacks per second of each.
3. **Freshness with two regions against one**: a listener of RegionOne alone, then one of both
   regions; a stack of each region is updated a few times, one update at a time, and the time from
   the update call until a search shows the new parameter is taken (Heat's own update time is in
   it, the same on both sides: the ratio is what two regions cost the listener).

The stacks made here are deleted at the end.
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import time
import uuid

from bench import common

ONE, TWO = "RegionOne", "RegionTwo"
QUERIES = (  # (name, query string with {v}, values)
    ("parameter value", "parameters.image:{v}", ("cirros-0.6.2", "ubuntu-22.04", "rocky-9")),
    ("resource type", "resource_types:{v}", ("OS::Nova::Server", "OS::Neutron::Port")),
    ("failed stacks", "state:{v}", ("FAILED",)),
    ("a word anywhere", "{v}", ("web", "db", "billing")),
    ("name prefix", "name:{v}*", ("web", "api", "db")),
    ("roll-up to roots", "resource_types:{v}", ("OS::Heat::ResourceGroup",)),
)


def _region_of(root_id: str) -> str:
    return TWO if int(root_id.replace("-", "")[:8], 16) % 10 < 4 else ONE


def query_mix(n: int, seed: int, rounds: int) -> dict:
    """Section 1, in this process."""
    from bench import generate
    from heatseeker.engines.tantivy import TantivyEngine
    from heatseeker.query.querystring import parse
    from heatseeker.query.visibility import Visibility
    from heatseeker.searcher import Searcher

    d = common.fresh_dir(os.path.join(common.WORK, "regions-mix"))
    engine = TantivyEngine(os.path.join(d, "index"), writer_memory_mb=128)
    docs = []
    for doc in generate.stacks(n, seed):
        doc["region"] = _region_of(doc["root_id"])
        docs.append(doc)
    engine.upsert((doc, doc["version"]) for doc in docs)
    engine.commit()
    projects: dict[str, int] = {}
    for doc in docs:
        projects[doc["project_id"]] = projects.get(doc["project_id"], 0) + 1
    project = max(projects, key=lambda p: projects[p])
    view = Visibility(frozenset({project}))
    searcher = Searcher(engine)

    def ask(name: str, text: str) -> int:
        node = parse(text)
        if name == "roll-up to roots":
            return searcher.search_roots(node, view=view, limit=20).matched_stacks
        return searcher.search(node, view=view, limit=20).total

    rng = random.Random(seed)
    times: dict[str, dict[str, list[float]]] = {q[0]: {"all": [], "region": []} for q in QUERIES}
    disagree = []
    for r in range(rounds):
        for name, template, values in QUERIES:
            v = values[r % len(values)]
            plain, filtered = template.format(v=v), f"({template.format(v=v)}) AND region:{TWO}"
            order = [("all", plain), ("region", filtered)]
            if rng.random() < 0.5:
                order.reverse()
            totals = {}
            for side, text in order:
                t0 = time.perf_counter()
                totals[side] = ask(name, text)
                times[name][side].append(time.perf_counter() - t0)
            if r == 0:
                other = ask(name, f"({plain}) AND region:{ONE}")
                if totals["region"] + other != totals["all"] and name != "roll-up to roots":
                    disagree.append(f"{name} {v}: {totals['region']} + {other} != {totals['all']}")
    engine.close()
    every = {side: [t for q in times.values() for t in q[side]] for side in ("all", "region")}
    out = {
        "stacks": n, "regions": {ONE: sum(1 for d in docs if d["region"] == ONE),
                                 TWO: sum(1 for d in docs if d["region"] == TWO)},
        "project": project, "project_stacks": projects[project], "rounds": rounds,
        "per_query": {name: {"all": common.summary_ms(t["all"]),
                             "region": common.summary_ms(t["region"])}
                      for name, t in times.items()},
        "all": common.summary_ms(every["all"]), "region": common.summary_ms(every["region"]),
        "answers_disagree": disagree,
    }
    out["ratio_p50"] = common.ratio(out["region"]["p50_ms"], out["all"]["p50_ms"])
    out["ratio_p99"] = common.ratio(out["region"]["p99_ms"], out["all"]["p99_ms"])
    return out


# -- the real Heats of two regions --------------------------------------------------------------


def _conf(d: str, regions: list[str], pool: str) -> str:
    from tools.keystone import keystonelab as kl
    from tools.sandbox import heatlab as hl

    os.makedirs(os.path.join(d, "data"), exist_ok=True)
    name, password, project = kl.USERS["admin"]
    lines = [
        "[DEFAULT]", f"data_dir = {os.path.join(d, 'data')}",
        f"transport_url = {hl.KEYSTONE_HEAT_TRANSPORT_URL}",
        f"log_file = {os.path.join(d, 'heatseeker.log')}",
        "[heat]", "auth_type = password", f"auth_url = {kl.KEYSTONE_URL}",
        f"username = {name}", f"password = {password}", f"project_name = {project}",
        "user_domain_name = Default", "project_domain_name = Default", "region_name = RegionOne",
        "valid_interfaces = public", f"regions = {', '.join(regions)}",
        "[listener]", f"pool = {pool}",
        f"[region:{TWO}]", f"transport_url = {hl.REGION_TWO_TRANSPORT_URL}",
    ]
    path = os.path.join(d, "heatseeker.conf")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def _available() -> str | None:
    from tools.keystone import keystonelab as kl
    from tools.sandbox import heatlab as hl

    try:
        for region in (ONE, TWO):
            list(hl.hc_keystone(*kl.USERS["admin"], region=region).stacks.list(limit=1))
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable"
        return (f"the Keystone-mode Heats of {ONE} and {TWO} do not answer ({exc}): bash "
                "tools/sandbox/keystone-heat.sh up; KEYSTONE_HEAT_REGION=RegionTwo "
                "KEYSTONE_HEAT_PORT=8024 bash tools/sandbox/keystone-heat.sh up")
    return None


def _delete_queues(pool: str) -> None:
    import kombu

    from tools.sandbox import heatlab as hl

    for url in (hl.KEYSTONE_HEAT_AMQP_URL, hl.REGION_TWO_AMQP_URL):
        with contextlib.suppress(Exception), kombu.Connection(url, connect_timeout=3) as conn:
            conn.channel().queue_delete(queue=pool)


def _queue_up(pool: str) -> bool:
    import kombu

    from tools.sandbox import heatlab as hl

    try:
        with kombu.Connection(hl.KEYSTONE_HEAT_AMQP_URL, connect_timeout=3) as conn:
            conn.channel().queue_declare(queue=pool, passive=True)
        return True
    except Exception:  # noqa: BLE001
        return False


def _image_of(d: str, sid: str) -> str | None:
    from heatseeker.engines.tantivy import TantivyEngine
    from heatseeker.query.visibility import Visibility
    from heatseeker.searcher import Searcher

    index = os.path.join(d, "data", "index")
    if not os.path.isdir(index):
        return None
    engine = TantivyEngine(index, read_only=True)
    try:
        doc = Searcher(engine).get(sid, view=Visibility.everything())
    finally:
        engine.close()
    return ((doc or {}).get("parameters") or {}).get("image")


def _freshness(d: str, conf: str, pool: str, targets: list[tuple[str, object, str]],
               updates: int) -> dict[str, list[float]]:
    """A listener of ``conf``; each target stack updated ``updates`` times, one at a time:
    seconds from the update call until the index shows the new image."""
    from bench.freshness import start_listener, stop_listener
    from tools.sandbox import heatlab as hl

    _delete_queues(pool)
    proc = start_listener(d, conf)
    out: dict[str, list[float]] = {}
    try:
        deadline = time.monotonic() + 90
        while not _queue_up(pool):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the listener did not start (exit {proc.poll()})")
            time.sleep(0.3)
        time.sleep(1.0)
        tpl, files, env = hl.contents("app.yaml", "env.yaml")
        for region, hc, sid in targets:
            for _ in range(updates):
                image = f"rg-bench-{uuid.uuid4().hex[:8]}"
                t0 = time.monotonic()
                hc.stacks.update(sid, template=tpl, files=files, environment=env,
                                 parameters={"image": image})
                limit = t0 + 120
                while _image_of(d, sid) != image:
                    if time.monotonic() > limit:
                        raise RuntimeError(f"{region}: the update never became searchable")
                    time.sleep(0.05)
                out.setdefault(region, []).append(time.monotonic() - t0)
                hl.wait_status(hc, sid, "UPDATE_COMPLETE", timeout=120)
    finally:
        stop_listener(proc)
        _delete_queues(pool)
    return out


def sandbox(quick: bool) -> dict:
    """Sections 2 and 3, against the two Keystone-mode Heats."""
    from tools.keystone import keystonelab as kl
    from tools.sandbox import heatlab as hl

    why = _available()
    if why:
        return {"skipped": why}
    per_region = 3 if quick else 10
    updates = 3 if quick else 6
    hcs = {r: hl.hc_keystone(*kl.USERS["alice"], region=r) for r in (ONE, TWO)}
    tag = uuid.uuid4().hex[:6]
    made: dict[str, list[str]] = {ONE: [], TWO: []}
    out: dict = {"stacks_made_per_region": per_region}
    try:
        for region, hc in hcs.items():
            for i in range(per_region):
                made[region].append(hl.create(hc, f"bench-rg-{tag}-{i}", "app.yaml", "env.yaml",
                                              parameters={"image": "cirros-0.6.2"}, wait=False))
        for region, hc in hcs.items():
            for sid in made[region]:
                hl.wait_status(hc, sid, "CREATE_COMPLETE", timeout=300)
        syncs = {}
        for label, regions in (("one", [ONE]), ("two", [ONE, TWO])):
            d = common.fresh_dir(os.path.join(common.WORK, f"regions-sync-{label}"))
            conf = _conf(d, regions, "heatseeker-bench-unused")
            t0 = time.perf_counter()
            proc = subprocess.run(common.heatseeker_cmd(conf, "sync"), capture_output=True,
                                  text=True, timeout=900, cwd=common.ROOT)  # fmt: skip
            seconds = time.perf_counter() - t0
            if proc.returncode != 0:
                return {"failed": f"sync ({label}) exited {proc.returncode}: {proc.stderr[-800:]}"}
            listed = sum(int(line.split("synced ", 1)[1].split()[0])
                         for line in proc.stdout.splitlines() if line.startswith("synced "))
            syncs[label] = {"regions": regions, "seconds": round(seconds, 2), "stacks": listed,
                            "stacks_per_s": round(listed / seconds, 1)}
        syncs["ratio_stacks_per_s"] = common.ratio(syncs["two"]["stacks_per_s"],
                                                   syncs["one"]["stacks_per_s"])
        out["sync"] = syncs
        pool = f"heatseeker-bench-regions-{tag}"
        fresh = {}
        d = common.fresh_dir(os.path.join(common.WORK, "regions-fresh-one"))
        conf = _conf(d, [ONE], pool)
        subprocess.run(common.heatseeker_cmd(conf, "sync"), capture_output=True, timeout=900,
                       cwd=common.ROOT, check=True)
        one = _freshness(d, conf, pool, [(ONE, hcs[ONE], made[ONE][0])], updates)
        d = common.fresh_dir(os.path.join(common.WORK, "regions-fresh-two"))
        conf = _conf(d, [ONE, TWO], pool)
        subprocess.run(common.heatseeker_cmd(conf, "sync"), capture_output=True, timeout=900,
                       cwd=common.ROOT, check=True)
        two = _freshness(d, conf, pool, [(ONE, hcs[ONE], made[ONE][1]),
                                         (TWO, hcs[TWO], made[TWO][0])], updates)
        fresh["one region listener, RegionOne"] = common.summary_ms(one[ONE])
        fresh["two regions listener, RegionOne"] = common.summary_ms(two[ONE])
        fresh["two regions listener, RegionTwo"] = common.summary_ms(two[TWO])
        fresh["ratio_p50_two_vs_one"] = common.ratio(
            common.summary_ms(two[ONE] + two[TWO])["p50_ms"], fresh["one region listener, RegionOne"]["p50_ms"])
        out["freshness"] = fresh
    finally:
        for region, hc in hcs.items():
            for sid in made[region]:
                with contextlib.suppress(Exception):
                    hc.stacks.delete(sid)
        for region, hc in hcs.items():
            for sid in made[region]:
                with contextlib.suppress(Exception):
                    hl.wait_deleted(hc, sid, timeout=180)
    return out


def run(quick: bool, seed: int, rounds: int) -> dict:
    common.log("regions: the query mix with a region filter and without")
    out = {"query_mix": query_mix(1000 if quick else 10_000, seed, rounds)}
    common.log("regions: sync and freshness with two regions and with one (real Heats)")
    out["sandbox"] = sandbox(quick)
    return out
