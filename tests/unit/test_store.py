"""The durable record: version rules, tombstones, sequence, multi-process safety."""

import multiprocessing

import pytest

from heatseeker.store import Change, Store


@pytest.fixture
def store(tmp_path):
    return Store(str(tmp_path / "state.sqlite"))


def doc(sid, **kw):
    return {"id": sid, "name": kw.pop("name", sid), "project_id": "p1", "status": "CREATE_COMPLETE", **kw}


def test_newer_version_wins_older_ignored(store):
    assert store.apply([Change("a", 10, doc("a", status="CREATE_IN_PROGRESS"))]) == [True]
    assert store.apply([Change("a", 20, doc("a"))]) == [True]
    assert store.apply([Change("a", 15, doc("a", status="STALE"))]) == [False]
    assert store.apply([Change("a", 20, doc("a", status="SAME"))]) == [False]
    rec = store.get("a")
    assert rec.version == 20 and rec.doc["status"] == "CREATE_COMPLETE" and rec.doc["version"] == 20


def test_tombstone_is_final(store):
    store.apply([Change("a", 10, doc("a"))])
    assert store.apply([Change("a", 5)]) == [True]  # a delete wins even when "older"
    rec = store.get("a")
    assert rec.deleted and rec.doc is None and rec.version == 10  # keeps the greater version
    assert store.apply([Change("a", 10**18, doc("a"))]) == [False]
    assert store.apply([Change("a", 11)]) == [False]  # already a tombstone
    assert store.get("a").deleted


def test_tombstone_for_unknown_id(store):
    assert store.apply([Change("ghost", 7)]) == [True]
    assert store.get("ghost").deleted
    assert store.apply([Change("ghost", 8, doc("ghost"))]) == [False]


def test_sequence_orders_changes(store):
    store.apply([Change("a", 1, doc("a")), Change("b", 1, doc("b"))])
    store.apply([Change("a", 2, doc("a")), Change("c", 1)])
    seqs = [(r.id, r.seq) for r in store.changes_since(0)]
    assert seqs == [("b", 2), ("a", 3), ("c", 4)]
    assert [r.id for r in store.changes_since(3)] == ["c"]
    assert store.max_seq() == 4
    assert [r.id for r in store.iter_all(batch=1)] == ["b", "a", "c"]


def test_counts_meta_dead_letters(store):
    store.apply([Change("a", 1, doc("a")), Change("b", 1, doc("b", project_id="p2")), Change("c", 1)])
    store.set_meta(last_event={"x": 1})
    store.dead_letter("m1", "broken", {"payload": None})
    c = store.counts()
    assert (c["stacks"], c["tombstones"], c["projects"], c["dead_letters"]) == (2, 1, 2, 1)
    assert store.get_meta("last_event") == {"x": 1}
    assert store.get_meta("nope", 5) == 5
    assert store.dead_letters()[0]["message_id"] == "m1"


def test_live_summaries(store):
    store.apply([Change("a", 1, doc("a", tags=["x"], updated_at="2026-01-01T00:00:00Z")), Change("b", 1)])
    s = store.live_summaries()
    assert set(s) == {"a"} and s["a"]["tags"] == ["x"] and s["a"]["updated_at"] == "2026-01-01T00:00:00Z"


def _writer(path, prefix, n):
    st = Store(path)
    for i in range(n):
        assert st.apply([Change(f"{prefix}{i}", i + 1, doc(f"{prefix}{i}"))]) == [True]


def test_two_processes_write_at_once(tmp_path):
    path = str(tmp_path / "state.sqlite")
    Store(path).close()
    # separate processes as in real life (listener and sync): spawned, not forked — SQLite must
    # never be used across fork() (a forked child shares the parent's lock bookkeeping)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, p, 100)) for p in "xy"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    st = Store(path)
    assert st.counts()["stacks"] == 200
    seqs = [r.seq for r in st.iter_all()]
    assert seqs == sorted(seqs) and len(set(seqs)) == 200
