"""Store.apply / get per change, history on: 2000 new stacks (templates of 20 resources) in
batches of 50, 2000 gets, then 2000 updates that each add a revision.

    PYTHONPATH=<tree> python bench/record_micro.py             # the embedded SQLite record
    PYTHONPATH=<tree> python bench/record_micro.py --mariadb   # and MariaDB, rounds alternated
    python -m bench.run --only record                          # the same, SQLite and MariaDB

``bench.run``'s phase ``record`` is ``run(quick)``: both records, best of 3 (quick: n=200, 1 round).

MariaDB: ``HEATSEEKER_TEST_MARIADB`` or the Heat sandbox's server (as tests/unit/record_backends.py
finds it); a throw-away database, dropped afterwards. ``N=…`` for another count,
``PROFILE=tottime`` for a cProfile of one SQLite round. The best round of each is reported: the
machine's other load moves single rounds by 50 %. Compare two trees (main and a branch) by running
the script under each, alternately.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from heatseeker.record import Change, Store


def doc(i: int, v: int) -> dict:
    res = [{"name": f"r{j}", "type": "OS::Nova::Server", "physical_id": f"p{i}-{j}",
            "properties": {"image": "cirros", "flavor": "m1.small", "n": j}} for j in range(20)]
    return {"id": f"s{i}", "name": f"stack-{i}", "project_id": f"p{i % 3}",
            "status": "CREATE_COMPLETE", "action": "CREATE",
            "template": {"resources": {r["name"]: {"type": r["type"], "properties": r["properties"]}
                                       for r in res}},
            "resources": res, "parameters": {"image": "cirros", "v": v}, "outputs": {}, "files": []}


def measure(st: Store, n: int) -> dict[str, float]:
    """ms per change: apply of new stacks, get, apply of updates (each a new revision)."""
    changes = [Change(f"s{i}", 1000 + i, doc(i, 1)) for i in range(n)]
    updates = [Change(f"s{i}", 100_000 + i, doc(i, 2)) for i in range(n)]
    t = time.perf_counter()
    for i in range(0, n, 50):
        st.apply(changes[i : i + 50])
    new_ms = (time.perf_counter() - t) * 1000 / n
    t = time.perf_counter()
    for i in range(n):
        st.get(f"s{i}")
    get_ms = (time.perf_counter() - t) * 1000 / n
    t = time.perf_counter()
    for i in range(0, n, 50):
        st.apply(updates[i : i + 50])
    update_ms = (time.perf_counter() - t) * 1000 / n
    return {"apply_new": new_ms, "get": get_ms, "apply_update": update_ms}


def _sqlite() -> Store:
    return Store(os.path.join(tempfile.mkdtemp(), "state.sqlite"))


def run(quick: bool) -> dict:
    """bench.run's phase: SQLite and MariaDB, rounds alternated; ms per change and the ratios."""
    n, rounds = (200, 1) if quick else (2000, 3)
    best = compare(n, rounds, mariadb=True)
    s, m = best["sqlite"], best["mariadb"]
    return {"n": n, "rounds": rounds, "batch": 50, "resources_per_stack": 20,
            "ms_per_change": {k: {x: round(y, 4) for x, y in v.items()} for k, v in best.items()},
            "mariadb_over_sqlite": {k: round(m[k] / s[k], 2) for k in s}}


def compare(n: int, rounds: int, *, mariadb: bool) -> dict[str, dict[str, float]]:
    db = None
    if mariadb:
        import sqlalchemy as sa

        from heatseeker.record import migrate
        from tests.unit.record_backends import MariaDB, server_url

        server = server_url()
        if server is None:
            raise RuntimeError("no MariaDB: set HEATSEEKER_TEST_MARIADB or start the Heat sandbox")
        db = MariaDB(server)
    best: dict[str, dict[str, float]] = {}
    try:
        for _ in range(rounds):
            stores = [("sqlite", _sqlite)]
            if db is not None:
                def fresh(db=db) -> Store:
                    url = db.create()
                    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
                    migrate.upgrade(engine)
                    engine.dispose()
                    return Store(url, create=False)

                stores.append(("mariadb", fresh))
            for name, make in stores:
                st = make()
                got = measure(st, n)
                st.close()
                mine = best.setdefault(name, got)
                for k, v in got.items():
                    mine[k] = min(mine[k], v)
    finally:
        if db is not None:
            db.drop_all()
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mariadb", action="store_true", help="also MariaDB, rounds alternated")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    n = int(os.environ.get("N", 2000))
    prof = os.environ.get("PROFILE")
    if prof:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        measure(_sqlite(), n)
        profiler.disable()
        pstats.Stats(profiler).sort_stats(prof).print_stats(30)
        return
    best = compare(n, args.rounds, mariadb=args.mariadb)
    print(f"{'record':8} {'apply(new)':>11} {'get':>8} {'apply(update+rev)':>18}   ms per change, "
          f"best of {args.rounds}, n={n}")
    for name, r in best.items():
        print(f"{name:8} {r['apply_new']:11.3f} {r['get']:8.3f} {r['apply_update']:18.3f}")
    if "mariadb" in best:
        s, m = best["sqlite"], best["mariadb"]
        print(f"{'ratio':8} {m['apply_new'] / s['apply_new']:10.1f}x {m['get'] / s['get']:7.1f}x "
              f"{m['apply_update'] / s['apply_update']:17.1f}x   (MariaDB / SQLite)")


if __name__ == "__main__":
    main()
