"""Heat notifications → typed events.

Heat sends ``orchestration.stack.<action>.<start|end|error>`` for every stack (nested and backup
stacks included) and ``orchestration.autoscaling.<start|end|error>`` around a scaling group's resize.
The payload (``heat/engine/api.py:format_notification_body``) names the stack (``stack_identity``:
a bare UUID since Liberty, an ARN before) and its new state, but never its owner, parent, template,
parameters, resources or outputs: an event only says *which* stack to read again, and which state it
reached (the notification is sent before Heat writes that state, so it may be newer than a read).

For autoscaling events the payload is the same body, built for the stack that *contains* the
scaling group resource, plus ``adjustment``, ``adjustment_type``, ``capacity``, ``groupname`` and
``message`` (``heat/engine/notification/autoscaling.py``); the group's own nested stack sends its
own ``orchestration.stack.update.*`` events. Its ``state`` is that containing stack's, unchanged by
the resize, so heatseeker does not use it (``StackEvent.state`` is None).

``parse`` takes what oslo.messaging's batch notification listener hands an endpoint::

    {"ctxt": {...}, "publisher_id": str, "event_type": str, "payload": {...},
     "metadata": {"message_id": str, "timestamp": "2026-11-25 07:31:45.425762"}}

``from_wire`` converts a raw message (as captured from the bus) into that shape.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib import parse as urlparse

STACK_PREFIX = "orchestration.stack."
AUTOSCALING_PREFIX = "orchestration.autoscaling."

KIND_STACK = "stack"
KIND_AUTOSCALING = "autoscaling"
AUTOSCALE = "AUTOSCALE"

PHASES = ("start", "end", "error")

# Actions Heat sends today; any other well-formed action is still accepted (forward compatibility).
KNOWN_ACTIONS = frozenset(
    {
        "CREATE",
        "UPDATE",
        "DELETE",
        "ROLLBACK",
        "SUSPEND",
        "RESUME",
        "ADOPT",
        "SNAPSHOT",
        "CHECK",
        "RESTORE",
    }
)

_ACTION_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_STATE_RE = re.compile(r"^[A-Z][A-Z0-9]*_(IN_PROGRESS|COMPLETE|FAILED)$")
# A stack id ends up in an API path: letters, digits, '-', '_', '.' only (Heat's are UUIDs).
_STACK_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
# HeatIdentifier.arn(): arn:openstack:heat::<tenant>:stacks/<name>/<id>[/<path>]
_ARN_RE = re.compile(r"^arn:openstack:heat:[^:]*:[^:]*:stacks/([^/]+)/([^/]+)(?:/.*)?$", re.S)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


# Heat writes an action's new content (template, environment, parameters) before it stamps and
# sends the action's start notification: a read made up to this long before a start may already
# show that start's content (measured 34 ms on a quiet 2-core sandbox; a busy heat-engine takes
# longer). The indexer reads a start that comes this soon after the stack's last change, and
# history judges what each read observed with it (history/service.py).
CONTENT_BEFORE_START_US = 5_000_000


class MalformedEvent(ValueError):
    """A message that claims to be a Heat stack notification but cannot be understood."""

    def __init__(self, message: str, message_id: str | None = None):
        super().__init__(f"{message} (message_id {message_id})" if message_id else message)
        self.message_id = message_id


@dataclass(frozen=True)
class StackEvent:
    stack_id: str
    stack_name: str
    kind: str  # KIND_STACK or KIND_AUTOSCALING
    action: str  # upper case: CREATE, UPDATE, … (any well-formed action); AUTOSCALE for autoscaling
    phase: str  # "start" | "end" | "error"
    state: str | None  # e.g. "UPDATE_COMPLETE"; None for autoscaling (and for an unusable state)
    status_reason: str | None  # stack: state_reason; autoscaling: the payload's message
    timestamp: int  # microseconds since the epoch, UTC (the notification's timestamp)
    message_id: str
    request_id: str | None
    acting_project: str | None  # payload tenant_id: who ACTED, not who owns the stack
    user: str | None
    description: str | None
    tags: tuple[str, ...] | None
    updated_at: str | None
    user_id: str | None = None  # payload user_id (``user`` is the name when there is one)

    @property
    def is_backup(self) -> bool:
        """Heat's backup stack of an update (``<name>*``): heatseeker ignores these."""
        return self.stack_name.endswith("*")

    @property
    def is_known_action(self) -> bool:
        return self.kind == KIND_AUTOSCALING or self.action in KNOWN_ACTIONS

    # What an event says about its stack (the indexer's decisions read these, never the strings).

    @property
    def is_start(self) -> bool:
        """A stack action began (``orchestration.stack.<action>.start``): the state changes, the
        content not yet."""
        return self.kind == KIND_STACK and self.phase == "start"

    @property
    def is_final(self) -> bool:
        """A stack action finished (``end`` or ``error``): the stack is worth reading again."""
        return self.kind == KIND_STACK and self.phase in ("end", "error")

    @property
    def is_tombstone(self) -> bool:
        """``orchestration.stack.delete.end``: the stack is gone for good (Heat never reuses an
        id)."""
        return self.kind == KIND_STACK and self.action == "DELETE" and self.phase == "end"

    def newer_state(self, read_status: str | None) -> str | None:
        """The state this event reached, when a read of its stack does not show it yet: Heat
        notifies an action's end *before* it writes the state, so a read that still shows the
        action in progress is older than the event. A start read (back to back: the indexer
        reads it) that shows neither this action in progress nor its end shows the state before
        it. None otherwise (the read is as new, or newer: the action already ended)."""
        if (self.is_final and self.state and read_status == f"{self.action}_IN_PROGRESS"
                and self.state != read_status):
            return self.state
        if (self.is_start and self.state and read_status is not None
                and not read_status.startswith(f"{self.action}_")):
            return self.state
        return None


