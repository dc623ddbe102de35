"""What only the embedded tantivy engine does: one writer, readers in other processes,
generations and CURRENT, schema versions, crashes. The contract itself is tests/conformance."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import textwrap
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatseeker.engines.base import EngineError, SchemaMismatch, WriterBusy
from heatseeker.engines.conformance import (
    CORPUS,
    make_doc,
    matches,
    page_of,
    reference_order,
    reference_page,
)
from heatseeker.engines.tantivy import (
    BATCH,
    RANGE_BOUND_BYTES,
    SCHEMA_VERSION,
    TantivyEngine,
    _Flat,
    _in_range,
    _range_rx,
    _surrogate_at,
    _text_bounds,
    _walk,
)
from heatseeker.engines.terms import strings
from heatseeker.query import fields as F
from heatseeker.query.errors import QueryError
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
    from heatseeker.engines.conformance import make_doc
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

        def gens():
            return sorted(p for p in os.listdir(root) if p.startswith("gen-"))

        assert writer.rebuild(items()) == 2
        assert (root / "CURRENT").read_text().strip() == "gen-2"
        # the reader has not looked since: it is still on gen-1, which stays
        assert sorted(os.listdir(root)) == ["CURRENT", "gen-1", "gen-2", "writer.lock"]
        assert ids(reader.search(MatchAll())) == ["new-0"]
        assert reader.get_version("old-0") == (9, True)
        assert reader.health()["generation"] == "gen-2"
        writer.commit()  # the writer's next commit removes what no process holds any more
        assert gens() == ["gen-2"]
        # a reader in the middle of a search at the swap keeps its generation until it is done
        held = reader._snapshot()
        writer.rebuild([(make_doc("newer"), "newer", 1)])
        assert gens() == ["gen-2", "gen-3"]
        assert ids(reader.search(MatchAll())) == ["newer"]
        writer.commit()
        assert gens() == ["gen-2", "gen-3"]  # `held` is still searching gen-2
        del held
        writer.commit()
        assert gens() == ["gen-3"]
        # a rebuild no process reads during leaves only the new generation
        reader.close()
        writer.rebuild([(make_doc("newest"), "newest", 1)])
        assert gens() == ["gen-4"]
    finally:
        reader.close()
        writer.close()


def test_a_reader_process_keeps_its_generation_until_it_moves_on(tmp_path):
    """Another process (an API worker) searching the live generation at a rebuild keeps it;
    once that process has moved to the new one, the writer's next commit removes the old."""
    root = tmp_path / "idx"
    writer = engine_at(root)
    writer.upsert([(make_doc("a"), 1)])
    writer.commit()
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys
        from heatseeker.engines.tantivy import TantivyEngine
        from heatseeker.query.tree import MatchAll
        e = TantivyEngine({str(root)!r}, read_only=True)
        for line in sys.stdin:
            print(e.count(MatchAll()), e.health()["generation"], flush=True)
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdin is not None and child.stdout is not None
    try:
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.stdout.readline().split() == ["1", "gen-1"]
        writer.rebuild([(make_doc("b"), "b", 1), (make_doc("c"), "c", 1)])
        writer.commit()
        assert sorted(p for p in os.listdir(root) if p.startswith("gen-")) == ["gen-1", "gen-2"]
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.stdout.readline().split() == ["2", "gen-2"]
        writer.commit()
        assert sorted(p for p in os.listdir(root) if p.startswith("gen-")) == ["gen-2"]
    finally:
        child.kill()
        child.wait()
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
    # coordination scores: "web" alone scores 1 however often it occurs, both words score 2
    engine.upsert([(make_doc(f"s{i:03d}", name="web web"), 1) for i in range(300)])
    engine.upsert([(make_doc("z-best", name="web server"), 1)])
    engine.commit()
    query = Text("name", "web server", operator="or")
    everything = engine.search(query, limit=400)
    assert everything.total == 301
    assert ids(everything)[0] == "z-best"
    assert ids(everything)[1:] == [f"s{i:03d}" for i in range(300)]
    assert [h.score for h in everything.hits] == [2.0] + [1.0] * 300
    assert everything.max_score == 2.0
    page = engine.search(query, offset=150, limit=10)
    assert ids(page) == ids(everything)[150:160]
    assert page.max_score == 2.0  # the best of all matches, whatever the page
    # one word: every match scores 1, in id order
    single = engine.search(Text("name", "web"), limit=400)
    assert ids(single) == sorted(ids(everything))
    assert {h.score for h in single.hits} == {1.0}
    engine.close()


