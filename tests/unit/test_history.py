"""Stack history: revisions in the store, retention, tombstones, the indexer's context, and what a
caller may see of it (history, diff, change search)."""

from __future__ import annotations

import json
import time

import pytest

from heatseeker.heat import events
from heatseeker.history.service import History, RevisionNotFound, parse_when
from heatseeker.indexer import Indexer
from heatseeker.query.visibility import Visibility
from heatseeker.record import Change, HistoryPolicy, Store

from .fakes import FakeHeat, notification, plain_resource

ALL = Visibility.everything()


def doc(sid="a", project="p1", status="CREATE_COMPLETE", **kw):
    action = status.partition("_")[0]
    base = {
        "id": sid, "name": kw.pop("name", f"stack-{sid}"), "project_id": project,
        "status": status, "action": action, "description": "d", "tags": [],
        "parameters": {"image": "cirros", "flavor": "m1.small"},
        "template": {"heat_template_version": "2021-04-16",
                     "resources": {"server": {"type": "OS::Nova::Server",
                                              "properties": {"flavor": "m1.small"}}}},
        "environment": {"parameters": {}, "parameter_defaults": {}, "resource_registry": {}},
        "outputs": [], "resources": [], "files": [],
    }
    base.update(kw)
    return base


@pytest.fixture
def store(tmp_path):
    # versions in these tests are small numbers (long ago): no age limit
    return Store(str(tmp_path / "state.sqlite"), HistoryPolicy(max_age_days=0))


def revs(store, sid="a"):
    return [(r.rev, r.status) for r in store.revisions(sid)]


def test_first_appearance_is_revision_1_and_state_only_changes_are_not_revisions(store):
    store.apply([Change("a", 10, doc(), request_id="req-1", user_id="u1", user_name="alice")])
    store.apply([Change("a", 20, doc(status="CHECK_COMPLETE"))])  # state only
    store.apply([Change("a", 30, doc(status="SUSPEND_COMPLETE"))])
    assert revs(store) == [(1, "CREATE_COMPLETE")]
    first = store.revision("a", 1)
    assert (first.request_id, first.user_id, first.user_name, first.at_us) == ("req-1", "u1", "alice", 10)
    assert first.doc["parameters"]["image"] == "cirros" and first.doc["version"] == 10


def test_each_content_change_is_a_revision(store):
    store.apply([Change("a", 10, doc())])
    store.apply([Change("a", 20, doc(status="UPDATE_COMPLETE",
                                     parameters={"image": "ubuntu", "flavor": "m1.small"}))])
    store.apply([Change("a", 30, doc(status="UPDATE_COMPLETE", outputs=[{"key": "ip", "value": "x"}]))])
    store.apply([Change("a", 40, doc(status="UPDATE_COMPLETE", resources=[
        {"name": "server", "type": "OS::Nova::Server", "physical_resource_id": "p1"}]))])
    store.apply([Change("a", 50, doc(status="UPDATE_COMPLETE", files=["f.yaml"]),
                        file_digests={"f.yaml": "aa"})])
    store.apply([Change("a", 60, doc(status="UPDATE_COMPLETE", files=["f.yaml"]),
                        file_digests={"f.yaml": "bb"})])
    # a state-only change carries no digests: the latest revision's stand (no spurious revision)
    store.apply([Change("a", 70, doc(status="CHECK_COMPLETE", files=["f.yaml"]))])
    assert [r for r, _ in revs(store)] == [1, 2, 3, 4, 5, 6]


def test_in_progress_revision_is_amended_by_the_end_of_its_action(store):
    store.apply([Change("a", 10, doc(status="CREATE_IN_PROGRESS", outputs=[{"key": "o", "value": None}]),
                        request_id="req-c")])
    store.apply([Change("a", 20, doc(outputs=[{"key": "o", "value": "ready"}]))])
    assert revs(store) == [(1, "CREATE_COMPLETE")]
    r1 = store.revision("a", 1)
    assert r1.request_id == "req-c" and r1.at_us == 20 and r1.doc["outputs"][0]["value"] == "ready"
    # an update: start is state only, the end is a new revision
    store.apply([Change("a", 30, doc(status="UPDATE_IN_PROGRESS", outputs=[{"key": "o", "value": "ready"}]))])
    store.apply([Change("a", 40, doc(status="UPDATE_COMPLETE", outputs=[{"key": "o", "value": "v2"}]))])
    assert revs(store) == [(1, "CREATE_COMPLETE"), (2, "UPDATE_COMPLETE")]


