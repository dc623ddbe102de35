"""projection.py: the index follows the record, committing every ``batch`` changes and reading
the record a few documents at a time."""

import os
import signal
import threading
import time

import pytest

from heatseeker.engines.conformance import CORPUS
from heatseeker.engines.tantivy import TantivyEngine, prepare
from heatseeker.projection import READ_BATCH, ProjectionError, Projector
from heatseeker.query.tree import Exists, MatchAll, Phrase, SortKey, Term, Text
from heatseeker.record import Change, Store


def _doc(i: int) -> dict:
    return {"id": f"s{i:04}", "name": f"s{i:04}", "project_id": "p1", "status": "CREATE_COMPLETE"}


def test_run_once_commits_every_batch_and_reads_little_at_a_time(tmp_path):
    store = Store(str(tmp_path / "state.sqlite"))
    store.apply([Change(f"s{i:04}", 1, _doc(i)) for i in range(650)])
    store.apply([Change("s0003", 2)])  # a tombstone among them
    engine = TantivyEngine(str(tmp_path / "index"))
    commits, reads = [], []
    real_commit, real_changes = engine.commit, store.changes_since
    engine.commit = lambda checkpoint=None: (commits.append(checkpoint), real_commit(checkpoint))
    store.changes_since = lambda seq, limit=1000: (reads.append(limit), real_changes(seq, limit))[1]
    # 650 records (s0003's tombstone took sequence 651), read 100 at a time, committed by 250s
    assert Projector(store, engine, batch=250).run_once() == 650
    assert commits == [301, 601, 651] and set(reads) == {READ_BATCH}
    assert engine.count(MatchAll()) == 649 and engine.checkpoint() == 651
    assert Projector(store, engine, batch=250).run_once() == 0 and commits == [301, 601, 651]
    n = Projector(store, engine).rebuild()
    assert n == 650 and engine.count(MatchAll()) == 649  # the tombstone is a document too


# -- a reindex prepares documents in worker processes ---------------------------------------------

def _rich(i: int) -> dict:
    base = CORPUS[i % len(CORPUS)]
    return {**base, "id": f"r{i:05}", "name": f"{base['name']}-{i}"}


def _filled(url: str, n: int) -> Store:
    """A record of ``n`` stacks, some written twice (their numbers move) and some deleted."""
    store = Store(url)
    store.apply([Change(f"r{i:05}", 1, _rich(i)) for i in range(n)])
    store.apply([Change(f"r{i:05}", 2, _rich(i + 1)) for i in range(0, n, 7)])
    store.apply([Change(f"r{i:05}", 3) for i in range(0, n, 11)])  # tombstones
    return store


QUERIES = [
    MatchAll(),
    Text(None, "web shop"),
    Phrase(None, "quota exceeded"),
    Term("status", "CREATE_COMPLETE"),
    Exists("parameters.flavor"),
    Term("resources.type", "OS::Nova::Server"),
]


def _answers(engine, ids: list[str]) -> list:
    """What an engine answers about the record of ``_filled`` (tests/e2e/test_opensearch too)."""
    out: list = [engine.checkpoint()]
    for q in QUERIES:
        res = engine.search(q, sort=[SortKey("name")], limit=1000)
        out.append((res.total, [(h.id, h.score) for h in res.hits]))
    out.append([engine.get(i) for i in ids])
    out.append([engine.get_version(i) for i in ids])
    return out


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_workers_build_the_index_one_process_builds(backend, tmp_path, request):
    url = (str(tmp_path / "state.sqlite") if backend == "sqlite"
           else request.getfixturevalue("mariadb_record"))  # fmt: skip
    store = _filled(url, 900)
    ids = [f"r{i:05}" for i in range(900)]
    alone = TantivyEngine(str(tmp_path / "alone"), writer_memory_mb=32)
    many = TantivyEngine(str(tmp_path / "many"), writer_memory_mb=32)
    seen: list[tuple[int, int]] = []
    assert Projector(store, alone).rebuild(workers=1) == 900
    n = Projector(store, many).rebuild(progress=lambda d, t, _: seen.append((d, t)), workers=2)
    assert n == 900
    assert _answers(many, ids) == _answers(alone, ids)
    assert many.count(MatchAll()) == 900 - len(range(0, 900, 11))
    assert seen[-1] == (900, 900) and [d for d, _ in seen[:-1]] == [500]
    alone.close()
    many.close()


