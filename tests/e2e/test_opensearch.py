"""heatseeker on a real OpenSearch cluster (tools/opensearch): Heat sync on backend=opensearch,
zero-downtime rebuild behind aliases, and a two-node cluster losing a node mid-test."""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid

import pytest

from heatseeker.engines.conformance import make_doc
from heatseeker.engines.opensearch import OpenSearchEngine
from heatseeker.query import tree as t
from heatseeker.searcher import Searcher
from tests.unit.test_projection import _answers, _filled, _workers

from .conftest import Heatseeker, heat_quiet
from .links_support import tree_parents
from .test_sync import _listing, seeded  # noqa: F401 - seeded is a fixture

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "opensearch"))
import opensearchlab  # noqa: E402

PREFIX = f"hs-e2e-{os.getpid()}"


@pytest.fixture(scope="module", autouse=True)
def _cleanup(opensearch_url):
    yield
    from opensearchpy import OpenSearch

    client = OpenSearch([opensearch_url])
    client.indices.delete(index=f"{PREFIX}-*", params={"ignore_unavailable": "true"})
    client.close()


def _prefix() -> str:
    return f"{PREFIX}-{uuid.uuid4().hex[:8]}"


class OpenSearchHeatseeker(Heatseeker):
    """conftest's Heatseeker with ``[engine] backend = opensearch``."""

    def __init__(self, base: str, url: str, name: str = "hs"):
        super().__init__(base, name)
        self.url, self.prefix = url, _prefix()
        with open(self.conf) as f:
            text = f.read()
        text = text.replace("[engine]\n", "[engine]\nbackend = opensearch\n")
        text += f"[opensearch]\nhosts = {url}\nindex_prefix = {self.prefix}\nreplicas = 0\n"
        with open(self.conf, "w") as f:
            f.write(text)

    def searcher(self) -> Searcher:
        if self._engine is None:
            self._engine = OpenSearchEngine([self.url], index_prefix=self.prefix)  # type: ignore[assignment]
        return Searcher(self._engine)  # type: ignore[arg-type]


@pytest.fixture
def make_os_heatseeker(tmp_path, opensearch_url):
    made: list[Heatseeker] = []

    def make(name: str = "hs") -> OpenSearchHeatseeker:
        hs = OpenSearchHeatseeker(str(tmp_path), opensearch_url, name)
        made.append(hs)
        return hs

    yield make
    for hs in made:
        hs.close()


# -- Heat sync on backend = opensearch -----------------------------------------------------------


@pytest.mark.alone  # compares the index with all of Heat
def test_sync_matches_heat_on_opensearch(seeded, heat, make_os_heatseeker):  # noqa: F811
    heat_quiet()  # other tests' creates and deletes over: Heat holds still
    admin = heat("admin")
    hs = make_os_heatseeker()
    hs.sync()
    listing = _listing(admin)
    assert {s["project"] for s in listing.values()} >= {"alpha", "beta"}
    parents = tree_parents(listing, heat)  # Heat's parent, or an OS::Heat::Stack creator
    for sid, s in listing.items():
        doc = hs.indexed(sid)
        assert doc is not None, f"{s['stack_name']} ({sid}) is not indexed"
        assert (doc["project_id"], doc["name"], doc["status"], doc["parent_id"]) == (
            s["project"], s["stack_name"], s["stack_status"], parents[sid][0])
    for sid, s in listing.items():
        if s["project"] != "alpha":
            continue
        show = heat("alpha").stacks.get(sid).to_dict()
        params = {k: v for k, v in show["parameters"].items() if not k.startswith("OS::")}
        assert hs.indexed(sid)["parameters"] == params
    # search, isolation, roll-up through the CLI on OpenSearch
    alpha = hs.search("parameters.image:cirros-0.6.2", "--project", "alpha")
    assert alpha["hits"]["total"] >= 1
    assert {h["_source"]["project_id"] for h in alpha["hits"]["hits"]} == {"alpha"}
    rolled = hs.search("resources.type:OS::Heat::TestResource", "--project", "alpha",
                       "--rollup", "root")
    assert rolled["hits"]["total"] >= 1
    assert all(r["_source"]["depth"] == 0 for r in rolled["hits"]["hits"])
    # the checkpoint was committed with the writes; a second sync reads nothing new
    out = hs.sync()
    assert " 0 added, 0 refreshed" in out, out
    # reindex (zero-downtime rebuild from the store) keeps every stack
    before = hs.count(t.MatchAll())
    hs.run("reindex")
    hs.close()
    hs._engine = None
    assert hs.count(t.MatchAll()) == before


