"""The record's contract (heatseeker/record): version rules, tombstones, sequence, history,
meta, dead letters, UI sessions, multi-process safety. Every test of ``StoreContract`` runs on
SQLite (always) and on MariaDB (a real server, when one answers: record_backends.py)."""

import dataclasses
import multiprocessing

import pytest

from heatseeker.record import Change, HistoryPolicy, Noted, Store


def doc(sid, **kw):
    return {"id": sid, "name": kw.pop("name", sid), "project_id": "p1", "status": "CREATE_COMPLETE", **kw}


def _writer(url, prefix, n):
    st = Store(url)
    for i in range(n):
        assert st.apply([Change(f"{prefix}{i}", i + 1, doc(f"{prefix}{i}"))]) == [True]


class StoreContract:
    """What every backend of the record keeps true. A subclass gives ``url``."""

    @pytest.fixture
    def store(self, url):
        st = Store(url)
        yield st
        st.close()

    def test_newer_version_wins_older_ignored(self, store):
        assert store.apply([Change("a", 10, doc("a", status="CREATE_IN_PROGRESS"))]) == [True]
        assert store.apply([Change("a", 20, doc("a"))]) == [True]
        assert store.apply([Change("a", 15, doc("a", status="STALE"))]) == [False]
        assert store.apply([Change("a", 20, doc("a", status="SAME"))]) == [False]
        rec = store.get("a")
        assert rec.version == 20 and rec.doc["status"] == "CREATE_COMPLETE" and rec.doc["version"] == 20

    def test_tombstone_is_final(self, store):
        store.apply([Change("a", 10, doc("a"))])
        assert store.apply([Change("a", 5)]) == [True]  # a delete wins even when "older"
        rec = store.get("a")
        assert rec.deleted and rec.doc is None and rec.version == 10  # keeps the greater version
        assert rec.name == "a" and rec.project_id == "p1"  # the tombstone keeps who it was
        assert store.apply([Change("a", 10**18, doc("a"))]) == [False]
        assert store.apply([Change("a", 11)]) == [False]  # already a tombstone
        assert store.get("a").deleted and store.get("a").version == 10

    def test_tombstone_for_unknown_id(self, store):
        assert store.apply([Change("ghost", 7)]) == [True]
        assert store.get("ghost").deleted
        assert store.apply([Change("ghost", 8, doc("ghost"))]) == [False]

    def test_a_batch_is_applied_in_order(self, store):
        assert store.apply([Change("a", 1, doc("a")), Change("a", 3, doc("a", status="X")),
                            Change("a", 2, doc("a", status="OLD")), Change("a", 4),
                            Change("a", 5, doc("a"))]) == [True, True, False, True, False]
        rec = store.get("a")
        assert rec.deleted and rec.version == 4

    def test_versions_are_microseconds(self, store):
        v = 1_796_299_116_584_891  # beyond 32 bits
        store.apply([Change("a", v, doc("a"))])
        assert store.get("a").version == v and store.apply([Change("a", v + 1, doc("a"))]) == [True]

    def test_sequence_orders_changes(self, store):
        store.apply([Change("a", 1, doc("a")), Change("b", 1, doc("b"))])
        store.apply([Change("a", 2, doc("a")), Change("c", 1)])
        seqs = [(r.id, r.seq) for r in store.changes_since(0)]
        assert seqs == [("b", 2), ("a", 3), ("c", 4)]
        assert [r.id for r in store.changes_since(3)] == ["c"]
        assert store.max_seq() == 4
        assert [r.id for r in store.iter_all(batch=1)] == ["b", "a", "c"]
        assert store.apply([Change("a", 1, doc("a"))]) == [False]  # nothing applied: no number
        store.apply([Change("d", 1, doc("d"))])
        assert store.get("d").seq == 5

    def test_the_sequence_goes_on_after_a_reopen(self, store, url):
        store.apply([Change("a", 1, doc("a")), Change("b", 1, doc("b"))])
        again = Store(url)
        again.apply([Change("c", 1, doc("c"))])
        assert again.get("c").seq == 3 and again.max_seq() == 3

    def test_counts_meta_dead_letters(self, store):
        store.apply([Change("a", 1, doc("a")), Change("b", 1, doc("b", project_id="p2")), Change("c", 1)])
        store.set_meta(last_event={"x": 1})
        store.set_meta(last_event={"x": 2}, other=[1, "é"])
        store.dead_letter("m1", "broken", {"payload": None})
        store.dead_letter("m2", "worse", {"payload": "x" * 200_000})
        c = store.counts()
        assert (c["stacks"], c["tombstones"], c["projects"], c["dead_letters"]) == (2, 1, 2, 2)
        assert c["sequence"] == 3
        assert store.get_meta("last_event") == {"x": 2} and store.get_meta("other") == [1, "é"]
        assert store.get_meta("nope", 5) == 5
        letters = store.dead_letters()
        assert [d["message_id"] for d in letters] == ["m2", "m1"]
        assert len(letters[0]["body"]) == 100_000

    def test_secret_key_is_made_once(self, store, url):
        key = store.secret_key()
        assert len(key) == 32 and Store(url).secret_key() == key

    def test_live_summaries(self, store):
        store.apply([Change("a", 1, doc("a", tags=["x"], updated_at="2026-01-01T00:00:00Z",
                                        parent_id=None, status_reason="ré")),
                     Change("b", 1)])
        s = store.live_summaries()
        assert s == {"a": {"version": 1, "status": "CREATE_COMPLETE", "status_reason": "ré",
                           "updated_at": "2026-01-01T00:00:00Z", "name": "a", "tags": ["x"],
                           "parent_id": None}}

    def test_names_and_ids_compare_exactly(self, store):
        store.apply([Change("a", 1, doc("a", name="Web")), Change("A", 1, doc("A", name="web"))])
        assert {r.id for r in store.live_named(["web"])} == {"A"}
        assert store.get("a").name == "Web" and store.get("A").name == "web"
        assert set(store.get_many(["a", "A", "nope"])) == {"a", "A"}

    def test_many_ids_and_big_documents(self, store):
        big = {"x" * 10: "é" * 400_000}  # templates can be large
        store.apply([Change(f"s{i}", 1, doc(f"s{i}", **(big if i == 0 else {}))) for i in range(1200)])
        assert len(store.get_many(f"s{i}" for i in range(1300))) == 1200
        assert store.get("s0").doc["x" * 10] == "é" * 400_000
        assert store.tombstoned(["s1", "s2"]) == set()

    def test_taint_is_kept_unless_given(self, store):
        store.apply([Change("a", 1, doc("a"), taint={"unknown": 2})])
        store.apply([Change("a", 2, doc("a"))])
        assert store.get("a").taint == {"unknown": 2}
        assert store.secret_unknowns() == {"stacks": 1, "places": 2}
        store.apply([Change("a", 3, doc("a"), taint={})])
        assert store.get("a").taint == {} and store.secret_unknowns() == {"stacks": 0, "places": 0}

    def test_history_revisions_and_retention(self, url):
        st = Store(url, HistoryPolicy(max_revisions=2, max_age_days=0))
        for v in range(1, 5):
            st.apply([Change("a", v, doc("a", template={"v": v}))], )
        assert [r.rev for r in st.revisions("a")] == [3, 4]
        assert st.revision("a").doc["template"] == {"v": 4}
        assert st.revision("a", 3).doc["template"] == {"v": 3} and st.revision("a", 1) is None
        pairs = list(st.revisions_between(None, None, frozenset({"p1"})))
        assert [(r.rev, p.rev if p else None) for r, p in pairs] == [(3, None), (4, 3)]
        assert list(st.revisions_between(None, None, frozenset())) == []
        size = st.history_size()
        assert size["revisions"] == 2 and size["body_bytes"] > 0
        loose = Store(url, HistoryPolicy(max_revisions=0, max_age_days=0))
        for v in range(5, 9):
            loose.apply([Change("a", v, doc("a", template={"v": v}))])
        assert Store(url, HistoryPolicy(max_revisions=3, max_age_days=0)).prune_revisions() == 3
        assert [r.rev for r in st.revisions("a")] == [6, 7, 8]

    def test_a_provisional_revision_is_amended(self, store):
        store.apply([Change("a", 1, doc("a", status="CREATE_IN_PROGRESS", action="CREATE", template={"v": 1}))])
        store.apply([Change("a", 2, doc("a", status="CREATE_COMPLETE", action="CREATE", template={"v": 2}),
                            user_name="alice")])
        revs = store.revisions("a")
        assert [(r.rev, r.status, r.user_name) for r in revs] == [(1, "CREATE_COMPLETE", "alice")]

    def test_what_notifications_said_is_kept_once_with_what_a_read_observed(self, store):
        """``noted`` rows (history's gaps): one per stack, time, action and phase; the
        observation is the applied change's digest; a redelivered batch's read fills an
        observation the first delivery could not make, and never replaces one."""
        end = Noted("a", 5, "UPDATE", "end", "UPDATE_COMPLETE", "req-1")
        store.apply([], noted=[end])  # the first delivery: its read failed
        assert store.noted("a") == [end]
        store.apply([Change("a", 6, doc("a", template={"v": 1}))],
                    noted=[dataclasses.replace(end, observed_us=6)])  # the redelivery read it
        (kept,) = store.noted("a")
        assert kept.observed_us == 6 and kept.observed_digest
        store.apply([Change("a", 7, doc("a", template={"v": 2}))],
                    noted=[dataclasses.replace(end, observed_us=7)])  # a replay: no change
        assert store.noted("a") == [kept]
        # a read whose change lost (an older version) observed nothing
        lost = Noted("a", 8, "CHECK", "end", "CHECK_COMPLETE", observed_us=3)
        assert store.apply([Change("a", 3, doc("a"))], noted=[lost]) == [False]
        assert store.noted("a")[-1] == dataclasses.replace(lost, observed_us=None)

    def test_retention_keeps_what_came_before_revision_one(self, url):
        """``prune_revisions`` drops what notifications said before a stack's oldest kept
        revision only once older revisions were dropped: before revision 1 it marks a state
        never observed (a create read after the next action began)."""
        st = Store(url, HistoryPolicy(max_revisions=2, max_age_days=0))
        try:
            early = Noted("r1", 5, "CREATE", "end", "CREATE_COMPLETE")
            st.apply([Change("r1", 9, doc("r1", template={"v": 1}))], noted=[early])
            assert st.prune_revisions() == 0 and st.noted("r1") == [early]
            for v in (2, 3):
                st.apply([Change("r1", 9 + v, doc("r1", template={"v": v}))])
            assert st.prune_revisions() == 0  # apply's retention dropped revision 1 already
            assert [r.rev for r in st.revisions("r1")] == [2, 3] and st.noted("r1") == []
        finally:
            st.close()

    def test_the_newest_event_of_each_stack_is_known_with_or_without_history(self, url):
        """``newest_events`` and ``versions`` (the indexer weighs a batch's reads with them);
        with history off what notifications said is kept an hour, then dropped by the next
        batch about the same stack."""
        from heatseeker.record.store import NOTED_WITHOUT_HISTORY_US as HOUR

        for policy in (HistoryPolicy(), HistoryPolicy(enabled=False)):
            st = Store(url, policy)
            try:
                sid = f"n-{policy.enabled}"
                assert st.newest_events([sid]) == {} and st.versions([sid]) == {}
                st.apply([Change(sid, 9, doc(sid))], noted=[
                    Noted(sid, 5, "UPDATE", "start", "UPDATE_IN_PROGRESS"),
                    Noted(sid, 7, "UPDATE", "end", "UPDATE_COMPLETE")])
                assert st.newest_events([sid, "nope"]) == {sid: 7}
                assert st.versions([sid, "nope"]) == {sid: 9}
                st.apply([], noted=[Noted(sid, 6 + HOUR, "CHECK", "end", "CHECK_COMPLETE")])
                assert st.newest_events([sid]) == {sid: 6 + HOUR}
                kept = [n.at_us for n in st.noted(sid)]
                assert kept == ([5, 7, 6 + HOUR] if policy.enabled else [7, 6 + HOUR])
            finally:
                st.close()

    def test_a_stack_id_is_one_regions(self, store):
        """A write from another region never replaces a stack (a document, or a tombstone whose
        change names its region); the same region writes as before; a change that names no
        region, and a row from before regions, match any region."""
        assert store.apply([Change("s", 1, doc("s", region="RegionOne"))]) == [True]
        assert store.apply([Change("s", 2, doc("s", region="RegionTwo", status="X"))]) == [False]
        assert store.apply([Change("s", 3, region="RegionTwo")]) == [False]  # its tombstone
        rec = store.get("s")
        assert not rec.deleted and rec.doc["region"] == "RegionOne" and rec.version == 1
        assert store.apply([Change("s", 4, doc("s", region="RegionOne", status="Y"))]) == [True]
        assert store.apply([Change("s", 5, region="RegionOne")]) == [True]
        assert store.get("s").deleted
        assert store.apply([Change("t", 1, doc("t"))]) == [True]  # no region: before regions
        assert store.apply([Change("t", 2, doc("t", region="RegionTwo"))]) == [True]
        assert store.apply([Change("t", 3, doc("t", region="RegionOne"))]) == [False]

    def test_label_region_labels_the_stacks_from_before_regions(self, store):
        """``label_region`` (``db upgrade``, the first writer): every row without a region,
        documents included, gets the installation's region and a new sequence number (the
        projection takes it); labelled rows are left alone; a second run labels nothing."""
        store.apply([Change("a", 1, doc("a")), Change("b", 1, doc("b", region="RegionTwo")),
                     Change("c", 1, doc("c"))])
        store.apply([Change("c", 2)])  # a tombstone
        before = store.max_seq()
        assert store.regions() == {"": 1, "RegionTwo": 1}  # live stacks (`heatseeker status`)
        assert store.label_region("RegionOne", batch=1) == 1
        assert store.regions() == {"RegionOne": 1, "RegionTwo": 1}
        a = store.get("a")
        assert a.doc["region"] == "RegionOne" and a.version == 1 and a.seq > before
        assert store.get("b").doc["region"] == "RegionTwo"
        assert [r.id for r in store.changes_since(before)] == ["a"]
        assert store.label_region("RegionOne") == 0
        # the labelled stack is RegionOne's from now on
        assert store.apply([Change("a", 2, doc("a", region="RegionTwo"))]) == [False]
        assert store.apply([Change("a", 3, region="RegionTwo")]) == [False]  # its tombstone too
        assert store.get("c").deleted and store.get("a").doc["region"] == "RegionOne"

    # -- content-addressed parts (record/contents.py) --------------------------------------------

    def test_shared_parts_are_stored_once_and_read_whole(self, store):
        """A tree's stacks share their registry, a group's members their template: each is one
        content; every way of reading gives the documents back as they were written."""
        registry = {f"OS::TripleO::Services::S{i}": f"deployment/s{i}.yaml" for i in range(100)}
        template = {"heat_template_version": "wallaby", "description": "m" * 600}
        docs = [doc(f"s{i:02}", template=template, parameters={"index": i},
                    environment={"parameters": {"index": i}, "resource_registry": registry,
                                 "event_sinks": []})
                for i in range(40)]
        store.apply([Change(d["id"], 1, d) for d in docs])
        want = {d["id"]: dict(d, version=1) for d in docs}
        assert store.contents_size()["contents"] == 2  # the template and the registry
        assert {i: store.get(i).doc for i in want} == want
        assert {i: r.doc for i, r in store.get_many(want).items()} == want
        assert {r.id: r.doc for r in store.iter_all(batch=7)} == want
        assert [r.doc for r in store.live_named(["s03"])] == [want["s03"]]
        assert store.revision("s05").doc == want["s05"]
        assert store.revisions("s05", with_docs=True)[0].doc == want["s05"]
        assert store.live_summaries()["s07"]["status"] == "CREATE_COMPLETE"
        # a change of a small field keeps the parts it shares
        store.apply([Change("s00", 2, dict(docs[0], status="UPDATE_COMPLETE"))])
        assert store.get("s00").doc == dict(docs[0], status="UPDATE_COMPLETE", version=2)
        assert store.contents_size()["contents"] == 2

    def test_the_file_digests_a_tree_shares_are_stored_once(self, url):
        """A revision's file name → digest map (history's file changes) is a content: the
        stacks of a tree, which share their files, share it; a state-only change keeps it."""
        st = Store(url, HistoryPolicy(max_age_days=0))  # versions of 1970 here
        names = [f"file:///tht/deployment/s{i:03}.yaml" for i in range(60)]
        digests = {n: f"{i:064x}" for i, n in enumerate(names)}
        st.apply([Change(f"s{i}", 1, doc(f"s{i}", files=names), file_digests=digests)
                  for i in range(10)])
        assert st.contents_size()["contents"] == 2  # the file names (a part) and their digests
        assert all(st.revision(f"s{i}").file_digests == digests for i in range(10))
        assert st.revisions("s3")[0].file_digests == digests
        st.apply([Change("s3", 2, doc("s3", files=names, parameters={"x": "2"}))])  # digests: as before
        assert [r.file_digests for r in st.revisions("s3")] == [digests, digests]
        assert st.sweep_contents() == 0 and st.contents_size()["contents"] == 2

    @pytest.mark.parametrize("shard", [None, 0], ids=["whole", "by-prefix"])
    def test_contents_no_row_names_are_swept(self, url, shard, monkeypatch):
        if shard is not None:  # a record too big to sweep at once: 16 shards by digest prefix
            from heatseeker.record import store as store_module

            monkeypatch.setattr(store_module, "SWEEP_SHARD", shard)

        def tpl(v):
            return {"v": v, "pad": "x" * 600}

        st = Store(url, HistoryPolicy(enabled=False))
        st.apply([Change("a", 1, doc("a", template=tpl(1))), Change("b", 1, doc("b", template=tpl(1)))])
        st.apply([Change("a", 2, doc("a", template=tpl(2)))])
        assert st.sweep_contents() == 0  # b still names tpl(1)
        st.apply([Change("b", 2)])
        assert st.sweep_contents() == 1 and st.contents_size()["contents"] == 1
        assert st.get("a").doc["template"] == tpl(2) and st.get("b").doc is None
        # a revision names its content until retention drops it
        h = Store(url, HistoryPolicy(max_revisions=1, max_age_days=0))
        h.apply([Change("c", 1, doc("c", template=tpl(3)))])
        h.apply([Change("c", 2, doc("c", template=tpl(4)))])
        assert h.sweep_contents() == 1  # tpl(3): revision 1 was dropped
        assert h.revision("c").doc["template"] == tpl(4)
        assert Store(url).get("c").doc["template"] == tpl(4)

    def test_a_read_made_before_a_sweep_is_made_again(self, url):
        """A row read just before its stack was written again and its old content swept: the
        read is made again; a content lost for good is a clear error, never a partial document."""
        from heatseeker.record.database import RecordError

        st = Store(url, HistoryPolicy(enabled=False))
        st.apply([Change("a", 1, doc("a", template={"v": 1, "pad": "x" * 600}))])
        stale = st._fetch("get", {"id": "a"}, one=True)
        st.apply([Change("a", 2, doc("a", template={"v": 2, "pad": "x" * 600}))])
        assert st.sweep_contents() == 1
        reads = []

        def read():
            reads.append(1)
            return [stale] if len(reads) == 1 else [st._fetch("get", {"id": "a"}, one=True)]

        assert [r.doc["template"]["v"] for r in st._records(read)] == [2] and len(reads) == 2
        fresh = Store(url, HistoryPolicy(enabled=False))  # nothing cached
        with fresh.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM contents")
        with pytest.raises(RecordError, match="incomplete.*lacks content"):
            fresh.get("a")

    def test_a_sweep_waits_for_a_writer_that_reuses_a_content(self, url):
        """A writer names a content nothing else names any more, and has not committed when a
        sweep starts: the sweep's second step waits for it and keeps the content."""
        import threading

        tpl = {"v": 1, "pad": "x" * 600}
        st = Store(url, HistoryPolicy(enabled=False))
        st.apply([Change("a", 1, doc("a", template=tpl))])
        st.apply([Change("a", 2, doc("a", template={"v": 2, "pad": "y" * 600}))])
        writer = Store(url, HistoryPolicy(enabled=False))
        inside, go = threading.Event(), threading.Event()

        def pause():
            inside.set()
            assert go.wait(30)

        writer._after_sequence = pause
        t = threading.Thread(target=writer.apply, args=([Change("b", 1, doc("b", template=tpl))],))
        t.start()
        assert inside.wait(30)
        swept: list[int] = []
        sweeper = threading.Thread(target=lambda: swept.append(st.sweep_contents()))
        sweeper.start()
        sweeper.join(0.5)
        assert sweeper.is_alive()  # waiting for the writer's transaction
        go.set()
        t.join(30)
        sweeper.join(30)
        assert swept == [0]
        assert Store(url).get("b").doc["template"] == tpl

    def test_ui_sessions(self, store):
        store.session_put("k1", b"one", 1.0, None, 2)
        store.session_put("k2", b"two", 2.0, 10.0, 2)
        store.session_put("k3", b"three", 3.0, None, 2)  # k1, the least recently used, goes
        assert store.session_get("k1") is None
        assert store.session_get("k2") == (b"two", 2.0, 10.0)
        store.session_touch("k2", 4.0)
        store.session_put("k3", b"three'", 5.0, None, 2)  # the same key again: replaced
        assert store.session_get("k3") == (b"three'", 5.0, None)
        store.session_put("k4", b"four", 11.0, None, 5)  # k2 has ended (expires 10)
        assert store.session_get("k2") is None
        assert store.session_drop("k3") and not store.session_drop("k3")

    def test_two_processes_write_at_once(self, store, url):
        # separate processes as in real life (listener and sync): spawned, not forked — SQLite must
        # never be used across fork() (a forked child shares the parent's lock bookkeeping)
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=_writer, args=(url, p, 100)) for p in "xy"]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
            assert p.exitcode == 0
        st = Store(url)
        assert st.counts()["stacks"] == 200
        seqs = [r.seq for r in st.iter_all()]
        assert seqs == sorted(seqs) and len(set(seqs)) == 200 and seqs[-1] == 200