def parse_timestamp(value: Any) -> int:
    """Microseconds since the epoch for an oslo.messaging timestamp (UTC when it has no zone)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"timestamp is not a string: {value!r}")
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"bad timestamp {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // _MICROSECOND


def stack_id_from_identity(identity: Any) -> str:
    """The stack id from a payload's ``stack_identity`` (bare id, ARN, or identifier dict)."""
    if isinstance(identity, dict):
        identity = identity.get("stack_id")
    if not isinstance(identity, str) or not identity:
        raise ValueError(f"missing or empty stack_identity: {identity!r}")
    if identity.startswith("arn:"):
        m = _ARN_RE.match(identity)
        if not m:
            raise ValueError(f"unrecognised stack ARN {identity!r}")
        identity = urlparse.unquote(m.group(2))
    if not _STACK_ID_RE.match(identity):
        raise ValueError(f"bad stack id {identity!r}")
    return identity


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _tags(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list | tuple):
        return tuple(t if isinstance(t, str) else json.dumps(t) for t in value if t is not None)
    return None


def parse(message: dict) -> StackEvent | None:
    """A listener message → StackEvent; None if heatseeker does not handle its event type.

    Raises MalformedEvent for a message that claims to be a stack/autoscaling notification but is
    broken (payload not a dict, missing stack_identity, bad timestamp, unknown phase, …).
    """
    if not isinstance(message, dict):
        raise MalformedEvent(f"notification is not a dict: {type(message).__name__}")
    metadata = message.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    message_id = metadata.get("message_id", message.get("message_id"))
    message_id = message_id if isinstance(message_id, str) and message_id else None

    event_type = message.get("event_type")
    if not isinstance(event_type, str):
        return None
    if event_type.startswith(STACK_PREFIX):
        kind = KIND_STACK
        parts = event_type[len(STACK_PREFIX) :].split(".")
        if len(parts) != 2:
            raise MalformedEvent(f"bad event type {event_type!r}", message_id)
        action, phase = parts
        if not _ACTION_RE.match(action):
            raise MalformedEvent(f"bad action in event type {event_type!r}", message_id)
        action = action.upper()
    elif event_type.startswith(AUTOSCALING_PREFIX):
        kind = KIND_AUTOSCALING
        phase = event_type[len(AUTOSCALING_PREFIX) :]
        action = AUTOSCALE
    else:
        return None
    if phase not in PHASES:
        raise MalformedEvent(f"unknown phase in event type {event_type!r}", message_id)

    def bad(what: str) -> MalformedEvent:
        return MalformedEvent(f"{event_type}: {what}", message_id)

    if message_id is None:
        raise bad("missing message_id")
    try:
        timestamp = parse_timestamp(metadata.get("timestamp", message.get("timestamp")))
    except (ValueError, OverflowError) as exc:
        raise bad(str(exc)) from None

    payload = message.get("payload")
    if not isinstance(payload, dict):
        raise bad(f"payload is not a dict: {type(payload).__name__}")
    try:
        stack_id = stack_id_from_identity(payload.get("stack_identity"))
    except ValueError as exc:
        raise bad(str(exc)) from None
    stack_name = payload.get("stack_name")
    if not isinstance(stack_name, str) or not stack_name:
        raise bad(f"missing or empty stack_name: {stack_name!r}")

    if kind == KIND_STACK:
        state = _str_or_none(payload.get("state"))
        if state is not None and not _STATE_RE.match(state):
            state = None  # e.g. "Unknown": says nothing heatseeker can overlay
        status_reason = _str_or_none(payload.get("state_reason"))
    else:
        state = None
        status_reason = _str_or_none(payload.get("message"))

    ctxt = message.get("ctxt")
    request_id = _str_or_none(ctxt.get("request_id")) if isinstance(ctxt, dict) else None
    user = _str_or_none(payload.get("username")) or _str_or_none(payload.get("user_id"))
    return StackEvent(
        stack_id=stack_id,
        stack_name=stack_name,
        kind=kind,
        action=action,
        phase=phase,
        state=state,
        status_reason=status_reason,
        timestamp=timestamp,
        message_id=message_id,
        request_id=request_id,
        acting_project=_str_or_none(payload.get("tenant_id")),
        user=user,
        description=_str_or_none(payload.get("description")),
        tags=_tags(payload.get("tags")),
        updated_at=_str_or_none(payload.get("updated_at")),
        # Heat's payload ``user_id`` holds the user NAME (stack.username); behind Keystone the
        # user's id is ``user_identity`` (the context's user id)
        user_id=_str_or_none(payload.get("user_identity")) or _str_or_none(payload.get("user_id")),
    )