# -- zero-downtime rebuild --------------------------------------------------------------------------


def test_a_retired_generation_goes_once_no_request_can_read_it(opensearch_url):
    """The previous generation outlives a rebuild only as long as a request may run
    (``[opensearch] timeout``); then the next commit of any process deletes it."""
    prefix = _prefix()
    engine = OpenSearchEngine([opensearch_url], index_prefix=prefix, replicas=0, timeout=5.0)
    other = OpenSearchEngine([opensearch_url], index_prefix=prefix, replicas=0, timeout=5.0)

    def gens():
        return sorted(engine.client.indices.get(index=f"{prefix}-gen-*"))

    try:
        engine.upsert([(make_doc("a"), 1)])
        engine.commit()
        assert engine.rebuild([(make_doc("b"), "b", 1)]) == 1
        assert gens() == [f"{prefix}-gen-1", f"{prefix}-gen-2"]  # a search may still read gen-1
        other.upsert([(make_doc("c"), 1)])
        other.commit()
        assert gens() == [f"{prefix}-gen-1", f"{prefix}-gen-2"]
        time.sleep(5.5)
        other._retired_checked = float("-inf")  # the commit after its once-per-timeout look
        other.upsert([(make_doc("d"), 1)])
        other.commit()
        assert gens() == [f"{prefix}-gen-2"]
        assert engine.count(t.MatchAll()) == 3  # b, c, d
        time.sleep(5.5)
        engine.rebuild([(make_doc("e"), "e", 1)])  # gen-2, retired now, stays for now
        assert gens() == [f"{prefix}-gen-2", f"{prefix}-gen-3"]
    finally:
        engine.client.indices.delete(index=f"{prefix}-gen-*", params={"ignore_unavailable": "true"})
        engine.close()
        other.close()


def test_a_bulk_request_partly_rejected_loses_nothing(opensearch_url, monkeypatch):
    """OpenSearch refuses one document of a bulk request (a value its mapping cannot take) and
    takes the others: the commit fails naming why, keeps every write for the next commit
    (versions make the re-sent ones harmless), and once the cause is gone nothing is missing."""
    from heatseeker.engines import opensearch as O
    from heatseeker.engines.base import EngineError

    prefix = _prefix()
    engine = OpenSearchEngine([opensearch_url], index_prefix=prefix, replicas=0)
    real = O.index_body

    def poisoned(doc):
        body = real(doc)
        if doc["id"] == "bad":
            body["i_depth"] = ["not a number"]  # mapper_parsing_exception for this one
        return body

    try:
        monkeypatch.setattr(O, "index_body", poisoned)
        engine.upsert([(make_doc(f"good-{i}"), 1) for i in range(5)] + [(make_doc("bad"), 1)])
        with pytest.raises(EngineError, match="bulk write failed.*(mapper_parsing|number)"):
            engine.commit(checkpoint=7)
        assert engine.checkpoint() == 0  # not moved past what was not written
        monkeypatch.setattr(O, "index_body", real)
        engine.commit(checkpoint=7)
        found = sorted(hit.id for hit in engine.search(t.MatchAll()).hits)
        assert found == ["bad"] + [f"good-{i}" for i in range(5)]
        assert engine.checkpoint() == 7
    finally:
        engine.client.indices.delete(index=f"{prefix}-gen-*", params={"ignore_unavailable": "true"})
        engine.close()


