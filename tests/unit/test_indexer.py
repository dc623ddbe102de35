"""Indexer (notifications and reconcile) and listener handler, against an in-memory Heat."""

import json
import sqlite3

import oslo_messaging
import pytest

from heatseeker.heat import events
from heatseeker.heat.client import EAGER, URGENT, HeatUnavailable
from heatseeker.heat.events import CONTENT_BEFORE_START_US
from heatseeker.indexer import Indexer
from heatseeker.listener import POISON_LIMIT, Handler
from heatseeker.record import HistoryPolicy, Store

from .fakes import FakeHeat, nested_resource, notification, plain_resource, tick


@pytest.fixture
def heat():
    h = FakeHeat()
    h.add("root", "web", project="alpha", params={"image": "cirros"}, hidden=("db_pass",),
          resources=[nested_resource("group", "OS::Heat::ResourceGroup", "grp"),
                     plain_resource("port", "OS::Neutron::Port")])
    h.add("grp", "web-group-abcdefghijkl", project="alpha", parent="root",
          resources=[nested_resource("0", "My::Member", "m0")])
    h.add("m0", "web-group-abcdefghijkl-0-mnopqrstuvwx", project="alpha", parent="grp",
          params={"image": "cirros"}, resources=[plain_resource("server", "OS::Nova::Server")])
    h.add("other", "db", project="beta", params={"image": "ubuntu"})
    return h


@pytest.fixture
def store(tmp_path):
    return Store(str(tmp_path / "state.sqlite"))


def evs(*messages):
    return [events.parse(m) for m in messages]


def test_reconcile_from_empty_builds_the_tree(heat, store):
    report = Indexer(store, heat).reconcile()
    assert (report.listed, report.added, report.tombstoned) == (4, 4, 0)
    m0 = store.get("m0").doc
    assert m0["ancestors"] == ["root", "grp"] and m0["root_id"] == "root" and m0["depth"] == 2
    assert m0["path"] == ["web", "web-group-abcdefghijkl", "web-group-abcdefghijkl-0-mnopqrstuvwx"]
    assert m0["parent_resource"] == "0" and m0["project_id"] == "alpha"
    assert store.get("grp").doc["parent_resource"] == "group"
    root = store.get("root").doc
    assert root["parameters"]["db_pass"] == "******"
    assert "DEFAULT-SECRET" not in json.dumps(root)
    assert store.get("other").doc["project_id"] == "beta"


def test_reconcile_refreshes_changes_and_tombstones_the_gone(heat, store):
    ix = Indexer(store, heat)
    ix.reconcile()
    heat.reads.clear()
    again = ix.reconcile()
    assert (again.added, again.refreshed, again.unchanged) == (0, 0, 4) and heat.reads == []
    heat.set_status("other", "UPDATE_COMPLETE")
    del heat.stacks["m0"]
    third = ix.reconcile()
    assert (third.refreshed, third.tombstoned) == (1, 1)
    assert store.get("other").doc["status"] == "UPDATE_COMPLETE"
    assert store.get("m0").deleted
    full = ix.reconcile(full=True)
    assert full.refreshed == 3


def test_end_event_reads_the_api_and_overlays_a_lagging_state(heat, store):
    ix = Indexer(store, heat)
    ix.reconcile()
    heat.set_status("root", "UPDATE_IN_PROGRESS")  # Heat notified before writing the state
    report = ix.apply_events(evs(notification("root", "web", "update", "end")))
    assert report.reads == 1
    doc = store.get("root").doc
    assert (doc["status"], doc["action"], doc["state"]) == ("UPDATE_COMPLETE", "UPDATE", "COMPLETE")
    # the API is ahead of the event (a newer action started): the API wins
    heat.set_status("root", "SUSPEND_IN_PROGRESS")
    ix.apply_events(evs(notification("root", "web", "update", "end")))
    assert store.get("root").doc["status"] == "SUSPEND_IN_PROGRESS"


