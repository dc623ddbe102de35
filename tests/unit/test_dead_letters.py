"""A dead letter keeps what diagnoses a message, never the credentials its context carries."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import oslo_messaging
from hypothesis import given, settings
from hypothesis import strategies as st

from heatseeker.heat import events
from heatseeker.indexer import Indexer
from heatseeker.listener import POISON_LIMIT, Handler
from heatseeker.record import Store

from .fakes import FakeHeat, notification

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "heat-27.0.1"
TOKEN = "gAAAAABnSECRETTOKENvalue0123456789"
PASSWORD = "s3cr3t-Pa55word"

CREDENTIALS = {
    "auth_token": TOKEN,
    "auth_token_info": {"token": {"catalog": [], "id": TOKEN}},
    "password": PASSWORD,
    "aws_creds": {"access": "AKIA", "secret": PASSWORD},
    "trust_id": "trust-" + TOKEN,
    "trustor_user_id": "u",
    "auth_url": "http://keystone.example/v3?token=" + TOKEN,
}


def _wire() -> dict:
    with open(FIXTURES / "notifications.jsonl") as f:
        line = json.loads(f.readline())
    msg = copy.deepcopy(line)
    for key, value in CREDENTIALS.items():
        msg["msg"]["_context_" + key] = value
    return msg


def _disk_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_listener_shape_keeps_who_and_which_request_and_drops_credentials():
    msg = events.from_wire(_wire())
    kept = events.for_the_record(msg)
    text = json.dumps(kept)
    assert TOKEN not in text and PASSWORD not in text
    assert kept["ctxt"]["request_id"] == msg["ctxt"]["request_id"]
    assert kept["ctxt"]["project_id"] == msg["ctxt"]["project_id"]
    assert kept["event_type"] == msg["event_type"] and kept["payload"] == msg["payload"]
    assert kept["metadata"] == msg["metadata"]


def test_raw_wire_shapes_drop_credentials():
    wire = _wire()
    for body in (wire, wire["msg"], {"oslo.version": "2.0", "oslo.message": json.dumps(wire["msg"])},
                 json.dumps(wire["msg"]).encode()):
        text = json.dumps(events.for_the_record(body))
        assert TOKEN not in text and PASSWORD not in text, body
        assert wire["msg"]["_context_request_id"] in text


def test_text_that_is_not_json_has_credential_assignments_redacted():
    raw = f"garbage auth_token={TOKEN} 'password': '{PASSWORD}' then more"
    kept = events.for_the_record(raw)
    assert TOKEN not in kept and PASSWORD not in kept and "garbage" in kept


@settings(max_examples=200, deadline=None)
@given(
    extra=st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=8), max_size=5),
    keys=st.lists(st.sampled_from(sorted(CREDENTIALS)), min_size=1, unique=True),
)
def test_no_context_credential_survives(extra, keys):
    ctxt = {**extra, **{k: CREDENTIALS[k] for k in keys}, "request_id": "req-1"}
    msg = {"ctxt": ctxt, "event_type": "orchestration.stack.create.end", "payload": {},
           "metadata": {"message_id": "m"}}
    kept = json.dumps(events.for_the_record(msg))
    assert TOKEN not in kept and PASSWORD not in kept and "req-1" in kept


def _handler(tmp_path):
    heat = FakeHeat()
    store = Store(str(tmp_path / "data" / "state.sqlite"))
    return Handler(store, Indexer(store, heat), sleep=lambda s: None), store


def test_a_malformed_message_is_dead_lettered_without_its_token(tmp_path):
    h, store = _handler(tmp_path)
    bad = events.from_wire(_wire())
    bad["payload"] = {"stack_name": "no id"}
    assert h([bad]) == oslo_messaging.NotificationResult.HANDLED
    letter = store.dead_letters()[0]
    assert letter["message_id"] == bad["metadata"]["message_id"]
    assert bad["ctxt"]["request_id"] in letter["body"]
    store.close()
    disk = _disk_bytes(tmp_path / "data")
    assert TOKEN.encode() not in disk and PASSWORD.encode() not in disk


def test_a_poison_message_is_dead_lettered_without_its_token(tmp_path, monkeypatch):
    h, store = _handler(tmp_path)

    def boom(_):
        raise RuntimeError("bug")

    monkeypatch.setattr(h.indexer, "apply_events", boom)
    msg = notification("root", "web", "create", "end", mid="poison")
    msg["ctxt"].update(CREDENTIALS)
    for _ in range(POISON_LIMIT):
        h([msg])
    assert store.dead_letters()[0]["message_id"] == "poison"
    store.close()
    disk = _disk_bytes(tmp_path / "data")
    assert TOKEN.encode() not in disk and PASSWORD.encode() not in disk


def test_an_unreadable_raw_message_is_dead_lettered_without_its_token(tmp_path):
    h, store = _handler(tmp_path)
    h.dead_letter("raw-1", "not a notification", _wire()["msg"])
    assert store.dead_letters()[0]["message_id"] == "raw-1"
    store.close()
    disk = _disk_bytes(tmp_path / "data")
    assert TOKEN.encode() not in disk and PASSWORD.encode() not in disk