def test_rebuild_keeps_search_answering_and_rolls_back(opensearch_url):
    prefix = _prefix()
    engine = OpenSearchEngine([opensearch_url], index_prefix=prefix, replicas=0)
    other = OpenSearchEngine([opensearch_url], index_prefix=prefix, replicas=0)  # another writer
    engine.upsert((make_doc(f"old-{i}", tags=["old"]), 1) for i in range(30))
    engine.commit(checkpoint=30)
    answers: list[int] = []
    errors: list[Exception] = []
    stop = threading.Event()

    def searching():
        reader = OpenSearchEngine([opensearch_url], index_prefix=prefix)
        while not stop.is_set():
            try:
                answers.append(reader.count(t.MatchAll()))
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
            time.sleep(0.01)
        reader.close()

    def items(fail: bool):
        for i in range(40):
            if i == 20:
                time.sleep(0.5)  # searches run against the old generation meanwhile
                # a live write during the rebuild reaches both generations
                other.upsert([(make_doc(f"live-{fail}", tags=["live"]), 5)])
                other.commit()
                if fail:
                    raise RuntimeError("the store went away")
            yield make_doc(f"new-{i}", tags=["new"]), f"new-{i}", 2

    thread = threading.Thread(target=searching)
    thread.start()
    try:
        # a failed rebuild leaves search untouched (and no building generation behind)
        with pytest.raises(RuntimeError):
            engine.rebuild(items(fail=True), checkpoint=99)
        assert engine.count(t.Term("tags", "old")) == 30
        assert engine.checkpoint() == 30
        health = engine.health()
        assert health["generation"] == f"{prefix}-gen-1" and health["rebuilding"] is False
        # a rebuild that completes swaps atomically
        assert engine.rebuild(items(fail=False), checkpoint=40) == 40
    finally:
        stop.set()
        thread.join()
    assert not errors, errors[:3]
    # every answer was the old index (30, then 31 and 32 with the live writes) or the complete
    # new one (40 rebuilt + the live write made during the rebuild)
    assert set(answers) <= {30, 31, 32, 41}, sorted(set(answers))
    assert answers and engine.count(t.MatchAll()) == 41
    assert engine.count(t.Term("tags", "old")) == 0
    assert engine.get("live-False") is not None and engine.get("live-True") is None
    assert engine.checkpoint() == 40
    engine.close()
    other.close()


# -- a reindex through worker processes (issue 16 part 2) ---------------------------------------
# the record and the answers compared are the embedded engine's test's (tests/unit/test_projection)


def _gens(engine: OpenSearchEngine) -> list[str]:
    return sorted(engine.client.indices.get(index=f"{engine.prefix}-gen-*"))


def test_a_reindex_through_worker_processes_answers_like_one_process(opensearch_url, tmp_path):
    """Worker processes encode the documents and the reindex process sends them, several bulk
    requests at a time: the index answers exactly as one made in one process, request by
    request (scores, order, sources, versions and tombstones)."""
    from heatseeker.projection import Projector

    store = _filled(str(tmp_path / "state.sqlite"), 700)
    ids = [f"r{i:05}" for i in range(700)]
    one = OpenSearchEngine([opensearch_url], index_prefix=_prefix(), replicas=0)
    many = OpenSearchEngine([opensearch_url], index_prefix=_prefix(), replicas=0, bulk_size=37,
                            bulk_concurrency=3)  # fmt: skip
    try:
        assert Projector(store, one).rebuild(workers=1) == 700
        assert Projector(store, many).rebuild(workers=2) == 700
        assert _answers(many, ids) == _answers(one, ids)
        assert many.count(t.MatchAll()) == 700 - len(range(0, 700, 11))
        assert many.checkpoint() == store.max_seq()
    finally:
        for engine in (one, many):
            engine.client.indices.delete(index=f"{engine.prefix}-gen-*",
                                         params={"ignore_unavailable": "true"})  # fmt: skip
            engine.close()


def poison_r00042(item):
    """A preparer whose document r00042 OpenSearch refuses (a value its mapping cannot take): runs
    in the reindex's worker processes."""
    import json

    from heatseeker.engines import opensearch as O

    sid, version, body = O.prepare(item)
    if sid == "r00042":
        source = json.loads(body)
        source["i_depth"] = ["not a number"]
        body = json.dumps(source).encode()
    return sid, version, body


