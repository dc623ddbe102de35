"""Writes: versions, commits, persistence, tombstones, rebuilds, the checkpoint and health.

The contract's rules on versions (``base.py``): an upsert applies only with a greater version, a
delete always applies and is final, versions compare with uncommitted writes too, and a rebuild
replaces the whole index (versions and tombstones included) atomically.
"""

from __future__ import annotations

import copy

from heatseeker.engines.conformance.base import BaseTestEngine, corpus_ids, ids
from heatseeker.engines.conformance.corpus import CORPUS, make_doc
from heatseeker.query.tree import (
    Bool,
    Exists,
    Ids,
    MatchAll,
    Prefix,
    Term,
    TermsAgg,
)


class WritesTest(BaseTestEngine):
    """Upserts, versions, commits and persistence."""

    def test_upsert_get_and_version(self, engine):
        doc = make_doc("s1", parameters={"image": "cirros"})
        assert engine.get("s1") is None
        assert engine.get_version("s1") is None
        assert engine.upsert([(doc, 3)]).applied == 1
        engine.commit()
        assert engine.get("s1") == (doc, 3)
        assert engine.get_version("s1") == (3, False)
        hit = engine.search(Ids(("s1",))).hits[0]
        assert (hit.id, hit.version, hit.source) == ("s1", 3, doc)

    def test_newer_version_replaces(self, engine):
        engine.upsert([(make_doc("s1", status="CREATE_IN_PROGRESS"), 1)])
        engine.commit()
        result = engine.upsert([(make_doc("s1", status="CREATE_COMPLETE"), 2)])
        assert (result.applied, result.ignored) == (1, 0)
        engine.commit()
        assert engine.get("s1")[0]["status"] == "CREATE_COMPLETE"
        assert engine.get_version("s1") == (2, False)
        assert engine.count(MatchAll()) == 1
        assert engine.count(Term("status", "CREATE_IN_PROGRESS")) == 0

    def test_older_or_equal_version_ignored(self, engine):
        engine.upsert([(make_doc("s1", status="UPDATE_COMPLETE"), 5)])
        engine.commit()
        result = engine.upsert(
            [(make_doc("s1", status="OLD"), 4), (make_doc("s1", status="SAME"), 5)]
        )
        assert (result.applied, result.ignored) == (0, 2)
        engine.commit()
        assert engine.get("s1")[0]["status"] == "UPDATE_COMPLETE"
        assert engine.get_version("s1") == (5, False)

    def test_versions_compare_with_uncommitted_writes(self, engine):
        result = engine.upsert(
            [(make_doc("s1", status="A_ONE"), 1), (make_doc("s1", status="A_THREE"), 3)]
        )
        assert result.applied == 2
        result = engine.upsert([(make_doc("s1", status="A_TWO"), 2)])
        assert (result.applied, result.ignored) == (0, 1)
        assert engine.get_version("s1") == (3, False)
        engine.commit()
        assert engine.get("s1")[0]["status"] == "A_THREE"
        assert engine.count(MatchAll()) == 1

    def test_commit_makes_writes_visible(self, engine):
        engine.upsert([(make_doc(f"s{i}", tags=["batch"]), 1) for i in range(5)])
        engine.commit()
        assert engine.count(Term("tags", "batch")) == 5
        assert set(ids(engine.search(Term("tags", "batch")))) == {f"s{i}" for i in range(5)}

    def test_persists_after_reopen(self, tmp_path):
        engine = self.make_engine(tmp_path)
        engine.upsert([(make_doc("s1", tags=["kept"]), 2), (make_doc("s2"), 1)])
        engine.delete([("s2", 4)])
        engine.commit()
        engine = self.reopen(engine, tmp_path)
        try:
            assert engine.get("s1") == (make_doc("s1", tags=["kept"]), 2)
            assert engine.get_version("s2") == (4, True)
            assert ids(engine.search(Term("tags", "kept"))) == ["s1"]
            assert engine.upsert([(make_doc("s1"), 2)]).ignored == 1
        finally:
            engine.close()

    def test_documents_round_trip(self, engine):
        for doc in CORPUS:
            engine.upsert([(copy.deepcopy(doc), doc["version"])])
        engine.commit()
        for doc in CORPUS:
            assert engine.get(doc["id"]) == (doc, doc["version"])