def test_version_never_goes_backwards(store):
    store.apply([Change("a", 20, doc(parameters={"image": "new"}))])
    # an older read arrives late: not applied, so no revision either
    assert store.apply([Change("a", 10, doc(parameters={"image": "old"}))]) == [False]
    assert store.apply([Change("a", 20, doc(parameters={"image": "same-version"}))]) == [False]
    assert revs(store) == [(1, "CREATE_COMPLETE")]
    assert store.revision("a").doc["parameters"]["image"] == "new"
    store.apply([Change("a", 30, doc(parameters={"image": "newer"}))])
    numbers = [r.rev for r in store.revisions("a")]
    times = [r.at_us for r in store.revisions("a")]
    assert numbers == [1, 2] and times == sorted(times)


def test_revision_is_written_in_the_stack_writes_transaction(store, monkeypatch):
    store.apply([Change("a", 10, doc())])

    def boom(*a, **k):
        raise RuntimeError("crash inside the transaction")

    monkeypatch.setattr(store, "_retain", boom)
    with pytest.raises(RuntimeError):
        store.apply([Change("a", 20, doc(parameters={"image": "x"}))])
    # neither the stack write nor its revision happened
    assert store.get("a").version == 10 and revs(store) == [(1, "CREATE_COMPLETE")]


def test_retention_by_count_keeps_the_newest(tmp_path):
    st = Store(str(tmp_path / "s.sqlite"), HistoryPolicy(max_revisions=3, max_age_days=0))
    for i in range(1, 8):
        st.apply([Change("a", i * 10, doc(parameters={"image": f"i{i}"}))])
    assert [r.rev for r in st.revisions("a")] == [5, 6, 7]
    assert st.revision("a").doc["parameters"]["image"] == "i7"


def test_retention_by_age_never_drops_the_last_revision(tmp_path):
    st = Store(str(tmp_path / "s.sqlite"), HistoryPolicy(max_revisions=0, max_age_days=1))
    old = int((time.time() - 5 * 86400) * 1e6)
    st.apply([Change("a", old, doc(parameters={"image": "i1"}))])
    st.apply([Change("a", old + 1, doc(parameters={"image": "i2"}))])
    assert [r.rev for r in st.revisions("a")] == [2]  # rev 1 too old; rev 2 is the last
    st.apply([Change("a", int(time.time() * 1e6), doc(parameters={"image": "i3"}))])
    assert [r.rev for r in st.revisions("a")] == [3]
    assert st.prune_revisions() == 0


def test_tombstone_keeps_the_last_revision(tmp_path):
    st = Store(str(tmp_path / "s.sqlite"), HistoryPolicy(max_revisions=2, max_age_days=1))
    old = int((time.time() - 5 * 86400) * 1e6)
    st.apply([Change("a", old, doc(parameters={"image": "i1"}))])
    st.apply([Change("a", old + 1, doc(parameters={"image": "i2"}))])
    st.apply([Change("a", old + 2)])  # deleted
    st.prune_revisions()
    assert st.get("a").deleted and st.get("a").doc is None
    last = st.revision("a")
    assert last.rev == 2 and last.doc["parameters"]["image"] == "i2" and last.project_id == "p1"
    h = History(st).history("a", Visibility(frozenset({"p1"})))
    assert h["deleted"] and [r["revision"] for r in h["revisions"]] == [2]
    assert History(st).history("a", Visibility(frozenset({"p2"}))) is None


