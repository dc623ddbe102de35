"""Concurrent writers on one record keep every guarantee, enforced by the database (conditional
writes, unique keys, the sequence taken last), not by a lock in one process: each writer here
has its own ``Store`` (its own engine and connections), as a process on another host would.
Run on SQLite and on MariaDB (record_backends.py)."""

from __future__ import annotations

import random
import threading
import time

import pytest

from heatseeker import links
from heatseeker.config import new_conf
from heatseeker.record import Change, RecordUnavailable, Store

IDS = [f"s{i}" for i in range(8)]


def doc(sid: str, writer: int) -> dict:
    return {"id": sid, "name": sid, "project_id": "p", "status": "CREATE_COMPLETE", "writer": writer}


def _jitter(changes):
    """``prepare``: a pause inside the transaction, so that writers overlap (with
    ``exclusive=False``: the conditional writes alone order them)."""
    time.sleep(random.random() * 0.005)
    return changes


def _pause():
    """A test hook that stops a writer inside its transaction: (the hook, set once it is
    stopped, set to let it go on)."""
    holding, release = threading.Event(), threading.Event()

    def hold():
        holding.set()
        assert release.wait(30)

    return hold, holding, release


def _run(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
        assert not t.is_alive()


class ConcurrencyContract:
    WRITERS = 4

    def test_the_greatest_version_wins(self, url):
        Store(url).close()
        versions = random.sample(range(1, 10**9), self.WRITERS * 40 * 3)
        results: list[tuple[Change, bool]] = []
        errors: list[BaseException] = []

        def writer(w: int) -> None:
            st = Store(url)
            mine = versions[w::self.WRITERS]
            try:
                for i in range(0, len(mine), 3):
                    batch = [Change(random.choice(IDS), v, doc("", w)) for v in mine[i:i + 3]]
                    batch = [Change(ch.id, ch.version, doc(ch.id, w)) for ch in batch]
                    results.extend(zip(batch, st.apply(batch, _jitter, exclusive=False), strict=True))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                st.close()

        _run([threading.Thread(target=writer, args=(w,)) for w in range(self.WRITERS)])
        assert not errors, errors
        st = Store(url)
        for sid in IDS:
            tried = [(ch.version, ch.doc["writer"]) for ch, _ in results if ch.id == sid]
            if not tried:
                continue
            best = max(tried)
            rec = st.get(sid)
            assert (rec.version, rec.doc["writer"], rec.doc["version"]) == (best[0], best[1], best[0])
            # the change that carried the greatest version was applied, and said so
            assert [ok for ch, ok in results if ch.id == sid and ch.version == best[0]] == [True]

    def test_tombstones_stay_final(self, url):
        Store(url).close()
        done_at: dict[str, float] = {}  # when each id's tombstone had committed
        late: list[tuple[str, int, bool]] = []  # upserts begun after the tombstone committed
        errors: list[BaseException] = []
        lock = threading.Lock()

        def writer(w: int) -> None:
            st = Store(url)
            try:
                for i in range(60):
                    sid = IDS[(i + w) % len(IDS)]
                    if i % 10 == w and sid not in done_at:  # some tombstones, in the middle
                        assert st.apply([Change(sid, random.randrange(1, 10**6))], _jitter, exclusive=False)
                        with lock:
                            done_at.setdefault(sid, time.monotonic())
                        continue
                    started = time.monotonic()
                    ok = st.apply([Change(sid, random.randrange(1, 10**9), doc(sid, w))], _jitter,
                                  exclusive=False)[0]
                    with lock:
                        if sid in done_at and done_at[sid] < started:
                            late.append((sid, w, ok))
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                st.close()

        _run([threading.Thread(target=writer, args=(w,)) for w in range(self.WRITERS)])
        assert not errors, errors
        assert done_at and late  # the test did race upserts against committed tombstones
        assert not [x for x in late if x[2]], "an upsert brought a deleted stack back"
        st = Store(url)
        for sid in done_at:
            rec = st.get(sid)
            assert rec.deleted and rec.doc is None

    def test_no_change_is_lost_between_the_record_and_a_projector(self, url):
        """A projector reading "after my checkpoint" while writers commit in any order sees, in
        the end, exactly the record: no change committed late with a smaller number is skipped."""
        Store(url).close()
        stop = threading.Event()
        index: dict[str, tuple[int, bool]] = {}
        checkpoint = [0]
        errors: list[BaseException] = []

        def project(st: Store) -> int:
            n = 0
            while True:
                recs = st.changes_since(checkpoint[0], 7)
                if not recs:
                    return n
                for r in recs:
                    assert r.seq > checkpoint[0]
                    index[r.id] = (r.version, r.deleted)
                checkpoint[0] = recs[-1].seq
                n += len(recs)

        def projector() -> None:
            st = Store(url)
            try:
                while not stop.is_set():
                    project(st)
                    time.sleep(0.001)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                st.close()

        def writer(w: int) -> None:
            st = Store(url)
            # a pause between taking the numbers and committing: where a late commit would hide
            st._after_sequence = lambda: time.sleep(random.random() * 0.003)
            try:
                for i in range(50):
                    # new stacks mostly (a missed change would not be repaired by a later one of
                    # the same stack), and now and then a tombstone or a shared stack's update
                    batch = [Change(f"w{w}-{i}-{k}", 1, doc(f"w{w}-{i}-{k}", w)) for k in range(2)]
                    if i and random.random() < 0.2:
                        batch.append(Change(f"w{w}-{i - 1}-0", 2))
                    shared = random.choice(IDS)
                    batch.append(Change(shared, random.randrange(1, 10**9), doc(shared, w)))
                    st.apply(batch, _jitter, exclusive=False)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                st.close()

        p = threading.Thread(target=projector)
        p.start()
        _run([threading.Thread(target=writer, args=(w,)) for w in range(self.WRITERS)])
        stop.set()
        p.join(60)
        assert not errors, errors
        st = Store(url)
        project(st)  # what is left after the writers stopped
        truth = {r.id: (r.version, r.deleted) for r in st.iter_all()}
        assert index == truth
        assert checkpoint[0] == st.max_seq()
        seqs = [r.seq for r in st.iter_all()]
        assert len(seqs) == len(set(seqs))

    def test_a_writer_cannot_commit_a_smaller_number_after_a_greater_one(self, url):
        """A takes its number and waits before committing; B, writing another stack, cannot
        commit meanwhile (it waits for the sequence), so B's number is greater and a reader
        never sees B without A."""
        first, second, reader = Store(url), Store(url), Store(url)
        hold, holding, release = _pause()
        first._after_sequence = hold
        done: dict[str, list[bool]] = {}
        a = threading.Thread(target=lambda: done.setdefault("a", first.apply([Change("a", 1, doc("a", 1))])))
        b = threading.Thread(target=lambda: done.setdefault("b", second.apply([Change("b", 1, doc("b", 2))])))
        a.start()
        assert holding.wait(30)
        b.start()
        time.sleep(0.5)
        assert "b" not in done and b.is_alive()  # B waits for A's commit
        assert reader.changes_since(0) == []  # neither is visible
        release.set()
        a.join(30)
        b.join(30)
        assert done == {"a": [True], "b": [True]}
        assert [(r.id, r.seq) for r in reader.changes_since(0)] == [("a", 1), ("b", 2)]
        for st in (first, second, reader):
            st.close()


    def test_a_creator_and_its_child_written_at_once_are_linked(self, url):
        """Two hosts: A writes a creator (an OS::Heat::Stack resource whose stack is ``kid``)
        and pauses after resolving links, before its commit; meanwhile B writes ``kid``. B's
        links must see A's creator: B waits for A (``exclusive``, the default with a prepare),
        then finds it. (Without it, each read the record without the other, uncommitted, and
        ``kid`` stayed a root: this test failed on MariaDB.)"""
        creator = {"id": "mid", "name": "mid", "project_id": "p", "status": "CREATE_COMPLETE",
                   "parent_id": None, "root_id": "mid", "ancestors": [], "path": ["mid"],
                   "depth": 0, "resources": [{"name": "app", "type": "OS::Heat::Stack",
                                              "physical_resource_id": "kid"}]}
        kid = {"id": "kid", "name": "mid-app-bbbbbbbbbbbb", "project_id": "p",
               "status": "CREATE_COMPLETE", "parent_id": None, "root_id": "kid", "ancestors": [],
               "path": ["mid-app-bbbbbbbbbbbb"], "depth": 0, "resources": []}
        first, second = Store(url), Store(url)
        hold, holding, release = _pause()
        first._after_prepare = hold
        done: dict[str, list[bool]] = {}
        a = threading.Thread(target=lambda: done.setdefault(
            "a", first.apply([Change("mid", 1, creator)], lambda ch: links.resolve(first, ch))))
        b = threading.Thread(target=lambda: done.setdefault(
            "b", second.apply([Change("kid", 1, kid)], lambda ch: links.resolve(second, ch))))
        a.start()
        assert holding.wait(30)
        b.start()
        time.sleep(0.5)
        release.set()
        a.join(30)
        b.join(30)
        assert done == {"a": [True], "b": [True]}
        got = second.get("kid").doc
        assert (got["created_by"], got["parent_id"], got["link"]) == ("mid", "mid", "OS::Heat::Stack")
        assert got["root_id"] == "mid" and got["ancestors"] == ["mid"]
        for st in (first, second):
            st.close()


class TestSQLite(ConcurrencyContract):
    @pytest.fixture
    def url(self, tmp_path):
        return str(tmp_path / "state.sqlite")


class TestMariaDB(ConcurrencyContract):
    @pytest.fixture
    def url(self, mariadb_record):
        return mariadb_record

    @staticmethod
    def _conf(**database):
        conf = new_conf()
        conf([], default_config_files=[])
        for k, v in database.items():
            conf.set_override(k, v, group="database")
        return conf

    def test_a_host_gone_silent_inside_its_transaction_does_not_stop_the_others(self, url):
        """A host dies or is cut off in the middle of a transaction: no FIN reaches the server,
        its session stays, and so do its row locks (the sequence row: every writer needs it).
        The server ends such a session after ``idle_write_transaction_timeout``, and the others
        write again; the silent host's transaction is rolled back whole. (Without the timeout,
        the second writer waits ``lock_wait_timeout`` and gives up: this test fails.)"""
        silent = Store(url, conf=self._conf(idle_write_transaction_timeout=1))
        other = Store(url, conf=self._conf(lock_wait_timeout=8))
        hold, holding, release = _pause()
        silent._after_sequence = hold  # holds the sequence row's lock, says nothing
        outcome: dict[str, object] = {}

        def first() -> None:
            try:
                outcome["silent"] = silent.apply([Change("a", 1, doc("a", 1))])
            except BaseException as exc:  # noqa: BLE001 - reported below
                outcome["silent"] = exc

        t = threading.Thread(target=first)
        t.start()
        assert holding.wait(30)
        try:
            assert other.apply([Change("b", 1, doc("b", 2))]) == [True]
        finally:
            release.set()
            t.join(30)
        assert isinstance(outcome["silent"], RecordUnavailable), outcome  # its session was ended
        assert other.get("a") is None and other.get("b").version == 1
        assert [r.id for r in other.changes_since(0)] == ["b"]
        assert silent.apply([Change("a", 1, doc("a", 1))]) == [True]  # its next batch goes through
        for st in (silent, other):
            st.close()

    def test_a_lock_held_too_long_is_an_unavailable_record_at_once_not_a_retry(self, url):
        """A write that waits ``lock_wait_timeout`` for another transaction (MySQL's 1205, which
        oslo.db reports as a deadlock) is not retried ten times: the record is unavailable (the
        listener requeues with backoff and obeys a stop), with a message that says why."""
        holder = Store(url, conf=self._conf(idle_write_transaction_timeout=0))
        waiter = Store(url, conf=self._conf(lock_wait_timeout=1))
        hold, holding, release = _pause()
        holder._after_sequence = hold
        t = threading.Thread(target=lambda: holder.apply([Change("a", 1, doc("a", 1))]))
        t.start()
        assert holding.wait(30)
        attempts = []
        real = waiter._x

        def counted(conn, name, *a, **kw):
            if name == "take_numbers":
                attempts.append(name)
            return real(conn, name, *a, **kw)

        waiter._x = counted  # type: ignore[method-assign]
        try:
            with pytest.raises(RecordUnavailable, match="lock_wait_timeout"):
                waiter.apply([Change("b", 1, doc("b", 2))])
        finally:
            release.set()
            t.join(30)
        assert len(attempts) == 1
        assert waiter.apply([Change("b", 1, doc("b", 2))]) == [True]  # the lock gone: it writes
        for st in (holder, waiter):
            st.close()
