"""The OpenSearch engine's documents and bulk requests, without a node (a fake client).

The end-to-end side (a real node: a rebuild through worker processes answers like the in-process
one, a partly refused request) is tests/e2e/test_opensearch.py; the answers themselves are the
conformance suite's (tests/conformance/test_opensearch.py).
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opensearchpy.exceptions import TransportError

from heatseeker.engines import opensearch as O
from heatseeker.engines.base import EngineError
from heatseeker.engines.conformance.corpus import CORPUS, make_doc
from heatseeker.engines.terms import strings
from heatseeker.query import fields as F
from heatseeker.query.analysis import MAX_WORD_BYTES, WORD, words

# -- documents: one walk gives what flatten, strings and words define ------------------------------


def _defined(doc: dict) -> tuple[list[str], set[str], set[str]]:
    """kv terms, paths and full-text words as the definitions give them (the engine's earlier
    code, one pass each)."""
    kv: dict[str, None] = {}
    paths: set[str] = set()
    for root in F.DYNAMIC_ROOTS:
        if doc.get(root) is None:
            continue
        for path, text in F.flatten(doc[root], root):
            kv[path + F.KV_SEP + text] = None
            parts = path.split(".")
            paths.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    kept = {k: v for k, v in doc.items() if k not in F.FULLTEXT_EXCLUDED}
    analysed = {" ".join(words(s)) for s in strings(kept)} - {""}
    return list(kv), paths, analysed


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet="aB. \x1fé1_-", max_size=6),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(alphabet="ab.\x1f é", max_size=3), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(parameters=_json, outputs=_json, description=st.text(max_size=20))
def test_index_body_holds_what_the_definitions_give(parameters, outputs, description):
    doc = make_doc("s", parameters=parameters, outputs=outputs, description=description)
    body = O.index_body(doc)
    kv, paths, analysed = _defined(doc)
    assert set(body["kv"]) == set(kv) and len(body["kv"]) == len(kv)  # each once, any order
    assert set(body["paths"]) == paths and len(body["paths"]) == len(paths)
    assert set(body["all"]) == analysed and len(body["all"]) == len(analysed)  # each once


def test_index_body_on_the_corpus():
    for doc in CORPUS:
        body = O.index_body(doc)
        kv, paths, analysed = _defined(doc)
        assert (set(body["kv"]), set(body["paths"]), set(body["all"])) == (set(kv), paths, analysed)
        assert body["hs_doc"] is doc and body["hs_live"] is True


@settings(max_examples=500, deadline=None)
@given(st.text() | st.text(alphabet="aZ09 _-.:/\x7f" + "x" * 5, max_size=120))
def test_words_ascii_shortcut_is_the_definition(text):
    assert words(text) == [w.lower() for w in WORD.findall(text)
                           if len(w.encode()) < MAX_WORD_BYTES]  # fmt: skip


def test_the_analysis_cache_stays_bounded_and_keeps_no_long_string(monkeypatch):
    monkeypatch.setattr(O, "ANALYSED_CACHE", 5)
    monkeypatch.setattr(O, "_analysed_seen", {})
    texts = [f"Word{i} OS::Nova::Server" for i in range(12)] + ["x " * 200]
    for _ in range(2):
        assert [O._analysed_cached(t) for t in texts] == [" ".join(words(t)) for t in texts]
        assert len(O._analysed_seen) <= 5
    assert "x " * 200 not in O._analysed_seen


def test_prepare_encodes_once_and_marks_tombstones():
    sid, version, body = O.prepare((make_doc("a", name="web"), "a", 7))
    assert (sid, version) == ("a", 7)
    assert json.loads(body) == json.loads(json.dumps(O.index_body(make_doc("a", name="web"))))
    # the item's id wins (as in the embedded engine); a tombstone is above every live version
    assert json.loads(O.prepare((make_doc("a"), "b", 1))[2])["hs_doc"]["id"] == "b"
    assert O.prepare((None, "a", 9)) == ("a", O.TOMBSTONE_BASE + 9, b'{"hs_live":false}')
    pair = O._pair("ix", O.prepare((None, "a", 9)))
    head, source, end = pair.split(b"\n")
    assert json.loads(head) == {"index": {"_index": "ix", "_id": "a", "version": O.TOMBSTONE_BASE + 9,
                                          "version_type": "external"}}  # fmt: skip
    assert json.loads(source) == {"hs_live": False} and end == b""


@pytest.mark.parametrize("value", [2**70, -(2**64), "\ud800 lone", "é 日本 \u2028", 2.5, None])
def test_a_source_is_the_same_json_whichever_encoder_writes_it(value):
    """orjson writes a source; what it refuses (an integer beyond 64 bits, a lone surrogate) json
    writes: either way the bytes decode to what json.dumps would have written."""
    doc = make_doc("a", parameters={"p": value, "q": [value, {"k": value}]})
    body = O.prepare((doc, "a", 1))[2]
    assert json.loads(body) == json.loads(json.dumps(O.index_body(doc)))
    assert json.loads(body)["hs_doc"]["parameters"]["p"] == value


def test_requests_are_cut_by_count_and_by_bytes(monkeypatch):
    items = [("x", 1, b"0" * 100)] * 10
    assert [len(r) for r in O._requests(items, 4)] == [4, 4, 2]
    monkeypatch.setattr(O, "BULK_MAX_BYTES", 250)
    assert [len(r) for r in O._requests(items, 100)] == [3, 3, 3, 1]


# -- bulk requests: refusals, retries, several in flight ----------------------------------------


class FakeClient:
    """``bulk`` answers from a script: per call, a status for the whole request (an int), or a
    status per action (a list; missing ones 201). Records what each call carried. ``together``:
    each call waits until that many calls are running at once (a barrier that breaks after 5 s)."""

    def __init__(self, script: list, delay: float = 0.0, together: int = 0):
        self.script = list(script)
        self.delay = delay
        self.barrier = threading.Barrier(together, timeout=5) if together else None
        self.calls: list[list[str]] = []
        self.lock = threading.Lock()
        self.busy = self.most_busy = 0

    def bulk(self, body: bytes, params: dict):
        with self.lock:
            ids = [json.loads(line)["index"]["_id"] for line in body.split(b"\n")[0:-1:2]]
            self.calls.append(ids)
            answer = self.script.pop(0) if self.script else []
            self.busy += 1
            self.most_busy = max(self.most_busy, self.busy)
        try:
            if self.barrier is not None:
                self.barrier.wait()
            time.sleep(self.delay)
            if isinstance(answer, int):
                raise TransportError(answer, "es_rejected_execution_exception", {})
            if isinstance(answer, Exception):
                raise answer
            statuses = answer + [201] * (len(ids) - len(answer))
            items = []
            for sid, status in zip(ids, statuses, strict=True):
                op = {"_index": "ix", "_id": sid, "status": status}
                if status >= 300:
                    op["error"] = {"type": "mapper_parsing_exception" if status == 400
                                   else "es_rejected_execution_exception"}  # fmt: skip
                items.append({"index": op})
            return {"errors": any(s >= 300 for s in statuses), "items": items}
        finally:
            with self.lock:
                self.busy -= 1


def _engine(client: FakeClient, **kwargs) -> O.OpenSearchEngine:
    return O.OpenSearchEngine(client=client, replicas=0, **kwargs)


def _pairs(ids: list[str]) -> list[bytes]:
    return [O._pair("ix", O.prepare((make_doc(i), i, 1))) for i in ids]


@pytest.fixture(autouse=True)
def _no_pause(monkeypatch):
    monkeypatch.setattr(O, "BULK_BACKOFF", 0.0)


def test_items_refused_for_room_are_sent_again_alone_and_conflicts_are_not_errors():
    client = FakeClient([[201, 429, 409, 429], [201, 429], []])
    engine = _engine(client)
    applied = engine._send(_pairs(["a", "b", "c", "d"]), ["ix"] * 4)
    assert client.calls == [["a", "b", "c", "d"], ["b", "d"], ["d"]]
    assert applied == {"ix": 3}  # a, b, d; c's newer version was held (409)


def test_a_whole_request_refused_for_room_is_sent_again():
    client = FakeClient([429, 429, []])
    assert _engine(client)._send(_pairs(["a", "b"]), ["ix"] * 2) == {"ix": 2}
    assert len(client.calls) == 3


def test_room_that_never_comes_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(O, "BULK_RETRIES", 2)
    client = FakeClient([[429], [429], [429]])
    with pytest.raises(EngineError, match=r"1 action\(s\) still refused .*429.* after 2 retries"):
        _engine(client)._send(_pairs(["a", "b"]), ["ix"] * 2)
    assert client.calls == [["a", "b"], ["a"], ["a"]]


def test_a_document_refused_for_its_content_is_an_error_naming_why():
    client = FakeClient([[201, 400]])
    with pytest.raises(EngineError, match="bulk write failed.*mapper_parsing_exception"):
        _engine(client)._send(_pairs(["a", "b"]), ["ix"] * 2)
    assert len(client.calls) == 1  # not retried: it would be refused again


def test_a_dead_node_is_a_clear_error():
    from opensearchpy.exceptions import ConnectionError as OSConnectionError

    client = FakeClient([OSConnectionError("N/A", "Connection refused", None)])
    with pytest.raises(EngineError, match="opensearch: .*Connection refused"):
        _engine(client)._send(_pairs(["a"]), ["ix"])


def test_the_sender_keeps_requests_in_flight_and_waits_for_all_of_them():
    client = FakeClient([], together=3)  # a request ends only once three run at once
    engine = _engine(client, bulk_concurrency=3)
    runs = [[O.prepare((make_doc(f"{r}-{i}"), f"{r}-{i}", 1)) for i in range(5)] for r in range(9)]
    with O._Sender(engine, "ix") as sender:
        for run in runs:
            sender.send(run)
    assert sorted(i for call in client.calls for i in call) == sorted(
        f"{r}-{i}" for r in range(9) for i in range(5))  # fmt: skip
    assert client.most_busy == 3 and client.busy == 0


def test_a_failed_request_stops_the_sender_and_none_is_left_running():
    client = FakeClient([[], [201, 400], [], [], [], []], delay=0.05)
    engine = _engine(client, bulk_concurrency=2)
    runs = [[O.prepare((make_doc(f"{r}-{i}"), f"{r}-{i}", 1)) for i in range(2)] for r in range(20)]
    with pytest.raises(EngineError, match="mapper_parsing"), O._Sender(engine, "ix") as sender:
        for run in runs:
            sender.send(run)
    assert client.busy == 0  # every request had ended when the error came out
    assert len(client.calls) < 20  # and no more were sent after it


def test_a_whole_request_refused_for_room_every_time_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(O, "BULK_RETRIES", 2)
    client = FakeClient([429, 429, 429, []])
    with pytest.raises(EngineError, match=r"429"):
        _engine(client)._send(_pairs(["a", "b"]), ["ix"] * 2)
    assert len(client.calls) == 3


def test_a_content_refusal_is_not_retried_even_beside_a_room_refusal():
    client = FakeClient([[429, 400, 201]])
    with pytest.raises(EngineError, match="mapper_parsing_exception"):
        _engine(client)._send(_pairs(["a", "b", "c"]), ["ix"] * 3)
    assert len(client.calls) == 1


def test_live_writes_to_two_generations_count_the_first_and_refresh_with_the_last_request():
    """During a rebuild a commit writes to the live and the building generation: one request
    per run of documents holds both, items refused for room are sent again, the applied count is
    the first target's, and only the last request asks for a refresh."""

    class Recording(FakeClient):
        def __init__(self, script):
            super().__init__(script)
            self.refreshes: list[str] = []
            self.indexes: list[list[str]] = []

        def bulk(self, body: bytes, params: dict):
            self.refreshes.append(params["refresh"])
            self.indexes.append([json.loads(x)["index"]["_index"] for x in body.split(b"\n")[0:-1:2]])
            return super().bulk(body, params)

    client = Recording([[201, 201, 429, 201], [], []])  # run 1: a's write to "new" refused once
    engine = _engine(client, bulk_size=2)
    actions = [("a", make_doc("a"), 1), ("b", make_doc("b"), 1), ("c", make_doc("c"), 1)]
    assert engine._bulk(actions, ["live", "new"], refresh=True) == 3
    assert client.calls == [["a", "b", "a", "b"], ["a"], ["c", "c"]]
    assert client.indexes == [["live", "live", "new", "new"], ["new"], ["live", "new"]]
    assert client.refreshes == ["false", "false", "true"]
    assert engine._bulk([], ["live"], refresh=False) == 0 and len(client.calls) == 3


def test_a_failed_rebuild_stops_the_retries_of_its_requests_in_flight(monkeypatch, caplog):
    """The rebuild fails while a request waits to be sent again (429): leaving the sender does
    not wait out its pauses, and its own failure is logged, not lost."""
    monkeypatch.setattr(O, "BULK_BACKOFF", 30.0)
    client = FakeClient([429] * 20)
    engine = _engine(client)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="a worker died"), O._Sender(engine, "ix") as sender:
        sender.send([O.prepare((make_doc("a"), "a", 1))])
        while not client.calls:
            time.sleep(0.01)
        raise RuntimeError("a worker died")
    assert time.monotonic() - started < 10 and client.busy == 0
    assert "cancelled" in caplog.text