def test_history_disabled_and_compression(tmp_path):
    off = Store(str(tmp_path / "off.sqlite"), HistoryPolicy(enabled=False))
    off.apply([Change("a", 10, doc())])
    assert off.revisions("a") == [] and off.get("a") is not None
    raw = Store(str(tmp_path / "raw.sqlite"), HistoryPolicy(compress=False))
    packed = Store(str(tmp_path / "z.sqlite"))
    # the template is a content (stored once, always compressed: record/contents.py); the body
    # keeps the rest, here a long description
    big = doc(template={"resources": {f"r{i}": {"type": "OS::Heat::None", "properties": {"v": i}}
                                      for i in range(200)}}, description="a long description " * 100)
    raw.apply([Change("a", 10, big)])
    packed.apply([Change("a", 10, big)])
    assert raw.revision("a").doc == packed.revision("a").doc == dict(big, version=10)
    assert packed.history_size()["body_bytes"] * 3 < raw.history_size()["body_bytes"]
    size = packed.contents_size()
    assert size["contents"] == 1 and size["body_bytes"] * 3 < size["json_bytes"]


# -- the indexer passes the notification's context ----------------------------------------------


def test_indexer_records_request_id_user_and_file_changes(tmp_path):
    heat = FakeHeat()
    heat.add("root", "web", project="alpha", params={"image": "cirros"},
             resources=[plain_resource("port", "OS::Neutron::Port")])
    heat.stacks["root"]["files"] = {"box.yaml": "heat_template_version: 2021-04-16\n"}
    st = Store(str(tmp_path / "s.sqlite"))
    ix = Indexer(st, heat)
    ix.reconcile()  # a sync read: no context
    r1 = st.revision("root")
    assert (r1.rev, r1.request_id, r1.user_id) == (1, None, None)
    heat.stacks["root"]["files"] = {"box.yaml": "heat_template_version: 2021-04-16\n# v2\n"}
    heat.stacks["root"]["show"]["parameters"]["image"] = "ubuntu"
    heat.set_status("root", "UPDATE_COMPLETE")
    ix.apply_events([events.parse(notification("root", "web", "update", "end"))])
    r2 = st.revision("root")
    assert (r2.rev, r2.request_id, r2.user_id, r2.status) == (2, "req-1", "u", "UPDATE_COMPLETE")
    d = History(st).diff("root", ALL)
    paths = {c["path"]: c for c in d["changes"]}
    assert paths["parameters.image"]["old"] == "cirros" and paths["parameters.image"]["new"] == "ubuntu"
    assert paths["files.box.yaml"]["kind"] == "changed"
    # a start event of a known stack: state only, no revision
    ix.apply_events([events.parse(notification("root", "web", "check", "start"))])
    assert st.revision("root").rev == 2


# -- fidelity: states never observed are marked, never merged silently (#14) -----------------


@pytest.fixture
def fidelity(tmp_path):
    heat = FakeHeat()
    heat.add("s", "web", project="alpha", params={"image": "v0"})
    st = Store(str(tmp_path / "s.sqlite"))
    ix = Indexer(st, heat)
    ix.reconcile()  # revision 1

    def heat_shows(image: str, status: str) -> None:
        heat.stacks["s"]["show"]["parameters"]["image"] = image
        heat.set_status("s", status)

    def update(phase: str, ts: int | None = None) -> dict:
        return notification("s", "web", "update", phase, ts=ts)

    return st, ix, heat_shows, update


def _marks(st):
    return [(r["revision"], [u["status"] for u in r["gap"]["unobserved"]]) if r["gap"] else
            (r["revision"], None) for r in History(st).history("s", ALL)["revisions"]]


def test_updates_read_in_time_are_revisions_without_a_gap(fidelity):
    st, ix, heat_shows, update = fidelity
    for image in ("v1", "v2"):
        heat_shows(image, "UPDATE_IN_PROGRESS")  # Heat writes the content, then notifies
        ix.apply_events(evs(update("start")))
        heat_shows(image, "UPDATE_COMPLETE")
        ix.apply_events(evs(update("end")))
    assert _marks(st) == [(1, None), (2, None), (3, None)]
    # the starts came right after a change: each was read (what history needs to tell)
    assert [n.observed_us is not None for n in st.noted("s")] == [True] * 4
    assert [r.doc["parameters"]["image"] for r in st.revisions("s", with_docs=True)] == ["v0", "v1", "v2"]