def test_start_events_of_known_stacks_cost_no_read(heat, store):
    ix = Indexer(store, heat)
    ix.reconcile()
    heat.reads.clear()
    # (a start more than CONTENT_BEFORE_START_US after the stack's last change: not back to back)
    later = store.get("other").version + CONTENT_BEFORE_START_US + 1
    ix.apply_events(evs(notification("other", "db", "suspend", "start", ts=later)))
    assert heat.reads == [] and store.get("other").doc["status"] == "SUSPEND_IN_PROGRESS"
    # an older start event than what the store holds changes nothing
    old = notification("other", "db", "check", "start", ts=1)
    ix.apply_events(evs(old))
    assert store.get("other").doc["status"] == "SUSPEND_IN_PROGRESS"
    # an unknown stack is read, whatever the phase: ownership must come from the API
    heat.add("new", "fresh", project="gamma", status="CREATE_IN_PROGRESS")
    ix.apply_events(evs(notification("new", "fresh", "create", "start")))
    assert heat.reads == ["new"] and store.get("new").doc["project_id"] == "gamma"


def test_a_start_right_after_a_change_is_read_for_history(heat, store):
    """Back to back: the start is read (Heat wrote its content before notifying), so that
    history can tell what the read for the action before it showed; without history, not."""
    ix = Indexer(store, heat)
    ix.reconcile()
    heat.reads.clear()
    ix.apply_events(evs(notification("other", "db", "update", "start")))
    assert heat.reads == ["other"] and store.noted("other")[-1].observed_us is not None
    # Heat had not written the state yet (the read shows the state before): the start's state
    assert store.get("other").doc["status"] == "UPDATE_IN_PROGRESS"
    # a read that shows the action already ended keeps what it shows
    heat.set_status("other", "CHECK_COMPLETE")
    ix.apply_events(evs(notification("other", "db", "check", "start")))
    assert store.get("other").doc["status"] == "CHECK_COMPLETE"
    quiet = Store(str(store.path) + "-nohist", HistoryPolicy(enabled=False))
    ix2 = Indexer(quiet, heat)
    ix2.reconcile()
    heat.reads.clear()
    ix2.apply_events(evs(notification("other", "db", "update", "start")))
    assert heat.reads == []


@pytest.fixture(params=["history", "no-history"])
def either_store(request, tmp_path):
    """A record with history on, and one with it off: what notifications said is kept in both
    (``Store.newest_events``)."""
    return Store(str(tmp_path / "state.sqlite"),
                 HistoryPolicy(enabled=request.param == "history"))


def test_a_start_read_after_another_batch_handled_a_newer_event_keeps_the_read(heat, either_store):
    """Batches overlap: the read of a new stack's create start (the last read in the gate's
    line) waits while another batch handles the end of the update that came right after the
    create, and commits first. The start's read then shows UPDATE_COMPLETE: the create's
    in-progress state must not be laid over it (the index would say CREATE_IN_PROGRESS for good
    while Heat says UPDATE_COMPLETE)."""
    import threading

    store = either_store
    ix = Indexer(store, heat)
    heat.add("new", "fresh", project="gamma", status="CREATE_IN_PROGRESS")
    release, reading = threading.Event(), threading.Event()
    plain_read = heat.read

    def slow_read(sid):
        if threading.current_thread().name == "start-batch":
            reading.set()
            assert release.wait(10)
        return plain_read(sid)

    heat.read = slow_read
    start = notification("new", "fresh", "create", "start")
    worker = threading.Thread(target=ix.apply_events, args=(evs(start),), name="start-batch")
    worker.start()
    assert reading.wait(10)
    heat.set_status("new", "UPDATE_COMPLETE")  # created, then updated at once
    ix.apply_events(evs(notification("new", "fresh", "update", "end")))
    assert store.get("new").doc["status"] == "UPDATE_COMPLETE"
    release.set()
    worker.join(10)
    assert not worker.is_alive()
    assert store.get("new").doc["status"] == "UPDATE_COMPLETE"