CONTEXT_PREFIX = "_context_"


def from_wire(msg: dict) -> dict:
    """A raw notification (as on the bus) → the dict oslo.messaging's listener hands an endpoint.

    Accepts the wire body ``{"oslo.version": "2.0", "oslo.message": "<json>"}``, a captured fixture
    line ``{"routing_key", "oslo.version", "msg": {...}}``, or the decoded message itself. The
    result also carries ``priority`` (the listener passes it separately).
    """
    if not isinstance(msg, dict):
        raise MalformedEvent(f"raw notification is not a dict: {type(msg).__name__}")
    inner: Any = msg
    if "oslo.message" in msg:
        try:
            inner = json.loads(msg["oslo.message"])
        except (TypeError, ValueError) as exc:
            raise MalformedEvent(f"oslo.message is not JSON: {exc}") from None
    elif isinstance(msg.get("msg"), dict):
        inner = msg["msg"]
    if not isinstance(inner, dict):
        raise MalformedEvent(f"raw notification body is not a dict: {type(inner).__name__}")
    ctxt = {k[len(CONTEXT_PREFIX) :]: v for k, v in inner.items() if k.startswith(CONTEXT_PREFIX)}
    return {
        "ctxt": ctxt,
        "publisher_id": inner.get("publisher_id"),
        "event_type": inner.get("event_type"),
        "payload": inner.get("payload"),
        "metadata": {"message_id": inner.get("message_id"), "timestamp": inner.get("timestamp")},
        "priority": inner.get("priority"),
    }


# -- what a dead letter keeps ----------------------------------------------------------------------

# The context fields that say who sent a message and in which request: enough to diagnose it.
# Everything else in a context (auth_token, auth_token_info with its catalog, password, aws_creds,
# trust ids, roles …) is dropped: a dead letter is kept at rest, and credentials never are.
DIAGNOSTIC_CONTEXT = frozenset(
    {
        "request_id",
        "global_request_id",
        "user",
        "user_id",
        "user_name",
        "username",
        "project",
        "project_id",
        "project_name",
        "tenant",
        "tenant_id",
        "domain",
        "user_domain",
        "project_domain",
        "is_admin",
        "read_only",
    }
)
_TOP_LEVEL = ("publisher_id", "event_type", "priority", "message_id", "timestamp", "payload",
              "metadata")
# In text that could not be parsed: anything that looks like a credential assignment.
_CREDENTIAL_TEXT = re.compile(
    r"""(?ix)
    (["']?(?:_context_)?(?:auth_token|auth_token_info|token|password|passwd|secret|aws_creds
          |trust_id|x-auth-token|signature|temp_url_sig)["']?\s*[:=]\s*)
    ("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\{[^}]*\}?|[^\s,;}&]+)
    """
)


def for_the_record(message: Any) -> Any:
    """The part of a message a dead letter keeps: what it is, where it came from, its payload and
    who sent it (``DIAGNOSTIC_CONTEXT``), never the credentials its context carries.

    Takes any shape the bus or the listener may hand over (see ``from_wire``); a body that is not a
    dict is kept as text with credential-looking assignments redacted.
    """
    if isinstance(message, (bytes, bytearray)):
        message = bytes(message).decode("utf-8", "replace")
    if isinstance(message, str):
        try:
            decoded = json.loads(message)
        except ValueError:
            return _CREDENTIAL_TEXT.sub(lambda m: m.group(1) + '"***"', message)
        return for_the_record(decoded) if isinstance(decoded, dict) else decoded
    if not isinstance(message, dict):
        return _CREDENTIAL_TEXT.sub(lambda m: m.group(1) + '"***"', repr(message))
    if "oslo.message" in message:
        return {"oslo.message": for_the_record(message["oslo.message"])}
    if isinstance(message.get("msg"), dict):
        return {"msg": for_the_record(message["msg"])}
    kept: dict[str, Any] = {k: message[k] for k in _TOP_LEVEL if k in message}
    ctxt = message.get("ctxt", message.get("context"))
    if isinstance(ctxt, dict):
        kept["ctxt"] = {k: v for k, v in ctxt.items() if k in DIAGNOSTIC_CONTEXT}
    for key, value in message.items():
        if key.startswith(CONTEXT_PREFIX) and key[len(CONTEXT_PREFIX) :] in DIAGNOSTIC_CONTEXT:
            kept[key] = value
    dropped = sorted(k for k in message if k not in kept and k not in ("ctxt", "context")
                     and not k.startswith(CONTEXT_PREFIX))
    if dropped:
        kept["dropped_keys"] = dropped
    return kept