def test_back_to_back_updates_in_one_batch_leave_a_marked_gap(fidelity):
    """The first update's end and the second's start reach the listener together: the read shows
    the second update, so the first one's state was never observed. One revision fewer, and a
    mark that names the state it lacks."""
    st, ix, heat_shows, update = fidelity
    first_end = update("end")
    heat_shows("v2", "UPDATE_IN_PROGRESS")
    ix.apply_events(evs(update("start"), first_end, update("start")))
    latest = st.get("s").doc
    assert latest["status"] == "UPDATE_IN_PROGRESS"  # not the first update's end laid on the second
    heat_shows("v2", "UPDATE_COMPLETE")
    ix.apply_events(evs(update("end")))
    assert _marks(st) == [(1, None), (2, ["UPDATE_COMPLETE"])]
    history = History(st).history("s", ALL)
    gap = history["revisions"][1]["gap"]
    assert gap["from"] == history["revisions"][0]["at"] and gap["to"] == history["revisions"][1]["at"]
    assert gap["unobserved"][0]["request_id"] == "req-1" and gap["unobserved"][0]["action"] == "UPDATE"
    assert History(st).diff("s", ALL)["gaps"] == [dict(gap, revision=2)]


def test_a_read_that_came_after_the_next_update_began_is_marked_later(fidelity):
    """The first update's end is handled alone, but Heat had already begun the second: the read
    shows it (its status lagging, laid over with the end's). When the second's start is handled
    later, its time (before the read) shows that the first state was never observed."""
    st, ix, heat_shows, update = fidelity
    heat_shows("v1", "UPDATE_IN_PROGRESS")
    ix.apply_events(evs(update("start")))
    first_end = update("end")
    second_start = update("start")  # stamped before the read below
    heat_shows("v2", "UPDATE_IN_PROGRESS")
    ix.apply_events(evs(first_end))
    assert _marks(st) == [(1, None), (2, None)]  # nothing known yet
    ix.apply_events(evs(second_start))  # late: older than the record, but it says when
    heat_shows("v2", "UPDATE_COMPLETE")
    ix.apply_events(evs(update("end")))
    assert _marks(st) == [(1, None), (2, ["UPDATE_COMPLETE"])]


def test_a_read_that_showed_the_next_content_before_its_start_notification_is_marked(fidelity):
    """Heat writes an update's content before it sends the update's start: a read made for the
    previous update's end, before that start, may show the next parameters under the old
    status. The next update's own read shows the same content: the first state was never seen."""
    st, ix, heat_shows, update = fidelity
    heat_shows("v1", "UPDATE_IN_PROGRESS")
    ix.apply_events(evs(update("start")))
    heat_shows("v2", "UPDATE_COMPLETE")  # the second update's content, the first one's status
    ix.apply_events(evs(update("end")))
    heat_shows("v2", "UPDATE_IN_PROGRESS")
    ix.apply_events(evs(update("start")))  # stamped after that read
    heat_shows("v2", "UPDATE_COMPLETE")
    ix.apply_events(evs(update("end")))
    assert _marks(st) == [(1, None), (2, ["UPDATE_COMPLETE"])]


def test_an_update_that_changed_nothing_is_marked_rather_than_merged(fidelity):
    """Two updates, the second with the same parameters, read in time: their reads cannot be
    told from one read that came too late, so the first is marked (never merged silently)."""
    st, ix, heat_shows, update = fidelity
    for _ in range(2):
        heat_shows("v1", "UPDATE_IN_PROGRESS")
        ix.apply_events(evs(update("start")))
        heat_shows("v1", "UPDATE_COMPLETE")
        ix.apply_events(evs(update("end")))
    assert _marks(st) == [(1, None), (2, ["UPDATE_COMPLETE"])]