def test_one_read_shared_by_two_batches_keeps_the_newer_events_state(heat, either_store):
    """The gate hands one read to two batches (heat/client.py): the older event's batch (a
    create's start) commits first, its state laid over the read; the newer one's (the end of
    the update after it) holds the same read, at the same version: it must still win."""
    store = either_store
    ix = Indexer(store, heat)
    heat.add("new", "fresh", project="gamma", status="UPDATE_COMPLETE")
    plain_read, shared = heat.read, {}

    def once(sid):
        if sid not in shared:
            shared[sid] = plain_read(sid)
        return shared[sid]

    heat.read = once
    ix.apply_events(evs(notification("new", "fresh", "create", "start")))
    first = store.get("new")
    assert first.doc["status"] == "CREATE_IN_PROGRESS"  # nothing newer known yet
    ix.apply_events(evs(notification("new", "fresh", "update", "end")))
    again = store.get("new")
    assert again.doc["status"] == "UPDATE_COMPLETE" and again.version == first.version + 1
    # the older event's batch redelivered with that same read changes nothing
    ix.apply_events(evs(notification("new", "fresh", "create", "start", ts=1)))
    assert store.get("new").doc["status"] == "UPDATE_COMPLETE"


def test_a_region_labels_what_it_reads_and_touches_no_other_regions_stack(store):
    """An indexer on one region's Heat: its documents carry the region; the stacks recorded
    before regions become its own when it starts (no Heat read); a delete it hears of, for an id
    another region holds, removes nothing there."""
    from heatseeker.record import Change

    store.apply([Change("old", 1, {"id": "old", "name": "old", "project_id": "p1"}),
                 Change("theirs", 1, {"id": "theirs", "name": "t", "project_id": "p1",
                                      "region": "RegionOne"})])
    two = FakeHeat(region="RegionTwo")
    two.add("mine", "mine", project="p1")
    ix = Indexer(store, two)
    assert store.get("old").doc["region"] == "RegionTwo" and two.reads == []
    ix.apply_events(evs(notification("mine", "mine", "create", "end")))
    assert store.get("mine").doc["region"] == "RegionTwo"
    ix.apply_events(evs(notification("theirs", "t", "delete", "end")))
    assert not store.get("theirs").deleted  # RegionOne's stack
    ix.apply_events(evs(notification("mine", "mine", "delete", "end")))
    assert store.get("mine").deleted
    report = ix.reconcile()  # RegionTwo's Heat lists only "mine": its "old" is gone
    assert report.listed == 1 and report.tombstoned == 1 and store.get("old").deleted
    assert not store.get("theirs").deleted  # RegionOne's stack stays
    assert set(store.live_summaries("RegionTwo")) == set()  # "mine" was deleted: final
    assert set(store.live_summaries("RegionOne")) == {"theirs"}


def test_several_events_for_one_stack_cost_one_read(heat, store):
    ix = Indexer(store, heat)
    batch = [notification("root", "web", "update", p) for p in ("start", "end")]
    batch += [notification("root", "web", "check", p) for p in ("start", "end")]
    batch += [notification("b4c0ffee", "web*", "update", "end")]  # a backup stack: ignored
    report = ix.apply_events(evs(*batch))
    assert heat.reads == ["root"] and report.reads == 1 and report.ignored == 1


def test_what_finishes_an_action_is_read_before_an_unknown_stack_that_only_began(heat, store):
    ix = Indexer(store, heat)
    ix.reconcile()
    heat.reads.clear()
    heat.add("new", "fresh", project="gamma", status="CREATE_IN_PROGRESS")
    heat.set_status("other", "UPDATE_COMPLETE")
    durable: list[tuple] = []
    ix.apply_events(evs(notification("new", "fresh", "create", "start"),
                        notification("other", "db", "update", "end")),
                    on_durable=lambda: durable.append(
                        (store.get("other").doc["status"], store.get("new"), list(heat.reads))))
    assert heat.reads == ["other", "new"] and heat.priorities == {"new": EAGER}
    # the end was committed (and the projector told) before the unknown stack was even read
    assert durable == [("UPDATE_COMPLETE", None, ["other"])]
    assert store.get("new").doc["status"] == "CREATE_IN_PROGRESS"