class TombstonesTest(BaseTestEngine):
    """Deletes leave final tombstones, invisible to every read."""

    def test_delete_leaves_tombstone(self, engine):
        engine.upsert([(make_doc("s1", tags=["t"]), 2), (make_doc("s2", tags=["t"]), 2)])
        engine.commit()
        result = engine.delete([("s1", 3)])
        assert (result.applied, result.ignored) == (1, 0)
        engine.commit()
        assert engine.get("s1") is None
        assert engine.get_version("s1") == (3, True)
        for node in (
            MatchAll(),
            Term("tags", "t"),
            Ids(("s1", "s2")),
            Exists("id"),
            Prefix("id", "s"),
        ):
            assert ids(engine.search(node)) == ["s2"]
            assert engine.count(node) == 1
        assert engine.search(Term("id", "s1")).total == 0
        assert engine.aggregate(MatchAll(), {"t": TermsAgg("tags")}) == {"t": [("t", 1)]}

    def test_upsert_after_delete_ignored_whatever_the_version(self, engine):
        engine.upsert([(make_doc("s1"), 1)])
        engine.delete([("s1", 2)])
        engine.commit()
        for version in (1, 2, 3, 1000):
            result = engine.upsert([(make_doc("s1"), version)])
            assert (result.applied, result.ignored) == (0, 1)
        engine.commit()
        assert engine.get("s1") is None
        assert engine.get_version("s1") == (2, True)
        assert engine.count(MatchAll()) == 0

    def test_delete_unknown_id_creates_tombstone(self, engine):
        result = engine.delete([("never-seen", 5)])
        assert result.applied == 1
        engine.commit()
        assert engine.get_version("never-seen") == (5, True)
        assert engine.upsert([(make_doc("never-seen"), 9)]).ignored == 1
        engine.commit()
        assert engine.get("never-seen") is None
        assert engine.count(MatchAll()) == 0

    def test_delete_with_lower_version_still_deletes(self, engine):
        engine.upsert([(make_doc("s1"), 10)])
        engine.commit()
        assert engine.delete([("s1", 3)]).applied == 1
        engine.commit()
        assert engine.get("s1") is None
        assert engine.get_version("s1") == (10, True)

    def test_delete_twice(self, engine):
        engine.delete([("s1", 4)])
        engine.commit()
        result = engine.delete([("s1", 4)])
        assert (result.applied, result.ignored) == (0, 1)
        engine.delete([("s1", 6)])
        engine.commit()
        assert engine.get_version("s1") == (6, True)
        engine.delete([("s1", 5)])
        engine.commit()
        assert engine.get_version("s1") == (6, True)

    def test_delete_before_commit_of_upsert(self, engine):
        engine.upsert([(make_doc("s1"), 1)])
        engine.delete([("s1", 1)])
        engine.upsert([(make_doc("s1"), 2)])
        engine.commit()
        assert engine.get("s1") is None
        assert engine.get_version("s1") == (1, True)
        assert engine.count(MatchAll()) == 0

    def test_tombstones_invisible_to_the_corpus(self, corpus):
        assert corpus.get("gone-stack") is None
        assert corpus.get_version("gone-stack") == (7, True)
        assert corpus.count(MatchAll()) == len(CORPUS)
        assert corpus.search(MatchAll(), limit=100).total == len(CORPUS)
        assert corpus.search(Ids(("gone-stack",))).total == 0
        assert corpus.count(Bool(must_not=(Term("status", "CREATE_COMPLETE"),))) == len(
            corpus_ids(Bool(must_not=(Term("status", "CREATE_COMPLETE"),)))
        )
        agg = corpus.aggregate(MatchAll(), {"p": TermsAgg("project_id")})
        assert sum(n for _, n in agg["p"]) == len(CORPUS)