@pytest.mark.parametrize("window", [4, 16, 64])
def test_score_ties_longer_than_the_window(tmp_path, monkeypatch, window):
    """Coordination scores tie often: a tie longer than SCORE_TIE_WINDOW around the page is walked
    in the order of the next keys, and every page is still exactly the reference's."""
    import heatseeker.engines.tantivy as engine_module

    engine = engine_at(tmp_path / "idx")
    docs = [
        make_doc(
            f"s{i:03d}",
            name=("web", "web server", "web server db")[i % 7 % 3],
            status=("CREATE_COMPLETE", "UPDATE_FAILED")[i % 2],
        )
        for i in range(90)
    ]
    engine.upsert((d, 1) for d in docs)
    engine.commit()
    monkeypatch.setattr(engine_module, "SCORE_TIE_WINDOW", window)
    query = Text("name", "web server db", operator="or")
    for sort in ([], [SortKey("_score", True), SortKey("status", True)],
                 [SortKey("status"), SortKey("_score", True)]):
        for offset, limit in ((0, 5), (3, 20), (40, 7), (85, 10), (0, 100)):
            result = engine.search(query, sort=sort, offset=offset, limit=limit)
            assert page_of(result) == reference_page(docs, query, sort, offset, limit)
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
    assert flat.strings == list(strings(value))  # the full text's strings, in their order
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


# -- ranges of text terms: a regular expression, no enumeration ------------------------------------

_CHARS = st.sampled_from(
    ["a", "b", "\x1f", "\\", "\x00", "\x7f", "\x80", "é", "\u07ff", "\u0800", "東", "\ud7ff",
     "\ue000", "\uffff", "\U00010000", "\U0010ffff", ".", "*", "[", "]", "-", "^", "\n"]
) | st.characters(codec="utf-8")
_VALUES = st.text(alphabet=_CHARS, max_size=5)


@st.composite
def _bound(draw, values: list[str]) -> str:
    """A bound near the values: one of them, a prefix, an extension, a neighbour, or anything
    (perhaps with a surrogate, which no term holds)."""
    base = draw(st.sampled_from(values))
    kind = draw(st.integers(0, 5))
    if kind == 1:
        return base[: draw(st.integers(0, len(base)))]
    if kind == 2:
        return base + draw(_VALUES)
    if kind == 3 and base:
        i = draw(st.integers(0, len(base) - 1))
        cp = ord(base[i]) + draw(st.sampled_from([-1, 1]))
        if 0 <= cp <= 0x10FFFF:
            return base[:i] + chr(cp) + base[i + 1 :]
    if kind == 4:
        return draw(_VALUES)
    if kind == 5:
        return base[: draw(st.integers(0, len(base)))] + draw(st.sampled_from(["\ud800", "\udfff"]))
    return base


def _py_regex(rx: str) -> re.Pattern:
    """tantivy's ``\\x{..}`` escapes in Python's syntax (the same code point semantics)."""
    return re.compile(re.sub(r"\\x\{([0-9a-f]+)\}", lambda m: f"\\U{int(m[1], 16):08x}", rx))


@settings(max_examples=1000, deadline=None)
@given(data=st.data())
def test_range_regex_is_the_range(data):
    """``_range_rx`` (with ``_text_bounds``) selects exactly the strings ``_in_range`` accepts,
    for every kind of bound: absent, inclusive, exclusive, prefixes of each other, equal, empty,
    crossed, KV_SEP, backslashes, every UTF-8 length, surrogates."""
    values = data.draw(st.lists(_VALUES, min_size=1, max_size=8))
    bounds = [data.draw(st.none() | _bound(values)) for _ in range(2)]
    raw_lo, raw_hi = bounds
    raw_lo_inc, raw_hi_inc = data.draw(st.booleans()), data.draw(st.booleans())
    rx, exact = _range_rx(*_text_bounds(raw_lo, raw_lo_inc, raw_hi, raw_hi_inc))
    pattern = _py_regex("(?s)" + rx) if rx is not None else None
    candidates = set(values)
    edges = ["", "\x00", "\x7f", "\x80", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\uffff",
             "\U00010000", "\U0010ffff"]
    for b in bounds:  # the bound, and every string that leaves it at a code point boundary
        if b is None:
            continue
        j = _surrogate_at(b)
        b = b if j is None else b[:j]
        for i in range(len(b) + 1):
            steps = (ord(b[i]) - 1, ord(b[i]) + 1) if i < len(b) else ()
            near = [chr(c) for c in steps if 0 <= c <= 0x10FFFF and not 0xD800 <= c <= 0xDFFF]
            candidates.update(b[:i] + c + t for c in edges + near for t in ("", "a"))
    for value in candidates:
        found = (pattern is not None and pattern.fullmatch(value) is not None) or value in exact
        want = _in_range(value, raw_lo, raw_lo_inc, raw_hi, raw_hi_inc)
        assert found == want, (value, bounds, rx, exact)


