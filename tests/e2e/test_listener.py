"""The listener against the real Heat sandbox and RabbitMQ: the index converges to Heat's truth
through create, update, suspend, resume, a failed create and delete; and it survives replays, being
killed, a broker restart and a Heat API outage. Waits poll with a timeout; no timing is asserted."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import uuid

import kombu
import pytest

from .conftest import CTL, ROOT, contents, create, ctl, heat_status, unique, wait_for, wait_heat

AMQP = "amqp://guest:guest@127.0.0.1:5672//"


def converge(hs, hc, sid, timeout=90):
    """Wait until the index shows the status Heat shows (and Heat is settled)."""

    def same():
        st = heat_status(hc, sid)
        if st is None or st == "DELETE_COMPLETE":
            return hs.indexed(sid) is None
        return not st.endswith("IN_PROGRESS") and hs.indexed_status(sid) == st

    wait_for(same, timeout, f"index to converge on stack {sid}")


def delete_all(hc, ids):
    for sid in ids:
        with contextlib.suppress(Exception):
            hc.stacks.delete(sid)
    for sid in ids:
        wait_heat(hc, sid, "DELETE_COMPLETE")


class Capture:
    """Our own queue on Heat's exchange, to replay real notifications later."""

    def __init__(self):
        self.conn = kombu.Connection(AMQP)
        self.exchange = kombu.Exchange("heat", type="topic", durable=False)
        self.queue = kombu.Queue("e2e-capture-" + uuid.uuid4().hex[:8], exchange=self.exchange,
                                 routing_key="notifications.#", durable=False, auto_delete=True)
        self.queue(self.conn.channel()).declare()
        self.bodies: list[tuple[str, dict]] = []

    def drain(self):
        def on(body, message):
            self.bodies.append((message.delivery_info["routing_key"], body))
            message.ack()

        with self.conn.Consumer([self.queue], callbacks=[on], accept=["json"]):
            while True:
                try:
                    self.conn.drain_events(timeout=1)
                except Exception:  # noqa: BLE001 - socket timeout: drained
                    return self.bodies

    def close(self):
        self.conn.release()


def publish(messages: list[tuple[str, object]], raw: bool = False) -> None:
    with kombu.Connection(AMQP) as conn:
        producer = conn.Producer(exchange=kombu.Exchange("heat", type="topic", durable=False))
        for routing_key, body in messages:
            if raw:
                producer.publish(body, routing_key=routing_key, content_type="application/json",
                                 content_encoding="utf-8")
            else:
                producer.publish(body, routing_key=routing_key, serializer="json")


def barrier(hs, sentinel_id: str, sentinel_name: str) -> None:
    """Publish a state-only event for a live stack and wait until the index shows it: everything
    queued before it has then been handled."""
    marker = "CHECK_IN_PROGRESS"
    msg = {
        "message_id": str(uuid.uuid4()), "publisher_id": "orchestration.e2e", "priority": "INFO",
        "event_type": "orchestration.stack.check.start",
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime()),
        "payload": {"stack_identity": sentinel_id, "stack_name": sentinel_name, "state": marker,
                    "state_reason": "e2e barrier", "tenant_id": "alpha"},
    }
    publish([("notifications.info", {"oslo.version": "2.0", "oslo.message": json.dumps(msg)})])
    wait_for(lambda: hs.indexed_status(sentinel_id) == marker, 60, "the barrier event")