def test_what_needs_no_read_is_durable_before_the_batch_reads(heat, tmp_path):
    """A delete (and a known stack's start) in a batch with reads: committed first, and the
    projector told, so a burst's reads never hold it back (#14: nothing is starved). History
    off: with it, a start this soon after the reconcile's read would be read too."""
    store = Store(str(tmp_path / "state.sqlite"), HistoryPolicy(enabled=False))
    ix = Indexer(store, heat)
    ix.reconcile()
    heat.reads.clear()
    heat.set_status("root", "UPDATE_COMPLETE")
    seen: list[tuple] = []
    real_read = heat.read

    def read(sid):
        seen.append((sid, store.get("other").deleted, store.get("m0").doc["status"]))
        return real_read(sid)

    heat.read = read
    durable: list[list[str]] = []
    report = ix.apply_events(evs(notification("other", "db", "delete", "end"),
                                 notification("m0", "member", "update", "start"),
                                 notification("root", "web", "update", "end")),
                             on_durable=lambda: durable.append(list(heat.reads)))
    assert seen == [("root", True, "UPDATE_IN_PROGRESS")] and durable == [[]]
    assert report.written == 3 and report.tombstoned == 1 and heat.reads == ["root"]
    assert heat.names == {"root": "web"}  # the show asks for name/id: no lookup in Heat
    assert store.get("root").doc["status"] == "UPDATE_COMPLETE" and store.get("other").deleted
    # a batch of reads alone, or of no-read changes alone, is one transaction as before
    durable.clear()
    ix.apply_events(evs(notification("root", "web", "check", "end")), on_durable=lambda: durable.append([]))
    assert durable == []


def test_delete_is_final_and_replays_change_nothing(heat, store):
    ix = Indexer(store, heat)
    ix.reconcile()
    create_end = notification("other", "db", "create", "end")
    ix.apply_events(evs(notification("other", "db", "delete", "start"),
                        notification("other", "db", "delete", "end")))
    assert store.get("other").deleted
    heat.reads.clear()
    report = ix.apply_events(evs(create_end, notification("other", "db", "update", "end")))
    assert store.get("other").deleted and heat.reads == [] and report.ignored == 2
    # a stack the API no longer has is a tombstone too
    del heat.stacks["m0"]
    ix.apply_events(evs(notification("m0", "member", "update", "end")))
    assert store.get("m0").deleted


def test_unreadable_heat_raises_after_writing_what_it_could(heat, store):
    ix = Indexer(store, heat)
    heat.down = True
    with pytest.raises(HeatUnavailable):
        ix.apply_events(evs(notification("root", "web", "create", "end")))
    assert store.get("root") is None
    heat.down = False
    ix.apply_events(evs(notification("root", "web", "create", "end")))
    assert store.get("root").doc["status"] == "CREATE_COMPLETE"


def test_nested_stack_read_before_its_parent_walks_up_the_api(heat, store):
    Indexer(store, heat).apply_events(evs(notification("m0", "member", "create", "end")))
    doc = store.get("m0").doc
    assert doc["ancestors"] == ["root", "grp"] and doc["path"][0] == "web"
    assert doc["parent_resource"] == "0"  # from Heat's nested stack naming


# -- the listener's handler ------------------------------------------------------------------------


def test_handler_dead_letters_malformed_and_goes_on(heat, store):
    sleeps = []
    h = Handler(store, Indexer(store, heat), sleep=sleeps.append)
    bad = {"ctxt": {}, "publisher_id": "x", "event_type": "orchestration.stack.update.end",
           "payload": {"stack_name": "no id"}, "metadata": {"message_id": "bad-1", "timestamp": "x"}}
    good = notification("root", "web", "create", "end")
    assert h([bad, good]) == oslo_messaging.NotificationResult.HANDLED
    assert store.dead_letters()[0]["message_id"] == "bad-1"
    assert store.get("root") is not None and sleeps == []