def _tricky_values() -> list[str]:
    """Ids and values that share their first 8 bytes, end inside them, hold NUL bytes, KV_SEP,
    backslashes and characters of every UTF-8 length."""
    rng = random.Random(11)
    alphabet = ["a", "b", "0", "1", "-", "\x00", "\x1f", "\\", "é", "東", "\U0001f600", "\uffff"]
    values = {"stack-0001", "stack-00019", "stack-0002", "stack-000", "stack-00", "s", "a",
              "a\x00", "a\x00b", "ab", "é", "éé", "東京-1", "東京", "\U0010ffff", "stack-00\x00",
              "\x7f\x80", "abcdefgh", "abcdefghi", "abcdefgg\U0010ffff", "abcdefg東"}
    while len(values) < 160:
        base = rng.choice(sorted(values)) if rng.random() < 0.6 else ""
        values.add(base[: rng.randint(0, len(base))] + "".join(
            rng.choice(alphabet) for _ in range(rng.randint(1, 4))))
    return sorted(values)


_TRICKY = _tricky_values()


@pytest.fixture(scope="module")
def tricky(tmp_path_factory):
    engine = engine_at(tmp_path_factory.mktemp("tricky") / "idx")
    docs = [make_doc(v, name=v, parameters={"v": v}) for v in _TRICKY]
    engine.upsert((d, 1) for d in docs)
    gone = _TRICKY[::7]
    engine.delete((sid, 2) for sid in gone)  # tombstones are in the term dictionary, never found
    engine.commit()
    yield engine, [d for d in docs if d["id"] not in gone]
    engine.close()


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_ranges_on_ids_keywords_and_dynamic_paths(tricky, data):
    """Range on ``id`` (``_idkey`` + a regex among ids sharing a bound's first 8 bytes), on a text
    field's exact form and on a dynamic path: exactly the reference evaluator's matches."""
    engine, docs = tricky
    field = data.draw(st.sampled_from(["id", "name", "parameters.v"]))
    lo = data.draw(st.none() | _bound(_TRICKY))
    hi = data.draw(st.none() | _bound(_TRICKY))
    lo_op, hi_op = data.draw(st.sampled_from(["gte", "gt"])), data.draw(st.sampled_from(["lte", "lt"]))
    node = Range(field, **{lo_op: lo, hi_op: hi})
    want = sorted(d["id"] for d in docs if matches(node, d))
    result = engine.search(node, limit=1000)
    assert (result.total, sorted(ids(result))) == (len(want), want)


def test_a_range_bound_too_long_is_a_bad_request(tmp_path):
    """The regex of a bound grows with its length: beyond RANGE_BOUND_BYTES the query is refused
    as the caller's mistake (QueryError, a 400), whatever the index holds."""
    engine = engine_at(tmp_path / "idx")
    engine.upsert([(make_doc("a" * 40, name="b" * 300, parameters={"v": "c"}), 1)])
    engine.commit()
    # (values of dynamic paths are cut at MAX_VALUE_CHARS characters, bounds too: "é" is 2 bytes)
    for long in ("x" * (RANGE_BOUND_BYTES + 1), "é" * F.MAX_VALUE_CHARS):
        for field in ("name", "parameters.v", "id", "status"):
            if field == "parameters.v" and long.isascii():
                continue  # cut to MAX_VALUE_CHARS = RANGE_BOUND_BYTES: fits
            for node in (Range(field, gte=long), Range(field, lt=long),
                         Range(field, gt="a", lte=long)):
                with pytest.raises(QueryError, match="too long"):
                    engine.search(node)
    # at the limit it answers, with ASCII bounds
    ok = "x" * RANGE_BOUND_BYTES
    assert engine.search(Range("name", gte="a", lt=ok)).total == 1
    assert engine.search(Range("id", gt=ok)).total == 0
    # two bounds sharing a long prefix are cheap: only what follows it grows the automaton
    assert engine.search(Range("name", gt="b" * 299, lt="b" * 301)).total == 1
    engine.close()


