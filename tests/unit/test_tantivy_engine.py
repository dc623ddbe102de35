"""What only the embedded tantivy engine does: one writer, readers in other processes,
generations and CURRENT, schema versions, crashes. The contract itself is tests/conformance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatseeker.engines.base import EngineError, SchemaMismatch, WriterBusy
from heatseeker.engines.tantivy import BATCH, SCHEMA_VERSION, TantivyEngine, _Flat, _walk
from heatseeker.engines.testing import CORPUS, make_doc, reference_order
from heatseeker.query import fields as F
from heatseeker.query.tree import (
    Ids,
    MatchAll,
    Prefix,
    Range,
    SortKey,
    Term,
    TermsAgg,
    Text,
    Wildcard,
)

MB = 32


def engine_at(path, **kw) -> TantivyEngine:
    return TantivyEngine(str(path), writer_memory_mb=MB, **kw)


def ids(result) -> list[str]:
    return [hit.id for hit in result.hits]


def send(proc: subprocess.Popen, line: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()


def recv(proc: subprocess.Popen) -> str:
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline()
    if not line and proc.poll() is not None:
        raise AssertionError(proc.stderr.read())
    return line.strip()


def child(code: str) -> subprocess.Popen:
    """A Python process running ``code``; it talks line by line on stdin/stdout."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )


WRITER = """
    import sys
    from heatseeker.engines.tantivy import TantivyEngine
    from heatseeker.engines.testing import make_doc
    engine = TantivyEngine(sys.argv[1] if len(sys.argv) > 1 else {path!r}, writer_memory_mb=32)
    engine.upsert([(make_doc("from-child"), 1)])
    engine.commit()
    print("committed", flush=True)
    for line in sys.stdin:
        line = line.strip()
        if line == "write":
            engine.upsert([(make_doc("uncommitted"), 1)])
            print("written", flush=True)
        elif line == "crash":
            import os
            os._exit(3)
        elif line.startswith("add "):
            engine.upsert([(make_doc(line[4:]), 1)])
            engine.commit()
            print("added", flush=True)
        elif line == "quit":
            break
    engine.close()
"""


# -- one writer -------------------------------------------------------------------------------------


def test_second_engine_in_the_same_process_gets_writer_busy(tmp_path):
    first = engine_at(tmp_path / "idx")
    second = engine_at(tmp_path / "idx")
    try:
        first.upsert([(make_doc("a"), 1)])
        with pytest.raises(WriterBusy, match=str(tmp_path / "idx")):
            second.upsert([(make_doc("b"), 1)])
        with pytest.raises(WriterBusy):
            second.rebuild([])
        first.commit()
        # reading never needs the writer
        assert ids(second.search(MatchAll())) == ["a"]
        first.close()  # releases the writer
        second.upsert([(make_doc("b"), 1)])
        second.commit()
        assert second.count(MatchAll()) == 2
    finally:
        first.close()
        second.close()


def test_writer_busy_across_processes(tmp_path):
    path = str(tmp_path / "idx")
    proc = child(WRITER.format(path=path))
    try:
        assert recv(proc) == "committed"
        engine = engine_at(path)
        with pytest.raises(WriterBusy, match="one writer"):
            engine.delete([("x", 1)])
        assert ids(engine.search(MatchAll())) == ["from-child"]
        send(proc, "quit")
        assert proc.wait(timeout=30) == 0
        engine.delete([("x", 1)])  # the lock went with the process
        engine.commit()
        engine.close()
    finally:
        proc.kill()


def test_reader_in_another_process_sees_commits(tmp_path):
    path = str(tmp_path / "idx")
    writer = engine_at(path)
    writer.upsert([(make_doc("w1"), 1)])
    writer.commit()
    proc = child(
        f"""
        import sys
        from heatseeker.engines.tantivy import TantivyEngine
        from heatseeker.query.tree import MatchAll
        engine = TantivyEngine({path!r}, read_only=True)
        for line in sys.stdin:
            result = engine.search(MatchAll(), limit=100)
            print(",".join(h.id for h in result.hits), flush=True)
        """
    )
    try:

        def ask() -> str:
            send(proc, "?")
            return recv(proc)

        assert ask() == "w1"
        writer.upsert([(make_doc("w2"), 1)])
        assert ask() == "w1"  # not committed yet
        writer.commit()
        assert ask() == "w1,w2"
        writer.rebuild([(make_doc("r1"), "r1", 1)])
        assert ask() == "r1"
        writer.upsert([(make_doc("r2"), 1)])
        writer.commit()
        assert ask() == "r1,r2"
    finally:
        proc.kill()
        writer.close()