def test_seq_chunks_cut_every_record_once(tmp_path):
    store = _filled(str(tmp_path / "state.sqlite"), 1234)
    upto = store.max_seq()
    chunks = store.seq_chunks(100, upto)
    got = [r.seq for lo, hi in chunks for r in store.changes_between(lo, hi)]
    assert got == [r.seq for r in store.iter_all()]  # each once, in order
    assert [len(store.changes_between(lo, hi)) for lo, hi in chunks] == [100] * 12 + [34]
    assert chunks[0][0] == 0 and chunks[-1][1] == upto
    assert store.seq_chunks(100, 0) == []
    assert store.seq_chunks(5000, upto) == [(0, upto)]


def _workers() -> list[int]:
    """This test process's reindex workers (spawned interpreters)."""
    found = []
    for tid in os.listdir(f"/proc/{os.getpid()}/task"):
        with open(f"/proc/{os.getpid()}/task/{tid}/children") as fh:
            for pid in fh.read().split():
                with open(f"/proc/{pid}/cmdline", "rb") as cmd:
                    if b"spawn_main" in cmd.read():
                        found.append(int(pid))
    return found


def test_a_worker_that_dies_fails_the_rebuild_and_the_index_stays(tmp_path):
    store = _filled(str(tmp_path / "state.sqlite"), 1500)
    engine = TantivyEngine(str(tmp_path / "index"), writer_memory_mb=32)
    Projector(store, engine).rebuild(workers=1)
    before = (engine.health()["generation"], engine.count(MatchAll()), engine.checkpoint())
    store.apply([Change("late", 1, _rich(3) | {"id": "late"})])
    killed: list[int] = []

    def killer() -> None:
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline:
            for pid in _workers():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break
            time.sleep(0.01)

    t = threading.Thread(target=killer)
    t.start()
    with pytest.raises(ProjectionError, match="worker process died"):
        Projector(store, engine).rebuild(workers=2)
    t.join()
    assert killed
    # the previous index answers as before; the broken generation is gone
    assert (engine.health()["generation"], engine.count(MatchAll()), engine.checkpoint()) == before
    assert sorted(os.listdir(tmp_path / "index")) == sorted(["CURRENT", before[0], "writer.lock"])
    # and a reindex run again completes
    assert Projector(store, engine).rebuild(workers=2) == 1501
    assert engine.count(MatchAll()) == before[1] + 1
    engine.close()


def refuse_r00042(item):
    """A preparer that fails on one record (in the worker process)."""
    if item[1] == "r00042":
        raise ValueError("r00042 cannot be prepared")
    return prepare(item)


class _Refusing(TantivyEngine):
    preparer = staticmethod(refuse_r00042)


def test_a_worker_error_fails_the_rebuild_with_its_reason(tmp_path):
    store = _filled(str(tmp_path / "state.sqlite"), 300)
    engine = _Refusing(str(tmp_path / "index"), writer_memory_mb=32)
    with pytest.raises(ProjectionError, match="worker failed: ValueError: r00042 cannot be prepared"):
        Projector(store, engine).rebuild(workers=2)
    assert engine.count(MatchAll()) == 0 and engine.checkpoint() == 0


def where_prepared(item):
    """A preparer that also says how the worker process runs: its niceness and the size of
    its record's contents cache."""
    import gc

    from heatseeker.record.contents import Cache

    doc, sid, version = item
    if doc is not None:
        caches = [o.max_bytes for o in gc.get_objects() if isinstance(o, Cache)]
        doc = {**doc, "description": f"nice={os.nice(0)} caches={caches}"}
    return prepare((doc, sid, version))


class _Telling(TantivyEngine):
    preparer = staticmethod(where_prepared)


def test_workers_run_niced_with_a_small_contents_cache(tmp_path):
    """The workers run at the engine's lower priority (tantivy's: they yield the cores to the
    reindex process, whose tantivy queue otherwise filled its memory) and keep 8 MB of decoded
    contents, not the record's 64 MB."""
    from heatseeker.engines.base import Engine
    from heatseeker.projection import WORKER_CONTENTS_CACHE
    from heatseeker.record.contents import CACHE_BYTES

    assert WORKER_CONTENTS_CACHE < CACHE_BYTES
    store = _filled(str(tmp_path / "state.sqlite"), 120)
    engine = _Telling(str(tmp_path / "index"), writer_memory_mb=32)
    assert Projector(store, engine).rebuild(workers=2) == 120
    told = {h.source["description"] for h in engine.search(MatchAll(), limit=200).hits}
    assert Engine.preparer_nice == 0 < TantivyEngine.preparer_nice  # OpenSearch's run as is
    nice = min(19, os.nice(0) + TantivyEngine.preparer_nice)
    assert told == {f"nice={nice} caches={[WORKER_CONTENTS_CACHE]}"}
    engine.close()