class RebuildTest(BaseTestEngine):
    """``rebuild`` replaces the whole index."""

    def test_rebuild_replaces_the_index(self, engine):
        engine.upsert([(make_doc("old-1", tags=["old"]), 1), (make_doc("old-2"), 1)])
        engine.delete([("old-gone", 3)])
        engine.commit()
        items = [(make_doc("new-1", tags=["new"]), "new-1", 4), (None, "new-gone", 6)]
        items += [(make_doc(f"new-{i}"), f"new-{i}", 1) for i in range(2, 12)]
        assert engine.rebuild(iter(items)) == len(items)
        assert engine.count(MatchAll()) == 11
        assert engine.count(Term("tags", "old")) == 0
        assert ids(engine.search(Term("tags", "new"))) == ["new-1"]
        assert engine.get("old-1") is None and engine.get_version("old-1") is None
        assert engine.get_version("old-gone") is None
        assert engine.get("new-1") == (make_doc("new-1", tags=["new"]), 4)
        assert engine.get_version("new-gone") == (6, True)
        # writes after a rebuild see its versions and tombstones
        assert engine.upsert([(make_doc("new-gone"), 99)]).ignored == 1
        assert engine.upsert([(make_doc("new-1"), 4)]).ignored == 1
        assert engine.upsert([(make_doc("new-1", tags=["newer"]), 5)]).applied == 1
        engine.commit()
        assert ids(engine.search(Term("tags", "newer"))) == ["new-1"]

    def test_rebuild_then_reopen(self, tmp_path):
        engine = self.make_engine(tmp_path)
        engine.upsert([(make_doc("before"), 1)])
        engine.commit()
        engine.rebuild([(make_doc("after"), "after", 2), (None, "dead", 3)])
        engine = self.reopen(engine, tmp_path)
        try:
            assert ids(engine.search(MatchAll())) == ["after"]
            assert engine.get_version("dead") == (3, True)
            assert engine.get_version("before") is None
        finally:
            engine.close()

    def test_rebuild_empty(self, engine):
        engine.upsert([(make_doc("s1"), 1)])
        engine.commit()
        assert engine.rebuild([]) == 0
        assert engine.count(MatchAll()) == 0
        assert engine.health()["documents"] == 0


class CheckpointTest(BaseTestEngine):
    """The store sequence an index reflects, committed with its writes."""

    def test_checkpoint_commits_with_the_writes(self, tmp_path):
        engine = self.make_engine(tmp_path)
        assert engine.checkpoint() == 0
        engine.upsert([(make_doc("s1"), 1)])
        engine.commit(checkpoint=5)
        assert engine.checkpoint() == 5
        engine.upsert([(make_doc("s2"), 1)])
        engine.commit()  # no checkpoint given: the last one stays
        assert engine.checkpoint() == 5
        engine.commit(checkpoint=7)
        # the checkpoint is invisible to everything else
        assert engine.count(MatchAll()) == 2
        assert ids(engine.search(MatchAll())) == ["s1", "s2"]
        assert engine.health()["documents"] == 2
        engine = self.reopen(engine, tmp_path)
        try:
            assert engine.checkpoint() == 7
            engine.rebuild([(make_doc("s3"), "s3", 1)], checkpoint=11)
            assert engine.checkpoint() == 11
            assert ids(engine.search(MatchAll())) == ["s3"]
            engine.rebuild([])
            assert engine.checkpoint() == 0
        finally:
            engine.close()


class HealthTest(BaseTestEngine):
    """``health`` counts live documents only."""

    def test_health(self, engine):
        health = engine.health()
        assert health["ok"] is True and health["engine"] == engine.name
        assert health["documents"] == 0
        engine.upsert([(make_doc("s1"), 1), (make_doc("s2"), 1)])
        engine.delete([("s2", 2)])
        engine.commit()
        health = engine.health()
        assert (health["ok"], health["documents"]) == (True, 1)