def test_read_only_engine_follows_a_writer_in_the_same_process(tmp_path):
    writer = engine_at(tmp_path / "idx")
    reader = engine_at(tmp_path / "idx", read_only=True)
    try:
        assert reader.count(MatchAll()) == 0
        writer.upsert([(make_doc("a", tags=["x"]), 1)])
        writer.commit()
        assert ids(reader.search(Term("tags", "x"))) == ["a"]
        assert reader.get("a") == (make_doc("a", tags=["x"]), 1)
        writer.delete([("a", 2)])
        writer.commit()
        assert reader.get_version("a") == (2, True)
        with pytest.raises(EngineError, match="read-only"):
            reader.upsert([(make_doc("b"), 1)])
        with pytest.raises(EngineError, match="read-only"):
            reader.rebuild([])
        assert reader.health()["ok"] is True
    finally:
        reader.close()
        writer.close()


def test_read_only_before_any_index_exists(tmp_path):
    reader = engine_at(tmp_path / "nothing-yet", read_only=True)
    assert reader.search(MatchAll()).total == 0
    assert reader.get("a") is None and reader.get_version("a") is None
    assert reader.aggregate(MatchAll(), {"s": TermsAgg("status")}) == {"s": []}
    assert reader.health()["ok"] is True
    writer = engine_at(tmp_path / "nothing-yet")
    writer.upsert([(make_doc("a"), 1)])
    writer.commit()
    assert ids(reader.search(MatchAll())) == ["a"]
    writer.close()


# -- crashes and generations ----------------------------------------------------------------------


def test_crash_loses_only_uncommitted_writes(tmp_path):
    path = str(tmp_path / "idx")
    proc = child(WRITER.format(path=path))
    try:
        assert recv(proc) == "committed"
        send(proc, "write")
        assert recv(proc) == "written"
        send(proc, "crash")
        assert proc.wait(timeout=30) == 3
    finally:
        proc.kill()
    engine = engine_at(path)
    assert ids(engine.search(MatchAll())) == ["from-child"]
    assert engine.get_version("uncommitted") is None
    engine.upsert([(make_doc("after-crash"), 1)])  # the writer lock died with the process
    engine.commit()
    assert engine.count(MatchAll()) == 2
    engine.close()


def test_rebuild_swaps_generations_under_an_open_reader(tmp_path):
    root = tmp_path / "idx"
    writer = engine_at(root)
    reader = engine_at(root, read_only=True)
    try:
        writer.upsert([(make_doc(f"old-{i}"), 1) for i in range(3)])
        writer.commit()
        assert reader.count(MatchAll()) == 3
        assert (root / "CURRENT").read_text().strip() == "gen-1"

        def items():
            # while the new generation is being written, searches answer from the old one
            yield make_doc("new-0"), "new-0", 1
            assert reader.count(MatchAll()) == 3
            assert writer.count(MatchAll()) == 3
            yield None, "old-0", 9

        assert writer.rebuild(items()) == 2
        assert (root / "CURRENT").read_text().strip() == "gen-2"
        assert ids(reader.search(MatchAll())) == ["new-0"]
        assert reader.get_version("old-0") == (9, True)
        assert reader.health()["generation"] == "gen-2"
        assert sorted(os.listdir(root)) == ["CURRENT", "gen-1", "gen-2", "writer.lock"]
        writer.rebuild([(make_doc("newer"), "newer", 1)])
        # the previous generation stays for readers still on it; older ones go
        assert sorted(p for p in os.listdir(root) if p.startswith("gen-")) == ["gen-2", "gen-3"]
        assert ids(reader.search(MatchAll())) == ["newer"]
    finally:
        reader.close()
        writer.close()


def test_failed_rebuild_keeps_the_live_generation(tmp_path):
    engine = engine_at(tmp_path / "idx")
    engine.upsert([(make_doc("kept"), 1)])
    engine.commit()

    def broken():
        yield make_doc("new"), "new", 1
        raise RuntimeError("store went away")

    with pytest.raises(RuntimeError):
        engine.rebuild(broken())
    assert ids(engine.search(MatchAll())) == ["kept"]
    assert sorted(p for p in os.listdir(tmp_path / "idx") if p.startswith("gen-")) == ["gen-1"]
    engine.upsert([(make_doc("more"), 1)])
    engine.commit()
    assert engine.count(MatchAll()) == 2
    engine.close()