class TestSQLite(StoreContract):
    @pytest.fixture
    def url(self, tmp_path):
        return str(tmp_path / "state.sqlite")  # a path is the SQLite record there

    def test_errors_on_the_dbapi_path_read_as_sqlalchemys(self, tmp_path):
        """SQLite's hot statements run on the DBAPI cursor: a file gone from under a new
        connection is still RecordUnavailable, a broken table still SQLAlchemy's error."""
        import sqlite3

        import sqlalchemy as sa

        from heatseeker.record.database import RecordUnavailable

        data = tmp_path / "data"
        data.mkdir()
        st = Store(str(data / "state.sqlite"))
        st.apply([Change("a", 1, doc("a"))])
        assert st.get("a").version == 1 and st.max_seq() == 1
        sqlite3.connect(data / "state.sqlite").execute("ALTER TABLE stacks RENAME TO gone")
        with pytest.raises(sa.exc.OperationalError, match="no such table"):
            st.get("a")
        with pytest.raises(sa.exc.OperationalError, match="no such table"):
            st.apply([Change("b", 1, doc("b"))])
        st.engine.dispose()
        data.rename(tmp_path / "moved")
        with pytest.raises(RecordUnavailable, match="unable to open database file"):
            st.get("a")
        with pytest.raises(RecordUnavailable, match="unable to open database file"):
            st.apply([Change("b", 1, doc("b"))])


class TestMariaDB(StoreContract):
    @pytest.fixture
    def url(self, mariadb_record):
        return mariadb_record