def test_handler_requeues_with_growing_backoff_while_heat_is_down(heat, store):
    sleeps = []
    commits = []
    h = Handler(store, Indexer(store, heat), sleep=sleeps.append, backoff_max=3,
                on_commit=lambda: commits.append(1))
    heat.down = True
    msgs = [notification("root", "web", "create", "end")]
    for _ in range(5):
        assert h(msgs) == oslo_messaging.NotificationResult.REQUEUE
    assert sleeps == [0.5, 1.0, 2.0, 3, 3] and commits == []
    heat.down = False
    assert h(msgs) == oslo_messaging.NotificationResult.HANDLED
    assert commits == [1] and store.get("root") is not None


def test_handler_dead_letters_a_poison_message_after_repeated_failures(heat, store, monkeypatch):
    h = Handler(store, Indexer(store, heat), sleep=lambda s: None)

    def boom(_):
        raise RuntimeError("bug")

    monkeypatch.setattr(h.indexer, "apply_events", boom)
    msg = notification("root", "web", "create", "end", mid="poison")
    results = [h([msg]) for _ in range(POISON_LIMIT)]
    assert results[:-1] == [oslo_messaging.NotificationResult.REQUEUE] * (POISON_LIMIT - 1)
    assert results[-1] == oslo_messaging.NotificationResult.HANDLED
    assert store.dead_letters()[0]["message_id"] == "poison"


def test_real_captured_notifications_replay_cleanly(heat, store):
    """Every real notification captured from Heat 27 parses and applies without error."""
    import os

    path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "heat-27.0.1", "notifications.jsonl")
    with open(path) as f:
        msgs = [events.from_wire(json.loads(line)) for line in f]
    parsed = [e for e in (events.parse(m) for m in msgs) if e is not None]
    assert len(parsed) == len(msgs)
    # none of those stacks exists in the fake Heat any more: all end up tombstones, none crash
    Indexer(store, heat).apply_events(parsed)
    ids = {e.stack_id for e in parsed if not e.is_backup}
    assert all(store.get(i).deleted for i in ids)
    assert tick() > 0


def test_file_digests_are_keyed_by_the_installation(tmp_path):
    """A file may hold a hidden parameter's default: its digest in the history must not be a
    plain hash that a guess could be checked against."""
    import hashlib

    from heatseeker.indexer import file_digests
    from heatseeker.record import Store

    files = {"t.yaml": "parameters:\n  pw: {type: string, hidden: true, default: s3cret}\n"}
    a, b = Store(str(tmp_path / "a.sqlite")), Store(str(tmp_path / "b.sqlite"))
    key = a.secret_key()
    assert a.secret_key() == key and len(key) == 32  # made once, then kept
    assert Store(str(tmp_path / "a.sqlite")).secret_key() == key
    mine, theirs = file_digests(files, key), file_digests(files, b.secret_key())
    assert mine == file_digests(files, key)  # a change shows, the same content does not
    assert mine != theirs
    plain = hashlib.sha256(files["t.yaml"].encode()).hexdigest()
    assert plain[:16] not in mine.values() and plain not in mine.values()
    assert file_digests({"t.yaml": {"not": "text"}}, key) == {"t.yaml": None}


# -- secrets passed down from parent to child (heatseeker/secrets.py) ------------------------------

PASSED = "Passed-Secret-Value-77"