def test_the_terms_tokenizer_splits_on_exactly_the_characters_the_engine_keeps_apart():
    """``_kv``/``_paths`` travel as one string split by tantivy's whitespace tokenizer; a term
    holding a character it splits on goes to the ``_spaced`` twin. Every code point is tried."""
    import tantivy as tv

    from heatseeker.engines.tantivy import _SPLITS, _SPLITS_RE

    analyzer = tv.TextAnalyzerBuilder(tv.Tokenizer.whitespace()).build()
    points = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    kept = set("".join(analyzer.analyze("x".join(points))))
    assert {c for c in points if c not in kept} == set(_SPLITS)
    assert {c for c in points if _SPLITS_RE.search(c)} == set(_SPLITS)
    assert analyzer.analyze("a  b\x1fc \td") == ["a", "b\x1fc", "d"]  # no empty term


def test_terms_with_whitespace_go_to_the_spaced_twin_and_every_query_finds_them(tmp_path):
    """A prepared document carries the plain terms as one string and the spaced ones as a list;
    exact, set, pattern, range and exists queries find a term in whichever field holds it."""
    from heatseeker.engines.tantivy import _split_spaced
    from heatseeker.query.tree import Prefix, Range, Terms, Wildcard

    assert _split_spaced(["a", "b c", "d\te", "f"]) == (["a", "f"], ["b c", "d\te"])
    assert _split_spaced(["a", "b\nc"]) == (["a"], ["b\nc"])
    assert _split_spaced(["a", "b"]) == (["a", "b"], [])
    plain = {"id": "p1", "name": "plain", "project_id": "p", "parameters": {"a": "x", "b": "y"}}
    odd = {"id": "p2", "name": "odd", "project_id": "p",
           "parameters": {"a": "one two", "b": "y", "c d": "z", "e": "tab\there", "f": "x\ry"}}
    data = prepare((plain, "p1", 1))
    assert isinstance(data["_kv"], str) and "_kv_spaced" not in data
    data = prepare((odd, "p2", 1))
    assert sorted(data["_kv_spaced"]) == sorted(["parameters.a\x1fone two", "parameters.c d\x1fz",
                                                 "parameters.e\x1ftab\there",
                                                 "parameters.f\x1fx\ry"])  # fmt: skip
    assert data["_paths_spaced"] == ["parameters.c d"]
    assert "parameters.b\x1fy" in data["_kv"].split(" ")
    engine = TantivyEngine(str(tmp_path / "index"))
    assert engine.rebuild([(plain, "p1", 1), (odd, "p2", 1), (None, "p3", 2)]) == 3
    for query, ids in [(Term("parameters.a", "one two"), ["p2"]),
                       (Term("parameters.a", "one"), []),
                       (Term("parameters.a", "x"), ["p1"]),
                       (Term("parameters.b", "y"), ["p1", "p2"]),
                       (Term("parameters.e", "tab\there"), ["p2"]),
                       (Term("parameters.f", "x\ry"), ["p2"]),
                       (Term("parameters.c d", "z"), ["p2"]),
                       (Terms("parameters.a", ("x", "one two")), ["p1", "p2"]),
                       (Terms("parameters.a", ("one two",)), ["p2"]),
                       (Prefix("parameters.a", "o"), ["p2"]),
                       (Prefix("parameters.a", "one "), ["p2"]),
                       (Wildcard("parameters.a", "*"), ["p1", "p2"]),
                       (Wildcard("parameters.a", "one?two"), ["p2"]),
                       (Range("parameters.a", gte="a"), ["p1", "p2"]),
                       (Range("parameters.a", gte="one two", lte="one two"), ["p2"]),
                       (Range("parameters.a", lt="p"), ["p2"]),
                       (Range("parameters.c d"), ["p2"]),
                       (Exists("parameters.a"), ["p1", "p2"]),
                       (Exists("parameters.c d"), ["p2"]),
                       (Exists("parameters.c"), [])]:
        assert sorted(h.id for h in engine.search(query, limit=10).hits) == ids, query