def test_a_read_whose_change_lost_observed_nothing(fidelity):
    """A batch's read is older than what another batch already recorded: its change is refused,
    so the state it read was never recorded."""
    st, ix, heat_shows, update = fidelity
    end = events.parse(update("end"))
    heat_shows("v1", "UPDATE_COMPLETE")
    newer = Change("s", 10**17, dict(st.get("s").doc, parameters={"image": "v9"},
                                     status="UPDATE_COMPLETE"))
    real = st.apply

    def apply_after_a_newer(changes, prepare=None, **kw):
        real([newer])
        return real(changes, prepare, **kw)

    st.apply = apply_after_a_newer  # type: ignore[method-assign]
    ix.apply_events([end])
    st.apply = real  # type: ignore[method-assign]
    assert st.noted("s")[-1].observed_us is None


def test_events_are_kept_once_and_a_redelivery_can_supply_the_observation(fidelity):
    st, ix, heat_shows, update = fidelity
    message = update("end")
    heat_shows("v1", "UPDATE_COMPLETE")
    heat = ix.source
    heat.down = True
    with pytest.raises(Exception):  # noqa: B017 - HeatUnavailable: the batch is requeued
        ix.apply_events(evs(message))
    assert [n.observed_us for n in st.noted("s")] == [None]
    heat.down = False
    ix.apply_events(evs(message))  # the redelivery
    assert len(st.noted("s")) == 1 and st.noted("s")[0].observed_us is not None
    assert _marks(st) == [(1, None), (2, None)]


def test_a_create_never_observed_stays_marked_after_sync_prunes(tmp_path):
    """A listener with a backlog reads a new stack only after its first update began: the
    create's finished state was never observed, and revision 1 already holds the update. The
    mark on revision 1 must survive ``sync``'s retention pass (``prune_revisions``): nothing
    was dropped, so what notifications said before revision 1 still marks a gap."""
    heat = FakeHeat()
    heat.add("n", "web", project="alpha", params={"image": "v2"}, status="UPDATE_IN_PROGRESS")
    st = Store(str(tmp_path / "s.sqlite"))
    ix = Indexer(st, heat)
    ix.apply_events(evs(*(notification("n", "web", action, phase) for action, phase in
                          (("create", "start"), ("create", "end"), ("update", "start")))))
    heat.set_status("n", "UPDATE_COMPLETE")
    ix.apply_events(evs(notification("n", "web", "update", "end")))

    def marks():
        return [(r["revision"], r["gap"] and [u["status"] for u in r["gap"]["unobserved"]])
                for r in History(st).history("n", ALL)["revisions"]]

    assert marks() == [(1, ["CREATE_COMPLETE"])]
    assert st.prune_revisions() == 0
    assert marks() == [(1, ["CREATE_COMPLETE"])]
    # once retention dropped older revisions, what came before the oldest kept one goes too
    st.apply([Change("n", 10**17, dict(st.get("n").doc, parameters={"image": "v3"}))])
    st.apply([Change("n", 10**17 + 1, dict(st.get("n").doc, parameters={"image": "v4"}))])
    assert Store(str(tmp_path / "s.sqlite"), HistoryPolicy(max_revisions=2)).prune_revisions() == 1
    assert [n.phase for n in st.noted("n")] == []


def evs(*messages):
    return [events.parse(m) for m in messages]


# -- what callers see ---------------------------------------------------------------------------


@pytest.fixture
def two_projects(store):
    now = int(time.time() * 1e6)
    store.apply([Change("a", now - 3000, doc("a", "p1"))])
    store.apply([Change("b", now - 3000, doc("b", "p2"))])
    store.apply([Change("a", now - 2000, doc("a", "p1", "UPDATE_COMPLETE",
                                             parameters={"image": "ubuntu", "flavor": "m1.small"}))])
    store.apply([Change("b", now - 2000, doc("b", "p2", "UPDATE_COMPLETE",
                                             parameters={"image": "fedora", "flavor": "m1.small"}))])
    return History(store)