@pytest.fixture
def tainted():
    """root (db_pass hidden) → child (its `password` fed by db_pass, not hidden there) →
    grandchild (its `pw` fed by the child's password), all provider templates."""
    h = FakeHeat()
    files = {
        "file:///t/child.yaml": json.dumps({
            "heat_template_version": "2021-04-16",
            "parameters": {"password": {"type": "string"}, "user": {"type": "string"}},
            "resources": {"gc": {"type": "My::Grandchild",
                                 "properties": {"pw": {"get_param": "password"},
                                                "user": {"get_param": "user"}}}}}),
        "file:///t/grandchild.yaml": json.dumps({
            "heat_template_version": "2021-04-16",
            "parameters": {"pw": {"type": "string"}, "user": {"type": "string"}},
            "resources": {}}),
    }
    env = {"parameters": {}, "parameter_defaults": {},
           "resource_registry": {"My::Child": "file:///t/child.yaml",
                                 "My::Grandchild": "file:///t/grandchild.yaml"}}
    h.add("root", "app", project="alpha", params={"user": "guest"}, hidden=("db_pass",),
          resources=[nested_resource("c", "My::Child", "child")],
          template_resources={"c": {"type": "My::Child",
                                    "properties": {"password": {"get_param": "db_pass"},
                                                   "user": {"get_param": "user"}}}})
    h.add("child", "app-c-abcdefghijkl", project="alpha", parent="root",
          params={"password": PASSED, "user": "guest"},
          resources=[nested_resource("gc", "My::Grandchild", "gchild")])
    h.add("gchild", "app-c-abcdefghijkl-gc-mnopqrstuvwx", project="alpha", parent="child",
          params={"pw": PASSED, "user": "guest"})
    for sid in ("root", "child", "gchild"):
        h.stacks[sid]["environment"] = dict(env)
        h.stacks[sid]["files"] = files
    h.stacks["child"]["template"] = json.loads(files["file:///t/child.yaml"])
    h.stacks["gchild"]["template"] = json.loads(files["file:///t/grandchild.yaml"])
    h.stacks["child"]["environment"] = dict(env, parameters={"password": PASSED, "user": "guest"})
    return h


def _assert_masked(store):
    assert store.get("child").doc["parameters"] == {"password": "******", "user": "guest"}
    assert store.get("gchild").doc["parameters"] == {"pw": "******", "user": "guest"}
    for sid in ("root", "child", "gchild"):
        rec = store.get(sid)
        assert PASSED not in json.dumps(rec.doc if rec else None)
        for rev in store.revisions(sid, with_docs=True):
            assert PASSED not in json.dumps(rev.doc)


def test_reconcile_passes_secrets_down_two_levels(tainted, store):
    Indexer(store, tainted).reconcile()
    _assert_masked(store)
    assert store.get("root").taint["children"] == {"c": {"params": ["password"]}}
    assert store.get("child").taint["children"] == {"gc": {"params": ["pw"]}}
    assert store.secret_unknowns() == {"stacks": 0, "places": 0}


def test_a_sync_whose_reads_finish_children_first_builds_parents_first(tainted, heat, tmp_path):
    """sync reads every depth at once: a child whose read completes before its parent's waits
    for it, and is built from it (path, parent resource, secrets) without asking Heat again."""
    for fake, name in ((tainted, "t"), (heat, "h")):
        fake.children_first = True
        shows: list[str] = []
        real_show = fake.show
        fake.show = lambda sid, real_show=real_show, shows=shows: shows.append(sid) or real_show(sid)
        store = Store(str(tmp_path / f"{name}.sqlite"))
        report = Indexer(store, fake).reconcile()
        assert report.errors == [] and report.read == len(fake.stacks)
        assert shows == []  # every parent came from this run's reads (none from Heat again)
        assert sorted(fake.names) == sorted(fake.stacks)  # the shows' name hints
        if fake is tainted:
            _assert_masked(store)
        else:
            m0 = store.get("m0").doc
            assert m0["ancestors"] == ["root", "grp"] and m0["parent_resource"] == "0"
            assert store.get("grp").doc["parent_resource"] == "group"


def test_a_read_that_fails_in_the_middle_of_a_sync_loses_nothing(heat, store):
    """A parent's read fails while its children's succeed (reads finishing children first):
    the error names the stack, the children are still built (their parent asked of Heat), and
    the next sync reads the one that failed; then the record is whole."""
    heat.children_first = True
    heat.fail_once = {"grp"}
    ix = Indexer(store, heat)
    report = ix.reconcile()
    assert report.errors == ["grp: HTTP 500 reading grp"] and report.read == 3
    assert store.get("grp") is None
    m0 = store.get("m0").doc
    assert m0["ancestors"] == ["root", "grp"] and m0["root_id"] == "root"
    again = ix.reconcile()
    assert again.errors == [] and (again.added, again.unchanged) == (1, 3)
    assert store.get("grp").doc["parent_resource"] == "group"
    assert {r.id for r in store.iter_all() if not r.deleted} == set(heat.stacks)


