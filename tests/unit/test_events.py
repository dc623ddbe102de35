"""heatseeker/heat/events.py: notifications → StackEvent."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatseeker.heat import events
from heatseeker.heat.events import MalformedEvent, StackEvent, from_wire, parse

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "heat-27.0.1"


def _wire_lines() -> list[dict]:
    with open(FIXTURES / "notifications.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]


WIRE = _wire_lines()


def _first(event_type: str) -> dict:
    return from_wire(next(w for w in WIRE if w["msg"]["event_type"] == event_type))


def _message(**overrides) -> dict:
    msg = copy.deepcopy(_first("orchestration.stack.update.end"))
    for key, value in overrides.items():
        msg[key] = value
    return msg


# -- the captured fixtures ----------------------------------------------------------------------


def test_every_fixture_notification_parses():
    kinds: Counter = Counter()
    for wire in WIRE:
        msg = from_wire(wire)
        ev = parse(msg)
        assert isinstance(ev, StackEvent), wire
        payload = wire["msg"]["payload"]
        assert ev.stack_id == payload["stack_identity"]
        assert ev.stack_name == payload["stack_name"]
        assert ev.kind == "stack"
        _, _, action, phase = wire["msg"]["event_type"].split(".")
        assert ev.action == action.upper()
        assert ev.phase == phase
        assert ev.state == payload["state"]
        assert ev.state.startswith(ev.action + "_")
        assert ev.status_reason == payload["state_reason"]
        assert ev.message_id == wire["msg"]["message_id"]
        assert ev.request_id == wire["msg"]["_context_request_id"]
        assert ev.acting_project == payload["tenant_id"]
        assert ev.user == payload["username"]
        assert ev.tags == tuple(payload["tags"] or ())
        assert ev.updated_at == payload["updated_at"]
        assert ev.description == payload.get("description")
        assert ev.is_known_action
        kinds[(ev.action, ev.phase)] += 1
    assert {a for a, _ in kinds} == {"CREATE", "UPDATE", "DELETE", "SUSPEND", "RESUME"}
    assert {p for _, p in kinds} == {"start", "end"}


def test_from_wire_gives_the_listener_shape():
    wire = WIRE[0]
    msg = from_wire(wire)
    assert set(msg) == {"ctxt", "publisher_id", "event_type", "payload", "metadata", "priority"}
    assert msg["publisher_id"] == "orchestration.heatlab"
    assert msg["event_type"] == "orchestration.stack.create.start"
    assert msg["metadata"] == {
        "message_id": "5c7eecc2-2e15-4a07-a98f-6a920141f673",
        "timestamp": "2026-11-25 07:31:45.425762",
    }
    assert msg["ctxt"]["request_id"] == "req-ff04c1cb-23b1-41cc-b115-78d9d8c4c276"
    assert msg["ctxt"]["project_id"] == "admin"
    assert msg["ctxt"]["roles"] == ["admin"]
    assert not any(k.startswith("_context_") for k in msg["ctxt"])
    assert msg["priority"] == "INFO"
    # the three accepted inputs give the same result
    assert from_wire(wire["msg"]) == msg
    on_the_bus = {"oslo.version": "2.0", "oslo.message": json.dumps(wire["msg"])}
    assert from_wire(on_the_bus) == msg


def test_from_wire_rejects_garbage():
    with pytest.raises(MalformedEvent):
        from_wire({"oslo.version": "2.0", "oslo.message": "{not json"})
    with pytest.raises(MalformedEvent):
        from_wire({"oslo.version": "2.0", "oslo.message": "[1, 2]"})
    with pytest.raises(MalformedEvent):
        from_wire("nope")  # type: ignore[arg-type]


def test_backup_stacks_are_flagged():
    ev = parse(_message(payload=dict(_message()["payload"], stack_name="lab1*")))
    assert ev is not None and ev.is_backup
    assert not parse(_message()).is_backup


def test_timestamp_is_utc_microseconds():
    ev = parse(_first("orchestration.stack.create.start"))
    # 2026-11-25 07:31:45.425762 UTC
    assert ev.timestamp == 1795591905425762
    zoned = _message(metadata={"message_id": "m", "timestamp": "2026-11-25T08:31:45.425762+01:00"})
    assert parse(zoned).timestamp == 1795591905425762
    whole = _message(metadata={"message_id": "m", "timestamp": "2026-11-25 07:31:45"})
    assert parse(whole).timestamp == 1795591905000000


# -- event types and phases ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "event_type",
    [
        "compute.instance.create.end",
        "orchestration.resource.create.end",
        "orchestration.stackx.create.end",
        "orchestration",
        "",
        "identity.project.deleted",
    ],
)
def test_other_event_types_are_not_handled(event_type):
    assert parse(_message(event_type=event_type)) is None


@pytest.mark.parametrize("event_type", [None, 3, ["orchestration.stack.create.end"]])
def test_no_event_type_is_not_ours(event_type):
    assert parse(_message(event_type=event_type)) is None


@pytest.mark.parametrize(
    "action",
    [
        "create",
        "update",
        "delete",
        "rollback",
        "suspend",
        "resume",
        "adopt",
        "snapshot",
        "check",
        "restore",
    ],
)
@pytest.mark.parametrize("phase", ["start", "end", "error"])
def test_every_action_and_phase(action, phase):
    status = {"start": "IN_PROGRESS", "end": "COMPLETE", "error": "FAILED"}[phase]
    payload = dict(_message()["payload"], state=f"{action.upper()}_{status}")
    ev = parse(_message(event_type=f"orchestration.stack.{action}.{phase}", payload=payload))
    assert (ev.kind, ev.action, ev.phase, ev.state) == (
        "stack",
        action.upper(),
        phase,
        f"{action.upper()}_{status}",
    )
    assert ev.is_known_action


def test_error_priority_message():
    """A FAILED stack is announced with priority ERROR on notifications.error (as on the bus)."""
    wire = copy.deepcopy(
        next(w for w in WIRE if w["msg"]["event_type"] == "orchestration.stack.create.end")
    )
    wire["routing_key"] = "notifications.error"
    wire["msg"].update(priority="ERROR", event_type="orchestration.stack.create.error")
    wire["msg"]["payload"].update(
        state="CREATE_FAILED", state_reason="Resource CREATE failed: boom"
    )
    msg = from_wire(wire)
    assert msg["priority"] == "ERROR"
    ev = parse(msg)
    assert (ev.action, ev.phase, ev.state, ev.status_reason) == (
        "CREATE",
        "error",
        "CREATE_FAILED",
        "Resource CREATE failed: boom",
    )


def test_unknown_action_is_a_look_again_event():
    ev = parse(_message(event_type="orchestration.stack.migrate.end"))
    assert ev is not None
    assert ev.action == "MIGRATE" and ev.phase == "end"
    assert not ev.is_known_action


def test_unusable_state_becomes_none():
    payload = dict(_message()["payload"], state="Unknown")
    assert parse(_message(payload=payload)).state is None
    payload = dict(_message()["payload"], state=None)
    assert parse(_message(payload=payload)).state is None


def test_arn_stack_identity():
    arn = "arn:openstack:heat::3c5a%20proj:stacks/my_stack/0e4d2f0a-6b43-4b9f-9ae3-3f0e0b4b1c2d"
    payload = dict(_message()["payload"], stack_identity=arn)
    ev = parse(_message(payload=payload))
    assert ev.stack_id == "0e4d2f0a-6b43-4b9f-9ae3-3f0e0b4b1c2d"
    with_path = arn + "/resources/server"
    assert parse(_message(payload=dict(payload, stack_identity=with_path))).stack_id == ev.stack_id


def test_autoscaling_event():
    """Payload as heat/engine/notification/autoscaling.py builds it: the containing stack's body."""
    base = _message()
    payload = dict(
        base["payload"],
        stack_identity="5eda779b-4aac-4e51-835f-40ce24c5a0b7",
        stack_name="asg-stack",
        state="UPDATE_COMPLETE",
        adjustment=1,
        adjustment_type="change_in_capacity",
        capacity=2,
        groupname="asg-stack-group-abcdef",
        message="Start resizing the group asg-stack-group-abcdef",
    )
    for phase in ("start", "end", "error"):
        ev = parse(_message(event_type=f"orchestration.autoscaling.{phase}", payload=payload))
        assert ev.kind == "autoscaling"
        assert ev.action == "AUTOSCALE"
        assert ev.phase == phase
        assert ev.stack_id == "5eda779b-4aac-4e51-835f-40ce24c5a0b7"
        assert ev.state is None  # the containing stack's state says nothing about the resize
        assert ev.status_reason == "Start resizing the group asg-stack-group-abcdef"
        assert ev.is_known_action


