"""Store.apply / get on the embedded SQLite record, per change: 2000 new stacks (templates of 20
resources) in batches of 50, 2000 gets, then 2000 updates that each add a revision.

    PYTHONPATH=<tree> python bench/record_micro.py      # N=… for another count, PROFILE=tottime

Run it against two trees (e.g. main and a branch) alternately, several times, and compare the best
figures: the machine's other load moves single runs by 50 %.
"""

from __future__ import annotations

import os
import tempfile
import time

from heatseeker.store import Change, Store


def doc(i: int, v: int) -> dict:
    res = [{"name": f"r{j}", "type": "OS::Nova::Server", "physical_id": f"p{i}-{j}",
            "properties": {"image": "cirros", "flavor": "m1.small", "n": j}} for j in range(20)]
    return {"id": f"s{i}", "name": f"stack-{i}", "project_id": f"p{i % 3}",
            "status": "CREATE_COMPLETE", "action": "CREATE",
            "template": {"resources": {r["name"]: {"type": r["type"], "properties": r["properties"]}
                                       for r in res}},
            "resources": res, "parameters": {"image": "cirros", "v": v}, "outputs": {}, "files": []}


def main() -> None:
    n = int(os.environ.get("N", 2000))
    st = Store(os.path.join(tempfile.mkdtemp(), "state.sqlite"))
    changes = [Change(f"s{i}", 1000 + i, doc(i, 1)) for i in range(n)]
    updates = [Change(f"s{i}", 100_000 + i, doc(i, 2)) for i in range(n)]
    prof = os.environ.get("PROFILE")
    if prof:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t = time.perf_counter()
    for i in range(0, n, 50):
        st.apply(changes[i : i + 50])
    apply_ms = (time.perf_counter() - t) * 1000 / n
    t = time.perf_counter()
    for i in range(n):
        st.get(f"s{i}")
    get_ms = (time.perf_counter() - t) * 1000 / n
    t = time.perf_counter()
    for i in range(0, n, 50):
        st.apply(updates[i : i + 50])
    update_ms = (time.perf_counter() - t) * 1000 / n
    if prof:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats(prof).print_stats(30)
    print(f"apply(new) {apply_ms:.3f} ms/change  get {get_ms:.3f} ms  "
          f"apply(update, revision) {update_ms:.3f} ms/change")


if __name__ == "__main__":
    main()