def test_child_first_notifications_read_the_parents_from_heat(tainted, store):
    ix = Indexer(store, tainted)
    ix.apply_events(evs(notification("gchild", "x", "create", "end")))  # nothing stored yet
    ix.apply_events(evs(notification("child", "x", "create", "end")))
    assert store.get("root") is None  # read for its summary, not stored by a child's read
    _assert_masked(store)


def test_parents_in_the_same_batch_are_built_first(tainted, store):
    ix = Indexer(store, tainted)
    ix.apply_events(evs(*(notification(s, "x", "create", "end")
                          for s in ("gchild", "child", "root"))))
    _assert_masked(store)


def test_a_stale_parent_summary_is_not_trusted(tainted, store):
    ix = Indexer(store, tainted)
    tainted.stacks["root"]["template"]["resources"]["c"]["properties"]["password"] = "clear"
    ix.reconcile()
    assert store.get("child").doc["parameters"]["password"] == PASSED  # not secret then
    # the root is updated to pass its hidden parameter; the child's notification comes first
    tainted.stacks["root"]["template"]["resources"]["c"]["properties"]["password"] = {
        "get_param": "db_pass"}
    tainted.set_status("root", "UPDATE_IN_PROGRESS")
    tainted.set_status("child", "UPDATE_COMPLETE")
    ix.apply_events(evs(notification("child", "x", "update", "end")))
    assert store.get("child").doc["parameters"]["password"] == "******"
    # the parent was read through the gate (shared with a read of it waiting there), urgently
    assert tainted.priorities == {"root": URGENT}


def test_a_notifications_reason_loses_the_secret_places_values(tainted, store):
    ix = Indexer(store, tainted)
    ix.reconcile()
    tainted.set_status("child", "UPDATE_IN_PROGRESS")  # Heat notifies before writing the state
    msg = notification("child", "x", "update", "error")
    msg["payload"]["state_reason"] = f"Resource UPDATE failed: bad password {PASSED}"
    ix.apply_events(evs(msg))
    doc = store.get("child").doc
    assert doc["status"] == "UPDATE_FAILED"
    assert doc["status_reason"] == "Resource UPDATE failed: bad password ******"


def test_unknown_structures_are_counted(tainted, store):
    tainted.stacks["root"]["template"]["outputs"] = {"o": {"value": {"Fn::Future": "x"}}}
    Indexer(store, tainted).reconcile()
    assert store.secret_unknowns() == {"stacks": 1, "places": 1}


def test_a_store_from_before_summaries_reads_the_parent_once(tainted, store):
    ix = Indexer(store, tainted)
    ix.reconcile()
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE stacks SET taint = NULL")  # records written before secrets.py
    tainted.set_status("child", "UPDATE_COMPLETE")
    tainted.set_status("gchild", "UPDATE_COMPLETE")
    tainted.reads.clear()
    ix.reconcile()
    assert tainted.reads.count("root") == 1  # read for its summary, once for the whole run
    _assert_masked(store)


def test_a_masked_reason_is_not_a_change_for_sync(tainted, store):
    reason = f"Resource CREATE failed: password {PASSED} refused"
    tainted.stacks["child"]["show"]["stack_status_reason"] = reason
    ix = Indexer(store, tainted)
    ix.reconcile()
    assert store.get("child").doc["status_reason"] == "Resource CREATE failed: password ****** refused"
    again = ix.reconcile()
    assert (again.refreshed, again.unchanged) == (0, 3)
    tainted.stacks["child"]["show"]["stack_status_reason"] = "Resource CREATE failed: other"
    assert ix.reconcile().refreshed == 1