class _Poisoned(OpenSearchEngine):
    preparer = staticmethod(poison_r00042)


def test_a_reindex_whose_bulk_is_partly_refused_fails_and_the_index_stays(opensearch_url, tmp_path):
    """One document of one bulk request is refused, the others of it are taken: the reindex fails
    naming why, the new generation is removed whole, and search answers from the previous one."""
    from heatseeker.engines.base import EngineError
    from heatseeker.projection import Projector

    store = _filled(str(tmp_path / "state.sqlite"), 300)
    ids = [f"r{i:05}" for i in range(300)]
    prefix = _prefix()
    engine = _Poisoned([opensearch_url], index_prefix=prefix, replicas=0, bulk_size=50)
    try:
        engine.rebuild([(make_doc("old"), "old", 1)], checkpoint=1)  # in process: not poisoned
        before = (_gens(engine), _answers(engine, ids + ["old"]))
        with pytest.raises(EngineError, match="bulk write failed.*(mapper_parsing|number)"):
            Projector(store, engine).rebuild(workers=2)
        assert (_gens(engine), _answers(engine, ids + ["old"])) == before
        assert engine.health()["rebuilding"] is False
    finally:
        engine.client.indices.delete(index=f"{prefix}-gen-*", params={"ignore_unavailable": "true"})
        engine.close()


def test_a_worker_that_dies_fails_the_reindex_and_the_index_stays(opensearch_url, tmp_path):
    from heatseeker.projection import ProjectionError, Projector

    store = _filled(str(tmp_path / "state.sqlite"), 3000)
    prefix = _prefix()
    engine = OpenSearchEngine([opensearch_url], index_prefix=prefix, replicas=0, bulk_size=100)
    killed: list[int] = []

    def killer() -> None:
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline:
            for pid in _workers():
                time.sleep(0.3)  # a few requests are on their way
                os.kill(pid, 9)
                killed.append(pid)
                break
            time.sleep(0.01)

    try:
        engine.rebuild([(make_doc("old"), "old", 1)], checkpoint=1)
        before = (_gens(engine), engine.count(t.MatchAll()), engine.checkpoint())
        thread = threading.Thread(target=killer)
        thread.start()
        with pytest.raises(ProjectionError, match="worker process died"):
            Projector(store, engine).rebuild(workers=2)
        thread.join()
        assert killed
        assert (_gens(engine), engine.count(t.MatchAll()), engine.checkpoint()) == before
        # run again, it completes
        assert Projector(store, engine).rebuild(workers=2) == 3000
        assert engine.count(t.MatchAll()) == 3000 - len(range(0, 3000, 11))
    finally:
        engine.client.indices.delete(index=f"{prefix}-gen-*", params={"ignore_unavailable": "true"})
        engine.close()


# -- a two-node cluster ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pair():
    urls = opensearchlab.start_cluster([2, 3])
    yield urls
    for n in (3, 2):
        opensearchlab.stop_node(n)


def test_two_node_cluster_survives_a_node(pair):
    prefix = _prefix()
    engine = OpenSearchEngine(pair, index_prefix=prefix, replicas=1, shards=2, timeout=20)
    engine.upsert((make_doc(f"s{i}", tags=["pair"] if i % 2 else []), i + 1) for i in range(60))
    engine.delete([("s0", 99)])
    engine.commit(checkpoint=60)
    opensearchlab.health(2, "green", timeout=60)
    assert engine.count(t.Term("tags", "pair")) == 30
    # stop the node that is not the elected cluster manager: with two cluster-manager-eligible
    # nodes the voting configuration holds one of them, and losing that one leaves no quorum
    import json
    import urllib.request

    with urllib.request.urlopen(pair[0] + "/_cluster/state/cluster_manager_node,nodes",
                                timeout=20) as r:
        state = json.load(r)
    manager = state["nodes"][state["cluster_manager_node"]]["name"]
    stopped, kept = (2, 3) if manager == "node3" else (3, 2)
    opensearchlab.stop_node(stopped)
    # the surviving node holds a copy of every shard: search still answers, complete
    survivor = OpenSearchEngine([opensearchlab.url(kept)], index_prefix=prefix, timeout=20)
    deadline = time.monotonic() + 60
    while True:
        try:
            assert survivor.count(t.Term("tags", "pair")) == 30
            assert survivor.count(t.MatchAll()) == 59
            assert survivor.get_version("s0") == (99, True)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    assert survivor.search(t.Term("tags", "pair"), limit=5).total == 30
    survivor.close()
    engine.close()