def test_schema_mismatch(tmp_path):
    root = tmp_path / "idx"
    engine = engine_at(root)
    engine.upsert([(make_doc("a"), 1)])
    engine.commit()
    engine.close()
    meta_path = root / "gen-1" / "heatseeker.json"
    meta = json.loads(meta_path.read_text())
    assert meta["schema_version"] == SCHEMA_VERSION and meta["tantivy"] == "0.27.0"
    assert meta["created_at"].endswith("Z")
    meta["schema_version"] = SCHEMA_VERSION - 1
    meta_path.write_text(json.dumps(meta))

    engine = engine_at(root)
    try:
        with pytest.raises(SchemaMismatch) as err:
            engine.search(MatchAll())
        message = str(err.value)
        assert f"schema version {SCHEMA_VERSION - 1}" in message
        assert f"schema version {SCHEMA_VERSION} " in message
        assert "heatseeker reindex" in message
        with pytest.raises(SchemaMismatch):
            engine.get("a")
        with pytest.raises(SchemaMismatch):
            engine.upsert([(make_doc("b"), 1)])
        health = engine.health()
        assert health["ok"] is False and "heatseeker reindex" in health["error"]
        # a reindex repairs it
        assert engine.rebuild([(make_doc("b"), "b", 1)]) == 1
        assert ids(engine.search(MatchAll())) == ["b"]
        assert engine.health()["ok"] is True
    finally:
        engine.close()


def test_schema_mismatch_other_tantivy(tmp_path):
    root = tmp_path / "idx"
    engine_at(root).close()
    meta_path = root / "gen-1" / "heatseeker.json"
    meta = json.loads(meta_path.read_text())
    meta["tantivy"] = "0.19.0"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(SchemaMismatch, match="tantivy 0.19.0"):
        engine_at(root, read_only=True).count(MatchAll())


# -- engine details ---------------------------------------------------------------------------------