def test_lifecycle_converges(heat, make_heatseeker):
    alpha = heat("alpha")
    hs = make_heatseeker()
    hs.start_listener()
    name = unique("life")
    sid = create(alpha, name, "app.yaml", "env.yaml", tags="e2e,life")
    failed, box = None, {"nested_stack_id": None}
    try:
        wait_heat(alpha, sid, "CREATE_COMPLETE")
        converge(hs, alpha, sid)
        doc = hs.indexed(sid)
        assert doc["project_id"] == "alpha" and doc["tags"] == ["e2e", "life"]
        box = next(r for r in doc["resources"] if r["name"] == "box")
        child = wait_for(lambda: hs.indexed(box["nested_stack_id"]), 60, "the nested stack")
        assert child["path"] == [name, child["name"]] and child["root_id"] == sid
        assert child["parent_resource"] == "box" and child["project_id"] == "alpha"

        tpl, files, env = contents("app.yaml", "env.yaml")
        alpha.stacks.update(sid, template=tpl, files=files, environment=env,
                            parameters={"flavor": "m1.large"})
        wait_heat(alpha, sid, "UPDATE_COMPLETE")
        converge(hs, alpha, sid)
        wait_for(lambda: hs.indexed(sid)["parameters"]["flavor"] == "m1.large", 60, "new flavor")
        assert {o["key"]: o["value"] for o in hs.indexed(sid)["outputs"]}["flavor"] == "m1.large"

        for action, want in (("suspend", "SUSPEND_COMPLETE"), ("resume", "RESUME_COMPLETE")):
            getattr(alpha.actions, action)(sid)
            wait_heat(alpha, sid, want)
            converge(hs, alpha, sid)

        failed = create(alpha, unique("fail"), "fail.yaml")
        wait_for(lambda: heat_status(alpha, failed) == "CREATE_FAILED", 90, "the failed create")
        converge(hs, alpha, failed)
        heat_reason = alpha.stacks.get(failed, resolve_outputs=False).stack_status_reason
        assert hs.indexed(failed)["status_reason"] == heat_reason
    finally:
        delete_all(alpha, [s for s in (sid, failed) if s])
    for s in (sid, failed, box["nested_stack_id"]):
        if s:
            wait_for(lambda s=s: hs.indexed(s) is None, 60, f"stack {s} to leave the index")
            rec = hs.store().get(s)
            assert rec is not None and rec.deleted
    assert "Traceback" not in hs.listener_output()


def test_replayed_notifications_do_not_resurrect(heat, make_heatseeker):
    alpha = heat("alpha")
    hs = make_heatseeker()
    hs.start_listener()
    capture = Capture()
    sentinel = create(alpha, unique("sentinel"), "slow.yaml", parameters={"wait": 0})
    sid = create(alpha, unique("replay"), "slow.yaml", parameters={"wait": 0})
    try:
        wait_heat(alpha, sid, "CREATE_COMPLETE")
        alpha.stacks.delete(sid)
        wait_heat(alpha, sid, "DELETE_COMPLETE")
        wait_for(lambda: hs.store().get(sid) is not None and hs.store().get(sid).deleted, 60,
                 "the tombstone")
        wait_heat(alpha, sentinel, "CREATE_COMPLETE")
        converge(hs, alpha, sentinel)
        captured = [(k, b) for k, b in capture.drain()
                    if sid in json.dumps(b)]
        assert any("delete.end" in json.dumps(b) for _, b in captured)
        publish(captured)  # every notification of the stack again, create.* included
        barrier(hs, sentinel, hs.indexed(sentinel)["name"])
        assert hs.indexed(sid) is None
        assert hs.store().get(sid).deleted
    finally:
        capture.close()
        delete_all(alpha, [sentinel])


def test_malformed_messages_are_dead_lettered(heat, make_heatseeker):
    alpha = heat("alpha")
    hs = make_heatseeker()
    hs.start_listener()
    broken_id = str(uuid.uuid4())
    # not even JSON: the driver cannot decode it; the listener must not care
    publish([("notifications.info", b"{not json")], raw=True)
    # a notification that claims to be Heat's but is broken: dead-lettered with its message id
    publish([("notifications.info", {"oslo.version": "2.0", "oslo.message": json.dumps({
        "message_id": broken_id, "priority": "INFO", "publisher_id": "x",
        "event_type": "orchestration.stack.update.end", "timestamp": "yesterday",
        "payload": {"stack_name": "no identity"}})})])
    wait_for(lambda: any(d["message_id"] == broken_id for d in hs.store().dead_letters()), 60,
             "the dead letter")
    # the listener goes on
    sid = create(alpha, unique("after-bad"), "slow.yaml", parameters={"wait": 0})
    try:
        wait_heat(alpha, sid, "CREATE_COMPLETE")
        converge(hs, alpha, sid)
        assert hs.listener.poll() is None
    finally:
        delete_all(alpha, [sid])