def test_history_and_diff_for_the_owner(two_projects):
    mine = Visibility(frozenset({"p1"}))
    h = two_projects.history("a", mine)
    assert [(r["revision"], r["status"]) for r in h["revisions"]] == [
        (1, "CREATE_COMPLETE"), (2, "UPDATE_COMPLETE")]
    d = two_projects.diff("a", mine)
    assert (d["from"]["revision"], d["to"]["revision"]) == (1, 2)
    assert d["changes"] == [{"path": "parameters.image", "kind": "changed", "old": "cirros",
                             "new": "ubuntu"}]
    assert two_projects.diff("a", mine, 2, 2)["changes"] == []
    with pytest.raises(RevisionNotFound):
        two_projects.diff("a", mine, 1, 9)


def test_another_projects_stack_is_unknown(two_projects):
    other = Visibility(frozenset({"p2"}))
    assert two_projects.history("a", other) is None
    assert two_projects.diff("a", other) is None
    assert two_projects.diff("a", other, 1, 2) is None
    assert two_projects.history("nope", ALL) is None


def test_change_search_finds_old_and_new_values_within_the_caller_projects(two_projects):
    found = two_projects.changes("parameters.image", ALL, since="1d")
    assert [(c["stack_id"], c["old"], c["new"]) for c in found["changes"]] == [
        ("a", "cirros", "ubuntu"), ("b", "cirros", "fedora")]
    mine = two_projects.changes("parameters.image", Visibility(frozenset({"p1"})), since="now-7d")
    assert [c["stack_id"] for c in mine["changes"]] == ["a"]
    assert mine["changes"][0]["revision"] == 2 and mine["changes"][0]["previous_revision"] == 1
    assert two_projects.changes("parameters.image", Visibility(frozenset()))["changes"] == []
    assert two_projects.changes("parameters.flavor", ALL)["changes"] == []
    # a time range before the updates
    assert two_projects.changes("parameters.image", ALL, until="now-1h")["changes"] == []
    # creations count as additions only when asked for
    created = two_projects.changes("parameters.image", ALL, include_created=True)
    assert [c["kind"] for c in created["changes"]] == ["added", "added", "changed", "changed"]
    # the query string's name of a template path reaches the same change
    assert two_projects.changes("template.resources.server", ALL)["field"] == "resources.server"


def test_parse_when():
    from datetime import UTC, datetime

    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert parse_when("7d", now) == parse_when("now-7d", now)
    assert parse_when("2026-11-25", now) == int(datetime(2026, 11, 25, tzinfo=UTC).timestamp() * 1e6)
    assert parse_when(None, now) is None and parse_when(" ", now) is None


def test_revision_documents_are_masked_as_stored(store):
    store.apply([Change("a", 10, doc(parameters={"db_pass": "******"}))])
    assert "******" in json.dumps(store.revision("a").doc)


def test_prune_applies_a_tighter_policy_to_every_stack(tmp_path):
    path = str(tmp_path / "s.sqlite")
    loose = Store(path, HistoryPolicy(max_revisions=0, max_age_days=0))
    old = int((time.time() - 10 * 86400) * 1e6)
    for sid in ("a", "b"):
        for i in range(5):
            loose.apply([Change(sid, old + i, doc(sid, parameters={"image": f"i{i}"}))])
    loose.apply([Change("c", old, doc("c"))])
    loose.apply([Change("c", old + 1)])  # deleted, one old revision
    assert Store(path, HistoryPolicy(max_revisions=3, max_age_days=0)).prune_revisions() == 4
    assert [r.rev for r in loose.revisions("a")] == [3, 4, 5]
    assert Store(path, HistoryPolicy(max_revisions=0, max_age_days=1)).prune_revisions() == 4
    assert [r.rev for r in loose.revisions("b")] == [5]
    assert [r.rev for r in loose.revisions("c")] == [1]  # the tombstone keeps its last revision