def test_batches_larger_than_a_lookup_chunk(tmp_path):
    engine = engine_at(tmp_path / "idx")
    n = BATCH + 250
    docs = [(make_doc(f"s{i:05d}"), 1) for i in range(n)]
    assert engine.upsert(docs).applied == n
    engine.commit()
    # the second half of the batch replaces, the first half is stale: across chunk borders
    again = [(make_doc(f"s{i:05d}", tags=["v2"]), 2 if i % 2 else 1) for i in range(n)]
    result = engine.upsert(again)
    assert (result.applied, result.ignored) == (n // 2, n - n // 2)
    assert engine.delete((f"s{i:05d}", 1) for i in range(0, n, 3)).applied == len(range(0, n, 3))
    engine.commit()
    live = [i for i in range(n) if i % 3]
    assert engine.count(MatchAll()) == len(live)
    assert engine.count(Term("tags", "v2")) == len([i for i in live if i % 2])
    engine.close()


def test_score_ties_are_ordered_by_id_across_pages(tmp_path):
    engine = engine_at(tmp_path / "idx")
    # same name, same length: every match scores the same
    engine.upsert([(make_doc(f"s{i:03d}", name="web"), 1) for i in range(300)])
    engine.upsert([(make_doc("z-best", name="web web web"), 1)])
    engine.commit()
    everything = engine.search(Text("name", "web"), limit=400)
    assert everything.total == 301
    assert ids(everything)[0] == "z-best"
    assert ids(everything)[1:] == [f"s{i:03d}" for i in range(300)]
    page = engine.search(Text("name", "web"), offset=150, limit=10)
    assert ids(page) == ids(everything)[150:160]
    engine.close()


def test_score_ties_ordered_by_the_next_keys(tmp_path):
    engine = engine_at(tmp_path / "idx")
    docs = [
        make_doc(
            f"s{i:03d}",
            name="web",
            status=("CREATE_COMPLETE", "UPDATE_FAILED", "CHECK_COMPLETE")[i % 3],
            tags=[] if i % 4 == 0 else [f"t{i % 5}", f"t{i % 7}"],
            created_at=f"2024-01-{1 + i % 9:02d}T00:00:00Z",
        )
        for i in range(120)
    ]
    engine.upsert((d, 1) for d in docs)
    engine.commit()
    sort = [SortKey("_score", True), SortKey("tags", True), SortKey("created_at")]
    result = engine.search(Text("name", "web"), sort=sort, limit=200)
    assert len({h.score for h in result.hits}) == 1
    expected = reference_order(docs, sort)
    assert ids(result) == [d["id"] for d in expected]
    page = engine.search(Text("name", "web"), sort=sort, offset=37, limit=11)
    assert ids(page) == ids(result)[37:48]
    engine.close()


def test_regex_metacharacters_are_literal(tmp_path):
    engine = engine_at(tmp_path / "idx")
    weird = "x+y(z)[1]{2}|^$.\\#&~-\n"
    engine.upsert([(make_doc("w", name=weird, parameters={"v": weird}), 1)])
    engine.upsert([(make_doc("plain", name="xxy", parameters={"v": "xxy"}), 1)])
    engine.commit()
    for field in ("name", "parameters.v"):
        assert ids(engine.search(Term(field, weird))) == ["w"]
        assert ids(engine.search(Prefix(field, "x+y(z)[1]"))) == ["w"]
        assert ids(engine.search(Prefix(field, "x.y"))) == []
        assert ids(engine.search(Wildcard(field, "x+y(z)*|^$?\\\\*"))) == ["w"]
        assert ids(engine.search(Wildcard(field, "x?y*"))) == ["plain", "w"]
        assert ids(engine.search(Range(field, gt="x+y(z)", lte=weird))) == ["w"]
    engine.close()


def test_sort_and_aggregate_over_many_segments(tmp_path):
    engine = engine_at(tmp_path / "idx")
    for batch in range(6):  # one segment per commit
        engine.upsert(
            [
                (make_doc(f"s{batch}-{i}", status=f"S_{(batch + i) % 4}", depth=i % 3), 1)
                for i in range(20)
            ]
        )
        engine.commit()
    assert engine.health()["segments"] > 1
    agg = engine.aggregate(MatchAll(), {"s": TermsAgg("status", size=3)})
    assert agg == {"s": [("S_0", 30), ("S_1", 30), ("S_2", 30)]}
    result = engine.search(MatchAll(), sort=[SortKey("depth", True), SortKey("status")], limit=120)
    keys = [(-hit.source["depth"], hit.source["status"], hit.id) for hit in result.hits]
    assert keys == sorted(keys) and len(keys) == 120
    engine.close()


def test_writes_from_threads(tmp_path):
    engine = engine_at(tmp_path / "idx")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                engine.upsert([(make_doc(f"t{n}-{i}"), 1)])
                if i % 5 == 0:
                    engine.commit()
                engine.search(MatchAll(), limit=5)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.commit()
    assert not errors
    assert engine.count(MatchAll()) == 100
    engine.close()


def test_uncommitted_get_is_realtime(tmp_path):
    engine = engine_at(tmp_path / "idx")
    doc = make_doc("a", tags=["x"])
    engine.upsert([(doc, 1)])
    assert engine.get("a") == (doc, 1)
    doc["tags"].append("mutated after the call")
    assert engine.get("a") == (make_doc("a", tags=["x"]), 1)
    engine.delete([("a", 1)])
    assert engine.get("a") is None
    engine.close()


def test_bad_input(tmp_path):
    engine = engine_at(tmp_path / "idx")
    with pytest.raises(ValueError, match="id"):
        engine.upsert([({"name": "no id"}, 1)])
    with pytest.raises(ValueError, match="sort"):
        engine.search(MatchAll(), sort=[SortKey("parameters.image")])
    with pytest.raises(ValueError, match="aggregate"):
        engine.aggregate(MatchAll(), {"x": TermsAgg("created_at")})
    with pytest.raises(ValueError, match="prefix"):
        engine.search(Prefix("depth", "1"))
    with pytest.raises(ValueError):
        engine.search(Range("depth", gte="many"))
    assert engine.search(Ids(("nothing",))).total == 0
    engine.close()


# -- the fused flatten ------------------------------------------------------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False, width=32)
    | st.text(alphabet="ab.\x1f é", max_size=4)
    | st.text(min_size=250, max_size=300),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(alphabet="ab.\x1f é", max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(value=_json)
def test_walk_is_flatten(value):
    """The engine's one-pass walker indexes exactly what ``fields.flatten`` defines."""
    flat = _Flat()
    _walk(value, "parameters", flat)
    leaves = list(F.flatten(value, "parameters"))
    assert flat.kv == [path + F.KV_SEP + text for path, text in leaves]
    prefixes: set[str] = set()
    for path, _ in leaves:
        parts = path.split(".")
        prefixes.update(".".join(parts[:i]) for i in range(2, len(parts) + 1))
    assert flat.paths == prefixes


def test_walk_on_the_corpus():
    for doc in CORPUS:
        for root in F.DYNAMIC_ROOTS:
            flat = _Flat()
            _walk(doc[root], root, flat)
            assert flat.kv == [p + F.KV_SEP + t for p, t in F.flatten(doc[root], root)]