# -- count_distinct beyond tantivy's bucket limit ----------------------------------------------


def test_count_distinct_counts_range_by_range_beyond_the_bucket_limit(tmp_path, monkeypatch):
    """A roll-up at a million stacks matched ~110,000 roots, and tantivy refuses a terms
    aggregation of more than 65,000 buckets: count_distinct then counts range by range of the
    values' text, recursively, and still answers exactly, for ids of any shape and for a field
    with several values per stack."""
    import uuid

    import heatseeker.engines.tantivy as T

    rng = random.Random(7)
    roots = [uuid.UUID(int=rng.getrandbits(128)).hex for _ in range(150)]
    roots += ["", "0", "00", "zzz", "g1", "ÿ-odd", "F-upper", "-dash"]
    docs = []
    for i in range(600):
        root = roots[i % len(roots)]
        tags = [f"t{rng.randrange(400)}", rng.choice(roots)]
        docs.append(make_doc(f"s{i:04}", root_id=root, tags=tags,
                             status="CREATE_FAILED" if i % 3 else "CREATE_COMPLETE"))  # fmt: skip
    engine = engine_at(str(tmp_path / "index"))
    engine.upsert((d, 1) for d in docs)
    engine.delete([("s0000", 2), ("s0001", 2)])
    engine.commit()
    live = [d for d in docs if d["id"] not in ("s0000", "s0001")]
    failed = [d for d in live if d["status"] == "CREATE_FAILED"]
    expected = {
        (MatchAll(), "root_id"): len({d["root_id"] for d in live}),
        (Term("status", "CREATE_FAILED"), "root_id"): len({d["root_id"] for d in failed}),
        (MatchAll(), "tags"): len({t for d in live for t in d["tags"]}),
    }
    whole = {k: engine.count_distinct(*k) for k in expected}  # one aggregation each
    assert whole == expected
    calls: list[str] = []
    real = T.TantivyEngine._buckets
    monkeypatch.setattr(T.TantivyEngine, "_buckets",
                        lambda self, st, q, column: (calls.append(column), real(self, st, q, column))[1])
    monkeypatch.setattr(T, "AGG_BUCKET_LIMIT", 10)  # so every answer needs ranges, two levels deep
    assert {k: engine.count_distinct(*k) for k in expected} == expected
    assert len(calls) > 3 * 17
    # an aggregation refused for its buckets all the same is cut too
    monkeypatch.setattr(T, "AGG_BUCKET_LIMIT", 10_000)
    refused = {"n": 0}

    def refuse_big(self, st, q, column):
        buckets = real(self, st, q, column)
        if len(buckets) > 50:
            refused["n"] += 1
            raise EngineError("aggregation failed: bucket limit was exceeded. Limit: 50")
        return buckets

    monkeypatch.setattr(T.TantivyEngine, "_buckets", refuse_big)
    assert engine.count_distinct(MatchAll(), "root_id") == expected[(MatchAll(), "root_id")]
    assert refused["n"] >= 1
    engine.close()


# -- count_distinct up to a bound (the roll-up's total) -----------------------------------------