# -- malformed ---------------------------------------------------------------------------------


def _payload(**changes):
    payload = dict(_message()["payload"])
    for k, v in changes.items():
        if v is _DROP:
            payload.pop(k, None)
        else:
            payload[k] = v
    return payload


_DROP = object()


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"payload": "not a dict"}, "payload is not a dict"),
        ({"payload": None}, "payload is not a dict"),
        ({"payload": _payload(stack_identity=_DROP)}, "stack_identity"),
        ({"payload": _payload(stack_identity="")}, "stack_identity"),
        ({"payload": _payload(stack_identity=42)}, "stack_identity"),
        ({"payload": _payload(stack_identity="../../etc")}, "bad stack id"),
        ({"payload": _payload(stack_identity="arn:openstack:heat::t:nope")}, "ARN"),
        ({"payload": _payload(stack_name=_DROP)}, "stack_name"),
        ({"payload": _payload(stack_name="")}, "stack_name"),
        ({"metadata": {"message_id": "m", "timestamp": "yesterday"}}, "timestamp"),
        ({"metadata": {"message_id": "m", "timestamp": None}}, "timestamp"),
        ({"metadata": {"message_id": "m"}}, "timestamp"),
        ({"metadata": {"timestamp": "2026-11-25 07:31:45.425762"}}, "message_id"),
        ({"event_type": "orchestration.stack.update.finish"}, "phase"),
        ({"event_type": "orchestration.stack.update"}, "event type"),
        ({"event_type": "orchestration.stack.update.end.extra"}, "event type"),
        ({"event_type": "orchestration.stack..end"}, "action"),
        ({"event_type": "orchestration.stack.up date.end"}, "action"),
        ({"event_type": "orchestration.autoscaling.middle"}, "phase"),
        ({"event_type": "orchestration.autoscaling"}, None),  # no trailing dot: not ours
    ],
)
def test_malformed_messages(overrides, fragment):
    msg = _message(**overrides)
    if fragment is None:
        assert parse(msg) is None
        return
    with pytest.raises(MalformedEvent) as info:
        parse(msg)
    assert fragment in str(info.value)
    if "message_id" not in fragment:
        assert info.value.message_id == msg["metadata"].get("message_id")