# -- moving an embedded installation onto OpenSearch ------------------------------------------------


@pytest.mark.alone  # a sync of all of Heat adds nothing
def test_reindex_to_opensearch_moves_an_embedded_installation(seeded, make_os_heatseeker):  # noqa: F811
    heat_quiet()  # other tests' creates and deletes over: Heat holds still
    from heatseeker.engines.tantivy import TantivyEngine
    from heatseeker.query.visibility import Visibility

    hs = make_os_heatseeker("moving")
    with open(hs.conf) as f:
        text = f.read()
    with open(hs.conf, "w") as f:  # an embedded installation that already knows its cluster
        f.write(text.replace("backend = opensearch\n", ""))
    hs.sync()
    embedded = TantivyEngine(os.path.join(hs.data_dir, "index"), read_only=True)
    every = Visibility.everything()
    want = Searcher(embedded).count(t.MatchAll(), view=every)
    sample = embedded.search(t.MatchAll(), limit=5).hits
    embedded.close()
    assert want > 0
    out = hs.run("reindex", "--to", "opensearch").stdout
    assert "into the opensearch engine" in out, out
    assert hs.count(t.MatchAll()) == want
    for hit in sample:
        assert hs.indexed(hit.id) == hit.source
    with open(hs.conf, "w") as f:  # switched over: later syncs write to OpenSearch
        f.write(text)
    out = hs.sync()
    assert " 0 added, 0 refreshed" in out, out


# -- several listener processes, one RabbitMQ pool ---------------------------------------------------


def test_several_listeners_share_one_pool(heat, make_os_heatseeker):
    """Two listener processes on one pool (RabbitMQ hands each message to one of them), both
    writing the same OpenSearch index: the index ends equal to Heat's truth."""
    import subprocess

    from .conftest import create, heat_status, unique, wait_for, wait_heat
    from .test_listener import converge, delete_all
    from .test_multihost import _consumers

    alpha = heat("alpha")
    hs = make_os_heatseeker()
    hs.start_listener()
    with open(os.path.join(hs.dir, "listener2.out"), "a") as log:
        second = subprocess.Popen(hs.cmd("listen"), stdout=log, stderr=subprocess.STDOUT)
    ids: list[str] = []
    try:
        # both consume the same queue before Heat says anything (else one may take everything)
        wait_for(lambda: _consumers(hs.pool) == 2, 60, "two consumers on the listeners' pool")
        for _ in range(4):
            ids.append(create(alpha, unique("pair"), "slow.yaml", parameters={"wait": 0}))
        for sid in ids:
            wait_heat(alpha, sid, "CREATE_COMPLETE")
        from .conftest import contents

        tpl, files, env = contents("slow.yaml")
        for sid in ids[:2]:
            alpha.stacks.update(sid, template=tpl, files=files, environment=env,
                                parameters={"wait": 0, "image": "fedora-41"})
        alpha.stacks.delete(ids[3])
        for sid in ids[:2]:
            wait_heat(alpha, sid, "UPDATE_COMPLETE")
        wait_heat(alpha, ids[3], "DELETE_COMPLETE")
        for sid in ids:
            converge(hs, alpha, sid)
        for sid in ids[:2]:
            wait_for(lambda sid=sid: hs.indexed(sid)["parameters"]["image"] == "fedora-41", 60,
                     "the updated image")
        assert hs.indexed(ids[3]) is None and heat_status(alpha, ids[3]) in (None, "DELETE_COMPLETE")
        assert hs.listener.poll() is None and second.poll() is None
    finally:
        second.terminate()
        second.wait(60)
        delete_all(alpha, ids[:3])