def test_killed_listener_loses_nothing(heat, make_heatseeker):
    alpha = heat("alpha")
    hs = make_heatseeker()
    hs.start_listener()
    # 15 s in progress: the listener must read it meanwhile, with the other test stream's syncs
    # reading the same heat-api (5 s was missed once in a while)
    sid = create(alpha, unique("killed"), "slow.yaml", parameters={"wait": 15})
    try:
        wait_for(lambda: hs.indexed_status(sid) == "CREATE_IN_PROGRESS", 60, "create in progress")
        hs.kill_listener()  # SIGKILL mid-stream: whatever was not acknowledged is redelivered
        assert heat_status(alpha, sid) == "CREATE_IN_PROGRESS", "killed after the create ended"
        wait_heat(alpha, sid, "CREATE_COMPLETE")
        tpl, files, env = contents("slow.yaml")
        alpha.stacks.update(sid, template=tpl, files=files, environment=env,
                            parameters={"wait": 0, "image": "fedora-41"})
        wait_heat(alpha, sid, "UPDATE_COMPLETE")
        assert hs.indexed_status(sid) == "CREATE_IN_PROGRESS"  # nobody listened meanwhile
        hs.start_listener()
        converge(hs, alpha, sid)
        wait_for(lambda: hs.indexed(sid)["parameters"]["image"] == "fedora-41", 60, "new image")
    finally:
        delete_all(alpha, [sid])


@pytest.mark.alone  # restarts RabbitMQ and the sandbox's heat-engine
def test_rabbitmq_restart(heat, make_heatseeker):
    alpha = heat("alpha")
    hs = make_heatseeker()
    hs.start_listener()
    ctl("rabbitmq-restart")
    wait_for(hs.queue_exists, 120, "the listener to reconnect and declare its queue again")
    sid = wait_for(lambda: _try_create(alpha), 120, "Heat to accept a create after the restart")
    try:
        wait_heat(alpha, sid, "CREATE_COMPLETE")
        converge(hs, alpha, sid, timeout=120)
        assert hs.listener.poll() is None
    finally:
        delete_all(alpha, [sid])


def _try_create(hc):
    try:
        return create(hc, unique("after-restart"), "slow.yaml", parameters={"wait": 0})
    except Exception:  # noqa: BLE001 - Heat's own reconnect may take a moment
        return None


@pytest.mark.alone  # stops the sandbox's heat-api
def test_heat_api_outage_requeues(heat, make_heatseeker):
    alpha = heat("alpha")
    hs = make_heatseeker()
    hs.start_listener()
    sid = create(alpha, unique("outage"), "slow.yaml", parameters={"wait": 6})
    try:
        wait_for(lambda: hs.indexed_status(sid) == "CREATE_IN_PROGRESS", 60, "create in progress")
        ctl("heat-api-stop")
        try:
            # heat-engine finishes the create and notifies while nobody can read the API
            time.sleep(10)
            assert hs.indexed_status(sid) != "CREATE_COMPLETE"
            assert hs.listener.poll() is None
        finally:
            ctl("heat-api-start")
        converge(hs, alpha, sid, timeout=120)
        assert hs.indexed_status(sid) == "CREATE_COMPLETE"
    finally:
        delete_all(alpha, [sid])


@pytest.fixture(autouse=True)
def _no_leftover_outage():
    yield
    # whatever a test did, leave the API and the broker up for the next one
    if subprocess.run(["bash", CTL, "status"], capture_output=True).returncode != 0:
        subprocess.run(["bash", os.path.join(ROOT, "tools", "sandbox", "start.sh")], check=True,
                       timeout=300)