def test_not_a_dict_is_malformed():
    with pytest.raises(MalformedEvent):
        parse(["orchestration.stack.create.end"])  # type: ignore[arg-type]


def test_lenient_optional_fields():
    payload = _payload(
        tags="not-a-list", description=3, updated_at=1, tenant_id=None, username=None, user_id="u"
    )
    msg = _message(payload=payload, ctxt="not a dict")
    ev = parse(msg)
    assert ev.tags is None and ev.description is None and ev.updated_at is None
    assert ev.acting_project is None and ev.user == "u" and ev.request_id is None


def test_events_are_frozen_and_hashable():
    ev = parse(_message())
    with pytest.raises(AttributeError):
        ev.stack_id = "other"  # type: ignore[misc]
    assert hash(ev) == hash(parse(_message()))


# -- hypothesis: anything in, only None / StackEvent / MalformedEvent out -------------------------

_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=10,
)
_event_types = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda a, p: f"orchestration.stack.{a}.{p}", st.text(max_size=10), st.text(max_size=8)
    ),
    st.builds(lambda p: f"orchestration.autoscaling.{p}", st.text(max_size=8)),
    st.sampled_from(["orchestration.stack.create.end", "orchestration.autoscaling.start"]),
    _values,
)
_payloads = st.one_of(
    _values,
    st.fixed_dictionaries(
        {},
        optional={
            "stack_identity": st.one_of(st.uuids().map(str), st.text(max_size=60), _values),
            "stack_name": st.one_of(st.text(max_size=20), _values),
            "state": st.one_of(st.sampled_from(["CREATE_COMPLETE", "Unknown"]), _values),
            "state_reason": _values,
            "tenant_id": _values,
            "tags": _values,
            "message": _values,
        },
    ),
)
_metadata = st.one_of(
    _values,
    st.fixed_dictionaries(
        {},
        optional={
            "message_id": st.one_of(st.text(max_size=10), _values),
            "timestamp": st.one_of(
                st.datetimes().map(str),
                st.sampled_from(["2026-11-25 07:31:45.425762"]),
                st.text(max_size=30),
                _values,
            ),
        },
    ),
)


@settings(max_examples=400, deadline=None)
@given(
    message=st.fixed_dictionaries(
        {},
        optional={
            "ctxt": _values,
            "publisher_id": _values,
            "event_type": _event_types,
            "payload": _payloads,
            "metadata": _metadata,
            "message_id": _values,
            "timestamp": _values,
        },
    )
)
def test_arbitrary_messages_never_raise_anything_else(message):
    try:
        result = parse(message)
    except MalformedEvent:
        return
    assert result is None or isinstance(result, StackEvent)
    if result is not None:
        assert result.phase in events.PHASES
        assert result.stack_id and "/" not in result.stack_id
        assert isinstance(result.timestamp, int)


@settings(max_examples=200, deadline=None)
@given(message=st.dictionaries(st.text(max_size=12), _values, max_size=6))
def test_arbitrary_dicts(message):
    try:
        result = parse(message)
    except MalformedEvent:
        return
    assert result is None or isinstance(result, StackEvent)


# -- fixtures captured from the project's own sandbox (tools/sandbox/capture.py) --------------------

LIVE = Path(__file__).resolve().parent.parent / "fixtures" / "heat-27" / "notifications.jsonl"


def test_live_capture_parses_including_the_error_priority():
    lines = [json.loads(line) for line in LIVE.read_text().splitlines() if line.strip()]
    assert lines
    errors = 0
    for wire in lines:
        msg = from_wire(wire)
        ev = parse(msg)
        assert isinstance(ev, StackEvent)
        assert ev.state is not None and ev.state.startswith(ev.action + "_")
        if msg["priority"] == "ERROR":
            errors += 1
            assert ev.phase == "error" and ev.state.endswith("_FAILED")
        else:
            assert ev.phase in ("start", "end")
    assert errors >= 1