def test_bounded_count_of_roots_uses_the_estimate_only_far_beyond_the_bound(tmp_path, monkeypatch):
    """``at_most``: matches within the bound are counted exactly on ``_rootkey``; beyond it, a
    cardinality estimate far above the bound answers "more" without a bucket per root, an
    estimate near it (however wrong) is checked by counting; a refused aggregation (its buckets)
    falls back to the exact count. The answer is ``min(exact, at_most + 1)`` in every case."""
    import heatseeker.engines.tantivy as T

    docs = [make_doc(f"s{i:04}", root_id=f"r{i % 300:03}") for i in range(900)]
    docs += [make_doc("orphan")]  # no root_id: not a value, as in the exact count
    docs[-1].pop("root_id", None)
    engine = engine_at(str(tmp_path / "index"))
    engine.upsert((d, 1) for d in docs)
    engine.commit()
    exact = engine.count_distinct(MatchAll(), "root_id")
    assert exact == 300
    seen: list[str] = []
    real_buckets = T.TantivyEngine._buckets
    monkeypatch.setattr(T.TantivyEngine, "_buckets", lambda self, st, q, column: (
        seen.append(column), real_buckets(self, st, q, column))[1])
    for at_most in (0, 1, 50, 100, 299, 300, 301, 5000):
        seen.clear()
        assert engine.count_distinct(MatchAll(), "root_id", at_most=at_most) == min(300, at_most + 1)
        # 900 matches: beyond 50 the estimate (~300) is not far enough above the bound: counted
        assert seen == ([] if 2 * at_most + 100 < 290 else ["_rootkey"]), at_most
    # an estimate that lies low is caught by the count; one that lies high only says "more"
    import dataclasses

    class Lying:
        """A searcher whose cardinality estimate is ``lie``."""

        def __init__(self, s, lie):
            self.s, self.lie = s, lie

        def __getattr__(self, name):
            return getattr(self.s, name)

        def aggregate(self, q, spec):
            return {"c": {"value": self.lie}} if "c" in spec else self.s.aggregate(q, spec)

    st = engine._snapshot()
    for lie, at_most, want in ((5.0, 10, 11), (1e9, 100, 101), (1e9, 299, 300)):
        seen.clear()
        with monkeypatch.context() as m:
            m.setattr(engine, "_snapshot", lambda lie=lie: dataclasses.replace(
                st, searcher=Lying(st.searcher, lie)))
            assert engine.count_distinct(MatchAll(), "root_id", at_most=at_most) == want
        # a lie far above says "more" (true here), one below is counted
        assert seen == ([] if lie > 1e6 else ["_rootkey"])
    # a bound whose buckets tantivy refuses: the exact count, cut by ranges
    monkeypatch.setattr(T, "AGG_BUCKET_LIMIT", 100)
    monkeypatch.setattr(T.TantivyEngine, "_buckets", lambda self, st, q, column: (
        real_buckets(self, st, q, column) if column != "_rootkey" else
        (_ for _ in ()).throw(EngineError("aggregation failed: bucket limit was exceeded"))))
    assert engine.count_distinct(MatchAll(), "root_id", at_most=250) == 251
    assert engine.count_distinct(MatchAll(), "root_id", at_most=5000) == 300
    engine.close()


# -- sorting on root_id through its u64 prefix column ------------------------------------------


@pytest.mark.parametrize("descending", [False, True])
def test_root_id_order_through_its_prefix_column(tmp_path, descending):
    """A sort on ``root_id`` orders by ``_rootord`` (its first 8 bytes) and asks again, by
    ``root_id`` itself, only the runs of documents sharing a key: roots sharing their first 8
    bytes, a prefix of another, non-ASCII, empty, missing; pages at every offset agree with the
    reference order."""
    rng = random.Random(3)
    roots = ["sharedpfx-b", "sharedpfx-a", "sharedpfx", "sharedpf", "sharedpfx-a2", "zz",
             "é-root", "0", "shared\0x", "", None]
    docs = []
    for i in range(60):
        root = roots[i % len(roots)]
        doc = make_doc(f"s{rng.randrange(10**6):06}-{i}", root_id=root, status=rng.choice(
            ["CREATE_COMPLETE", "UPDATE_FAILED"]))
        if root is None:
            doc.pop("root_id")
        docs.append(doc)
    engine = engine_at(tmp_path / "index")
    engine.upsert((d, 1) for d in docs)
    engine.commit()
    # root_id alone: a run of one root's stacks is ordered by id from the _idkey column
    for sort in ((SortKey("root_id", descending), SortKey("status")), (SortKey("root_id", descending),)):
        for offset in range(0, len(docs), 7):
            got = engine.search(MatchAll(), sort=sort, offset=offset, limit=7)
            assert page_of(got) == reference_page(docs, MatchAll(), sort, offset, 7), (sort, offset)
    # the bounded count sees the same values as the exact one (the empty root id included)
    exact = engine.count_distinct(MatchAll(), "root_id")
    assert exact == len([r for r in roots if r is not None])
    assert [engine.count_distinct(MatchAll(), "root_id", at_most=m) for m in (3, exact, 100)] == [
        4, exact, exact]
    engine.close()
