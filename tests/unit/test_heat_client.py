"""heatseeker/heat/client.py (THE SOURCE) and heatseeker/retry.py.

Two fakes: a fake heatclient serving the captured fixtures (fast, precise failure injection), and a
small local HTTP server speaking Heat's (and Keystone's) REST API, to check the real heatclient and
keystoneauth1 wiring of ``HeatSource.from_conf``.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib import parse

import pytest
import requests
from heatclient import exc as heat_exc
from keystoneauth1 import exceptions as ks_exc

from heatseeker import retry as retry_mod
from heatseeker.config import new_conf
from heatseeker.heat.client import (
    POOL_SPARE,
    TORN_READ_ATTEMPTS,
    HeatError,
    HeatForbidden,
    HeatSource,
    HeatUnavailable,
    KeystoneUnavailable,
    StackSnapshot,
    torn,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "heat-27.0.1"
API = FIXTURES / "api"
LAB1 = "bd43fa04-1c84-4d0d-9b98-f5ddc36ddc6f"


def _json(name):
    return json.loads((API / name).read_text())


def _now_us() -> int:
    return time.time_ns() // 1000


# -- retry.py ---------------------------------------------------------------------------------


class Flaky:
    def __init__(self, failures, result="ok"):
        self.failures = list(failures)
        self.calls = 0
        self.result = result

    def __call__(self):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.result


def test_retry_returns_after_transient_failures_with_exponential_backoff():
    sleeps: list[float] = []
    fn = Flaky([OSError("a"), OSError("b"), OSError("c")])
    assert (
        retry_mod.retry(fn, attempts=5, backoff=0.5, retry_on=lambda e: True, sleep=sleeps.append)
        == "ok"
    )
    assert fn.calls == 4
    assert len(sleeps) == 3
    for pause, base in zip(sleeps, [0.5, 1.0, 2.0], strict=True):
        assert base <= pause <= base * (1 + retry_mod.JITTER)


def test_retry_reraises_the_last_error():
    errors = [OSError("first"), OSError("second"), OSError("last")]
    fn = Flaky(errors)
    with pytest.raises(OSError, match="last"):
        retry_mod.retry(fn, attempts=3, backoff=0, retry_on=lambda e: True, sleep=lambda s: None)
    assert fn.calls == 3


def test_retry_does_not_retry_other_errors():
    fn = Flaky([ValueError("no")])
    sleeps: list[float] = []
    with pytest.raises(ValueError):
        retry_mod.retry(
            fn,
            attempts=5,
            backoff=1,
            retry_on=lambda e: isinstance(e, OSError),
            sleep=sleeps.append,
        )
    assert fn.calls == 1 and sleeps == []


def test_retry_at_least_once_and_logs(caplog):
    import logging

    log = logging.getLogger("test-retry")
    fn = Flaky([OSError("x")])
    with pytest.raises(OSError):
        retry_mod.retry(
            fn, attempts=0, backoff=1, retry_on=lambda e: True, sleep=lambda s: None, log=log
        )
    assert fn.calls == 1
    fn = Flaky([OSError("boom")])
    with caplog.at_level(logging.WARNING, logger="test-retry"):
        retry_mod.retry(
            fn,
            attempts=2,
            backoff=0,
            retry_on=lambda e: True,
            sleep=lambda s: None,
            log=log,
            what="probe",
        )
    assert "probe failed (attempt 1 of 2): boom" in caplog.text


# -- a fake heatclient serving the fixtures -------------------------------------------------------


class Obj:
    """Like heatclient's Resource: to_dict() gives a copy of the answer."""

    def __init__(self, info):
        self._info = info

    def to_dict(self):
        return copy.deepcopy(self._info)


class FakeHeatClient:
    """stacks.list/get/template/environment/files and resources.list, with injected failures."""

    def __init__(self):
        self.stacks_data: dict[str, dict] = {}
        self.listing: list[dict] = []
        self.failures: dict[tuple[str, str | None], list[Exception]] = {}
        self.calls: list[tuple[str, object, int]] = []
        self.delay = 0.0
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.fail_listing_after: int | None = None  # raise lazily after yielding this many items
        self.stacks = _Stacks(self)
        self.resources = _Resources(self)

    def add_lab1(self, sid=LAB1, status=None):
        show = _json("show.json")["stack"]
        show["id"] = sid
        if status:
            show["stack_status"] = status
        self.stacks_data[sid] = {
            "show": show,
            "template": _json("template.json"),
            "environment": _json("environment.json"),
            "files": {
                "file:///srv/heat/templates/child.yaml": (
                    FIXTURES / "templates" / "child.yaml"
                ).read_text()
            },
            "resources": [
                r
                for r in _json("resources_nested3.json")["resources"]
                if "parent_resource" not in r
            ],
        }

    def fail(self, op, key, *errors):
        self.failures.setdefault((op, key), []).extend(errors)

    def enter(self, op, arg):
        sid = arg.rsplit("/", 1)[-1] if isinstance(arg, str) else None
        with self.lock:
            self.calls.append((op, arg, _now_us()))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            errors = self.failures.get((op, sid)) or self.failures.get((op, None))
            error = errors.pop(0) if errors else None
        try:
            if self.delay:
                time.sleep(self.delay)
            if error is not None:
                raise error
            return sid
        finally:
            with self.lock:
                self.in_flight -= 1

    def data(self, sid):
        if sid not in self.stacks_data:
            raise heat_exc.HTTPNotFound(
                json.dumps({"error": {"message": f"The Stack ({sid}) could not be found."}})
            )
        return self.stacks_data[sid]


class _Stacks:
    def __init__(self, heat: FakeHeatClient):
        self.heat = heat
        self.list_kwargs: list[dict] = []

    def list(self, **kwargs):
        self.list_kwargs.append(dict(kwargs))
        heat = self.heat

        def gen():  # lazy, like heatclient: nothing happens before iteration
            heat.enter("list", None)
            items = heat.listing
            if "marker" in kwargs:
                ids = [i["id"] for i in items]
                items = items[ids.index(kwargs["marker"]) + 1 :]
            for n, item in enumerate(items[: kwargs.get("limit") or None]):
                if heat.fail_listing_after is not None and n == heat.fail_listing_after:
                    heat.fail_listing_after = None
                    raise heat_exc.HTTPServiceUnavailable(
                        "page 2 of heatclient's own paging failed"
                    )
                yield Obj(item)

        return gen()

    def get(self, stack_id, resolve_outputs=True):
        sid = self.heat.enter("get" if resolve_outputs else "show", stack_id)
        show = copy.deepcopy(self.heat.data(sid)["show"])
        if not resolve_outputs:
            show.pop("outputs", None)
        return Obj(show)

    def template(self, stack_id):
        return copy.deepcopy(self.heat.data(self.heat.enter("template", stack_id))["template"])

    def environment(self, stack_id):
        return copy.deepcopy(
            self.heat.data(self.heat.enter("environment", stack_id))["environment"]
        )

    def files(self, stack_id):
        return copy.deepcopy(self.heat.data(self.heat.enter("files", stack_id))["files"])


class _Resources:
    def __init__(self, heat: FakeHeatClient):
        self.heat = heat
        self.list_kwargs: list[dict] = []

    def list(self, stack_id, **kwargs):
        self.list_kwargs.append(dict(kwargs))
        sid = self.heat.enter("resources", stack_id)
        return [Obj(r) for r in self.heat.data(sid)["resources"]]


@pytest.fixture
def heat():
    h = FakeHeatClient()
    h.add_lab1()
    h.listing = _json("list_global_nested.json")["stacks"]
    return h


def source(heat, **kw):
    sleeps = kw.pop("sleeps", [])
    kw.setdefault("retry_backoff", 0.01)
    return HeatSource(heat, sleep=sleeps.append, **kw)


# -- listing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [1, 3, 4, 10, 11, 12, 200])
def test_list_stacks_pages_by_marker(heat, page_size):
    expected = [s["id"] for s in heat.listing]
    got = list(source(heat, page_size=page_size).list_stacks())
    assert [s["id"] for s in got] == expected
    assert got == heat.listing  # plain dicts, as listed
    kwargs = heat.stacks.list_kwargs
    pages = -(-len(expected) // page_size) + (1 if len(expected) % page_size == 0 else 0)
    assert len(kwargs) == pages
    for n, kw in enumerate(kwargs):
        assert kw["global_tenant"] is True and kw["show_nested"] is True
        assert kw["limit"] == page_size
        assert kw.get("marker") == (None if n == 0 else expected[n * page_size - 1])


def test_list_stacks_gives_the_owner_project(heat):
    projects = {s["stack_name"]: s["project"] for s in source(heat).list_stacks()}
    assert projects["demo2"] == "demo"  # owned by demo, although stack_owner is admin
    assert projects["lab1"] == "admin"


def test_list_stacks_lazy_error_is_retried_without_duplicates(heat):
    heat.fail_listing_after = 2
    sleeps: list[float] = []
    got = [s["id"] for s in source(heat, page_size=4, sleeps=sleeps).list_stacks()]
    assert got == [s["id"] for s in heat.listing]
    assert len(sleeps) == 1


def test_list_stacks_lazy_error_after_retries_is_unavailable(heat):
    heat.fail("list", None, *[heat_exc.HTTPServiceUnavailable("down")] * 3)
    src = source(heat, retries=2)
    with pytest.raises(HeatUnavailable, match="list stacks"):
        list(src.list_stacks())


def test_list_stacks_forbidden(heat):
    heat.fail(
        "list",
        None,
        heat_exc.HTTPForbidden(
            json.dumps({"error": {"message": "stacks:global_index is disallowed by policy"}})
        ),
    )
    with pytest.raises(HeatForbidden) as info:
        list(source(heat).list_stacks())
    text = str(info.value)
    assert "cloud admin" in text and "stacks:global_index" in text and "HTTP 403" in text
    assert len(heat.calls) == 1  # not retried


def test_list_stacks_stops_on_a_repeating_page(heat):
    """A Heat that ignores the marker would make a naive pager loop forever."""
    heat.stacks.list = lambda **kw: iter([Obj(s) for s in heat.listing[:3]])
    assert len(list(source(heat, page_size=3).list_stacks())) == 3


# -- reading ---------------------------------------------------------------------------------------


def test_read_returns_the_snapshot(heat):
    before = _now_us()
    snap = source(heat).read(LAB1)
    assert isinstance(snap, StackSnapshot)
    data = heat.stacks_data[LAB1]
    assert snap.show == data["show"] and snap.show["outputs"]  # outputs resolved
    assert snap.template == data["template"]
    assert snap.environment == data["environment"]
    assert snap.files == data["files"]
    assert snap.resources == data["resources"]
    assert [c[0] for c in heat.calls] == ["get", "template", "environment", "files", "resources"]
    # the version is taken before the first call
    assert before <= snap.read_at <= heat.calls[0][2]
    # sub-resources are read by name/id (no lookup redirect)
    assert all(c[1] == f"lab1/{LAB1}" for c in heat.calls[1:])
    assert heat.resources.list_kwargs == [{"nested_depth": 0}]


def test_a_torn_read_is_made_again(heat):
    """Heat writes an update's content between the read's show and its environment: the two
    disagree on a parameter, and the read is made again (at most TORN_READ_ATTEMPTS times)."""
    data = heat.stacks_data[LAB1]
    real = heat.stacks.environment

    def environment(path):  # the update's content written just before this call
        data["show"]["parameters"]["greeting"] = data["environment"]["parameters"]["greeting"] = "next"
        return real(path)

    heat.stacks.environment = environment
    snap = source(heat).read(LAB1)
    assert torn(snap) is False
    assert snap.show["parameters"]["greeting"] == snap.environment["parameters"]["greeting"] == "next"
    assert [c[0] for c in heat.calls].count("get") == 2
    # a stack whose show never agrees (another writer at every read): the last read is kept
    heat.calls.clear()
    flip = iter(range(100))
    heat.stacks.environment = lambda path: dict(real(path), parameters={"greeting": f"v{next(flip)}"})
    snap = source(heat).read(LAB1)
    assert torn(snap) and [c[0] for c in heat.calls].count("get") == TORN_READ_ATTEMPTS
    # a masked or non-string value is no sign of a torn read
    ok = dataclasses.replace(snap, show=dict(snap.show, parameters={"a": "******", "b": "2"}),
                             environment={"parameters": {"a": "secret", "b": 2}})
    assert torn(ok) is False


def _creating(heat, sid=LAB1):
    show = heat.stacks_data[sid]["show"]
    show.update(stack_status="CREATE_IN_PROGRESS", updated_time=None)
    return show


def test_a_creates_end_reuses_what_the_read_during_the_create_showed(heat):
    """Read during its create, a stack's template, environment and files cannot change before
    the create ends (only an update changes them, and sets updated_time): the read of its end is
    the show and the resources at once (#14: two calls, one round trip, instead of five)."""
    show = _creating(heat)
    src = source(heat)
    first = src.read(LAB1)
    assert [c[0] for c in heat.calls] == ["get", "template", "environment", "files", "resources"]
    first.template["resources"].clear()  # a builder's changes to one snapshot reach no other
    heat.calls.clear()
    show.update(stack_status="CREATE_COMPLETE", outputs=[{"output_key": "k", "output_value": 1}])
    heat.stacks_data[LAB1]["resources"] = heat.stacks_data[LAB1]["resources"][:2]
    end = src.read(LAB1)
    assert sorted(c[0] for c in heat.calls) == ["get", "resources"]
    assert all(c[1] == f"lab1/{LAB1}" for c in heat.calls if c[0] == "resources")
    data = heat.stacks_data[LAB1]
    assert (end.template, end.environment, end.files) == (
        data["template"], data["environment"], data["files"])
    assert end.show["stack_status"] == "CREATE_COMPLETE" and len(end.resources) == 2
    # taken once: the next read reads everything
    heat.calls.clear()
    src.read(LAB1)
    assert len(heat.calls) == 5


def test_a_read_after_an_update_began_reads_everything_again(heat):
    show = _creating(heat)
    src = source(heat)
    src.read(LAB1)
    heat.calls.clear()
    show.update(stack_status="UPDATE_COMPLETE", updated_time="2026-11-25T07:35:42Z")
    heat.stacks_data[LAB1]["template"] = dict(heat.stacks_data[LAB1]["template"], description="v2")
    snap = src.read(LAB1)
    # the resources asked for with the show, then what the create's read kept is not used
    assert sorted(c[0] for c in heat.calls) == [
        "environment", "files", "get", "resources", "template"]
    assert snap.template["description"] == "v2"
    # a stack created again under the same id is never Heat's; still, another create time
    # is another create
    show.update(stack_status="CREATE_IN_PROGRESS", updated_time=None)
    src.read(LAB1)
    heat.calls.clear()
    show.update(stack_status="CREATE_COMPLETE", creation_time="2030-01-01T00:00:00Z")
    src.read(LAB1)
    assert len(heat.calls) == 5


def test_an_action_begun_during_a_read_at_once_has_its_calls_made_again_after_the_show(heat):
    """Heat may answer the template before the show when an update begins between them: the
    show would resolve the new template's outputs against the old template (a secret output in
    clear). A show whose updated_time is within the read (give or take Heat's one-second
    resolution) has the other calls made again after it."""
    src = source(heat)
    data = heat.stacks_data[LAB1]
    real = heat.stacks.template
    answers = iter([{"description": "old"}, {"description": "new"}])
    heat.stacks.template = lambda path: (real(path), next(answers))[1]
    data["show"]["updated_time"] = datetime.datetime.now(datetime.UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    src.know_names({LAB1: "lab1"})
    snap = src.read(LAB1)
    assert snap.template == {"description": "new"}
    assert sorted(c[0] for c in heat.calls) == sorted(
        ["get"] + ["template", "environment", "files", "resources"] * 2)
    # an update long before the read: one round trip
    heat.calls.clear()
    data["show"]["updated_time"] = "2026-11-25T07:35:42Z"
    heat.stacks.template = real
    src.know_names({LAB1: "lab1"})
    src.read(LAB1)
    assert len(heat.calls) == 5


@pytest.mark.parametrize("status, updated", [
    ("CREATE_COMPLETE", "2026-11-25T07:35:42Z"),  # a create's status, yet an update set the time
    ("UPDATE_IN_PROGRESS", None),  # another action, whatever the time says
])
def test_a_create_read_is_reused_only_for_the_same_create(heat, status, updated):
    show = _creating(heat)
    src = source(heat)
    src.read(LAB1)
    heat.calls.clear()
    show.update(stack_status=status, updated_time=updated)
    src.read(LAB1)
    assert sorted(c[0] for c in heat.calls) == [
        "environment", "files", "get", "resources", "template"]


def test_a_torn_read_during_a_create_is_not_kept(heat):
    _creating(heat)
    real = heat.stacks.environment
    flip = iter(range(100))
    heat.stacks.environment = lambda path: dict(real(path), parameters={"greeting": f"v{next(flip)}"})
    src = source(heat)
    snap = src.read(LAB1)
    assert torn(snap) and LAB1 not in src._creating
    # every attempt read everything: none reused a torn attempt's content
    assert [c[0] for c in heat.calls].count("environment") == TORN_READ_ATTEMPTS


def test_what_a_create_read_keeps_is_bounded_and_only_for_reads_at_once(heat, monkeypatch):
    from heatseeker.heat import client

    monkeypatch.setattr(client, "CREATING_KEPT", 2)
    for sid in ("c1", "c2", "c3"):
        heat.add_lab1(sid, status="CREATE_IN_PROGRESS")
        heat.stacks_data[sid]["show"]["updated_time"] = None
    src = source(heat)
    for sid in ("c1", "c2", "c3"):
        src.read(sid)
    assert list(src._creating) == ["c2", "c3"]
    heat.calls.clear()
    src.read("c1")  # forgotten: everything
    src.read("c2", pipelined=False)  # a reconcile's read: its calls one after the other
    assert [c[0] for c in heat.calls] == ["get", "template", "environment", "files",
                                          "resources"] * 2
    # a stack gone at its end: None, as any read of it
    del heat.stacks_data["c3"]
    assert src.read("c3") is None and "c3" not in src._creating
    # the bound counts the template and the environment too: a read larger than it keeps nothing
    monkeypatch.setattr(client, "CREATING_KEPT_BYTES", len(json.dumps(
        heat.stacks_data["c1"]["template"])))
    src._creating.clear()
    src._creating_bytes = 0
    src.read("c1")
    assert not src._creating and src._creating_bytes == 0


def test_with_its_name_a_read_is_one_round_trip(heat):
    """The name a notification gives: the show and the four other calls at once (#14)."""
    heat.delay = 0.05
    src = source(heat)
    src.know_names({LAB1: "lab1"})
    snap = src.read(LAB1)
    assert heat.max_in_flight == 5 and snap.template == heat.stacks_data[LAB1]["template"]
    assert all(c[1] == f"lab1/{LAB1}" for c in heat.calls)
    # gone, or deleted: None as without a name, whatever the other calls answered
    src.know_names({"gone": "lab1"})
    assert src.read("gone") is None
    heat.add_lab1("d1", status="DELETE_COMPLETE")
    src.know_names({"d1": "lab1"})
    assert src.read("d1") is None


def test_read_of_an_unknown_stack_is_none(heat):
    assert source(heat).read("00000000-0000-0000-0000-000000000000") is None
    assert len(heat.calls) == 1


def test_read_of_a_deleted_stack_is_none(heat):
    heat.add_lab1("d1", status="DELETE_COMPLETE")
    assert source(heat).read("d1") is None
    assert [c[0] for c in heat.calls] == ["get"]  # nothing else read
    assert source(heat).show("d1") is None


def test_read_stack_deleted_during_the_read_is_none(heat):
    heat.fail("environment", LAB1, heat_exc.HTTPNotFound("gone"))
    heat.fail("show", LAB1, heat_exc.HTTPNotFound("gone"))
    assert source(heat).read(LAB1) is None


def test_read_404_on_a_sub_resource_of_a_live_stack_is_an_error(heat):
    heat.fail("files", LAB1, heat_exc.HTTPNotFound("no such endpoint"))
    with pytest.raises(HeatError, match="Newton") as info:
        source(heat).read(LAB1)
    assert not isinstance(info.value, HeatUnavailable)


@pytest.mark.parametrize(
    "error",
    [
        ks_exc.ConnectFailure("refused"),
        ks_exc.ConnectTimeout("slow"),
        heat_exc.CommunicationError("broken pipe"),
        requests.exceptions.ConnectionError("reset"),
        heat_exc.HTTPInternalServerError("500"),
        heat_exc.HTTPServiceUnavailable("503"),
        heat_exc.HTTPBadGateway("502"),
        heat_exc.HTTPException("gateway timeout", 504),
    ],
)
def test_read_retries_connection_errors_and_5xx(heat, error):
    heat.fail("template", LAB1, error, copy.copy(error))
    sleeps: list[float] = []
    snap = source(heat, retries=4, retry_backoff=0.5, sleeps=sleeps).read(LAB1)
    assert snap is not None and snap.template
    assert [c[0] for c in heat.calls].count("template") == 3
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] < sleeps[1] <= 1.1


def test_read_gives_up_after_the_retries(heat):
    heat.fail("get", LAB1, *[ks_exc.ConnectFailure("refused")] * 5)
    sleeps: list[float] = []
    with pytest.raises(HeatUnavailable, match="refused"):
        source(heat, retries=3, sleeps=sleeps).read(LAB1)
    assert len(heat.calls) == 4 and len(sleeps) == 3


@pytest.mark.parametrize(
    "error",
    [
        heat_exc.HTTPUnauthorized("no token"),
        heat_exc.HTTPForbidden("denied"),
        ks_exc.Unauthorized("bad password"),
    ],
)
def test_read_forbidden(heat, error):
    heat.fail("get", LAB1, error)
    with pytest.raises(HeatForbidden, match="cloud admin"):
        source(heat).read(LAB1)
    assert len(heat.calls) == 1


def test_read_other_4xx_is_a_heat_error_with_the_message(heat):
    body = json.dumps(
        {"error": {"message": "Invalid stack id 'x'", "type": "Invalid"}, "code": 400}
    )
    heat.fail("get", LAB1, heat_exc.HTTPBadRequest(body, 400))
    with pytest.raises(HeatError) as info:
        source(heat).read(LAB1)
    assert type(info.value) is HeatError
    assert "HTTP 400" in str(info.value) and "Invalid stack id 'x'" in str(info.value)
    assert len(heat.calls) == 1


def test_show_does_not_resolve_outputs(heat):
    shown = source(heat).show(LAB1)
    assert shown["stack_name"] == "lab1" and "outputs" not in shown
    assert heat.calls[0][0] == "show"
    assert source(heat).show("unknown") is None


# -- read_many -----------------------------------------------------------------------------------


def test_read_many_bounds_concurrency_and_yields_everything(heat):
    ids = [f"s{n:02d}" for n in range(24)]
    for sid in ids:
        heat.add_lab1(sid)
    heat.delay = 0.01
    results = dict(source(heat, concurrency=3).read_many(ids))
    assert set(results) == set(ids)
    assert all(isinstance(r, StackSnapshot) for r in results.values())
    # 3 stacks at once, each its show and then its four other calls at once
    assert heat.max_in_flight <= 3 * 4
    assert heat.max_in_flight > 3  # really in parallel, the parts of a read too


def test_a_reads_calls_after_its_show_go_at_once(heat):
    heat.delay = 0.02
    snapshot = source(heat, concurrency=1).read(LAB1)
    assert isinstance(snapshot, StackSnapshot)
    assert heat.calls[0][0] == "get"  # the show first: the others need its name
    assert heat.max_in_flight == 4  # template, environment, files and resources together


def test_the_gate_lets_the_most_urgent_read_go_first():
    from heatseeker.heat.client import EAGER, NORMAL, URGENT, Gate

    gate = Gate(1)
    order: list[str] = []
    started = threading.Event()
    holder_in, holder_out = threading.Event(), threading.Event()

    def hold():
        with gate.slot(NORMAL):
            holder_in.set()
            holder_out.wait(10)

    def wait_for(name: str, priority: int):
        started.set()
        with gate.slot(priority):
            order.append(name)

    threads = [threading.Thread(target=hold)]
    threads[0].start()
    assert holder_in.wait(10)
    for name, prio in (("eager", EAGER), ("normal", NORMAL), ("urgent", URGENT), ("urgent2", URGENT)):
        t = threading.Thread(target=wait_for, args=(name, prio))
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 10
        while len(gate._waiting) < len(threads) - 1 and time.monotonic() < deadline:
            time.sleep(0.005)
    holder_out.set()
    for t in threads:
        t.join(10)
    assert order == ["urgent", "urgent2", "normal", "eager"]
    assert gate._busy == 0


def test_read_many_yields_as_reads_complete(heat):
    heat.add_lab1("fast")
    heat.add_lab1("slow")
    original = heat.enter
    fast_yielded = threading.Event()

    def enter(op, arg):
        if isinstance(arg, str) and arg.endswith("slow") and op == "get":
            fast_yielded.wait(10)  # "slow" ends only once "fast" came out (else after 10 s)
        return original(op, arg)

    heat.enter = enter
    order = []
    for sid, _ in source(heat, concurrency=2).read_many(["slow", "fast"]):
        order.append(sid)
        if sid == "fast":
            fast_yielded.set()
    assert order == ["fast", "slow"]


def test_read_many_never_raises_for_one_stack(heat):
    for sid in ("ok1", "ok2", "denied", "broken", "down"):
        heat.add_lab1(sid)
    heat.add_lab1("deleted", status="DELETE_COMPLETE")
    heat.fail("get", "denied", heat_exc.HTTPForbidden("no"))
    heat.fail("get", "down", *[ks_exc.ConnectFailure("refused")] * 10)
    heat.fail("template", "broken", KeyError("a bug somewhere"))
    ids = ["ok1", "denied", "broken", "missing", "deleted", "down", "ok2"]
    results = dict(source(heat, concurrency=4, retries=1).read_many(ids))
    assert set(results) == set(ids)
    assert isinstance(results["ok1"], StackSnapshot) and isinstance(results["ok2"], StackSnapshot)
    assert isinstance(results["denied"], HeatForbidden)
    assert isinstance(results["down"], HeatUnavailable)
    assert type(results["broken"]) is HeatError and "KeyError" in str(results["broken"])
    assert results["missing"] is None and results["deleted"] is None


def test_read_many_with_a_lazy_iterable_and_early_stop(heat):
    for n in range(50):
        heat.add_lab1(f"x{n}")
    pulled = []

    def ids():
        for n in range(50):
            pulled.append(n)
            yield f"x{n}"

    gen = source(heat, concurrency=2).read_many(ids())
    first = next(gen)
    gen.close()  # must not hang nor read everything
    assert first[0].startswith("x")
    assert len(pulled) <= 2 * 2 + 2


def test_read_many_empty(heat):
    assert list(source(heat).read_many([])) == []


# -- the real heatclient and keystoneauth1 against a local fake Heat (and Keystone) ---------------


class FakeHeatHTTP(BaseHTTPRequestHandler):
    """Speaks enough of Heat's REST API (and Keystone's) for heatclient + keystoneauth1."""

    server: FakeServer  # type: ignore[assignment]

    def log_message(self, *args):  # quiet
        pass

    def _send(self, code, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, code, message):
        title = {403: "Forbidden", 404: "Not Found", 503: "Service Unavailable"}.get(code, "Error")
        self._send(
            code,
            {
                "code": code,
                "title": title,
                "explanation": message,
                "error": {"message": message, "type": title},
            },
        )

    def do_POST(self):
        srv = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path.rstrip("/") == "/identity/v3/auth/tokens":
            srv.token_requests.append(body)
            if srv.auth_fail:
                code = srv.auth_fail.pop(0)
                self._send(code, {"error": {"code": code, "title": "Unauthorized",
                                            "message": "The request you have made requires "
                                                       "authentication."}})
                return
            token = {
                "methods": ["password"],
                "expires_at": "2099-01-01T00:00:00.000000Z",
                "issued_at": "2026-11-25T00:00:00.000000Z",
                "user": {
                    "id": "uid",
                    "name": "admin",
                    "domain": {"id": "default", "name": "Default"},
                },
                "project": {
                    "id": "admin",
                    "name": "admin",
                    "domain": {"id": "default", "name": "Default"},
                },
                "roles": [{"id": "rid", "name": "admin"}],
                "catalog": [
                    {
                        "type": "identity",
                        "name": "keystone",
                        "id": "ksvc",
                        "endpoints": [
                            {
                                "id": "k1",
                                "interface": "public",
                                "region_id": "RegionOne",
                                "region": "RegionOne",
                                "url": f"{srv.url}/identity/v3",
                            }
                        ],
                    },
                    {
                        "type": "orchestration",
                        "name": "heat",
                        "id": "svc",
                        "endpoints": [
                            {
                                "id": "e1",
                                "interface": "public",
                                "region_id": "RegionOne",
                                "region": "RegionOne",
                                "url": f"{srv.url}/v1/admin",
                            },
                            {  # a second region's Heat: the same fake, under a prefix
                                "id": "e2",
                                "interface": "public",
                                "region_id": "RegionTwo",
                                "region": "RegionTwo",
                                "url": f"{srv.url}/regiontwo/v1/admin",
                            },
                        ],
                    }
                ],
            }
            self._send(201, {"token": token}, {"X-Subject-Token": "token-123"})
            return
        self._error(404, "no such thing")

    def do_GET(self):
        srv = self.server
        url = parse.urlsplit(self.path)
        path = url.path.rstrip("/")
        query = dict(parse.parse_qsl(url.query))
        if path.startswith("/regiontwo/"):
            srv.region_two_requests.append(path)
            path = path[len("/regiontwo"):]
        srv.requests.append((path, query, dict(self.headers)))
        if path == "/identity/v3":
            href = f"{srv.url}/identity/v3/"
            self._send(
                200,
                {
                    "version": {
                        "id": "v3.14",
                        "status": "stable",
                        "updated": "2020-04-07T00:00:00Z",
                        "links": [{"rel": "self", "href": href}],
                    }
                },
            )
            return
        if path == "/identity/v3/projects":
            name = query.get("name")
            self._send(200, {"projects": [p for p in srv.projects if p["name"] == name]})
            return
        if path.startswith("/identity/v3/projects/"):
            pid = path.rsplit("/", 1)[1]
            found = [p for p in srv.projects if p["id"] == pid]
            if found:
                self._send(200, {"project": found[0]})
            else:
                self._send(404, {"error": {"code": 404, "message": f"no project {pid}"}})
            return
        if srv.fail_next:
            code = srv.fail_next.pop(0)
            self._error(code, f"injected {code}")
            return
        if not path.startswith("/v1/admin/stacks"):
            self._error(404, "The resource could not be found.")
            return
        parts = (
            path[len("/v1/admin/stacks") :].strip("/").split("/")
            if path != "/v1/admin/stacks"
            else []
        )
        if not parts:
            items = srv.listing
            if "marker" in query:
                ids = [s["id"] for s in items]
                items = items[ids.index(query["marker"]) + 1 :]
            limit = int(query.get("limit", 1000))
            self._send(200, {"stacks": items[: min(limit, srv.max_page)]})
            return
        stacks = srv.stacks
        if len(parts) == 1:  # lookup by id: Heat redirects to name/id
            sid = parts[0]
            if sid not in stacks:
                self._error(404, f"The Stack ({sid}) could not be found.")
                return
            location = f"{srv.url}/v1/admin/stacks/{stacks[sid]['show']['stack_name']}/{sid}"
            if url.query:  # Heat keeps the query on its lookup redirect
                location += "?" + url.query
            self._send(302, None, {"Location": location})
            return
        name, sid, *rest = parts
        if sid not in stacks or stacks[sid]["show"]["stack_name"] != name:  # as Heat: both must match
            self._error(404, f"The Stack ({name}) could not be found.")
            return
        data = stacks[sid]
        sub = rest[0] if rest else None
        if sub is None:
            show = dict(data["show"])
            if query.get("resolve_outputs") == "False":
                show.pop("outputs", None)
            self._send(200, {"stack": show})
        elif sub in ("template", "environment", "files"):
            self._send(200, data[sub])
        elif sub == "resources":
            self._send(200, {"resources": data["resources"]})
        else:
            self._error(404, "The resource could not be found.")


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), FakeHeatHTTP)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.requests: list = []
        self.region_two_requests: list = []
        self.token_requests: list = []
        self.fail_next: list[int] = []
        self.auth_fail: list[int] = []  # statuses Keystone answers the next token requests
        self.projects = [
            {"id": "a" * 32, "name": "alpha", "domain_id": "default"},
            {"id": "b" * 32, "name": "beta", "domain_id": "default"},
            {"id": "c" * 32, "name": "twin", "domain_id": "default"},
            {"id": "d" * 32, "name": "twin", "domain_id": "other"},
        ]
        self.max_page = 1000
        self.listing = _json("list_global_nested.json")["stacks"]
        show = _json("show.json")["stack"]
        self.stacks = {
            LAB1: {
                "show": show,
                "template": _json("template.json"),
                "environment": _json("environment.json"),
                "files": {
                    "file:///srv/heat/templates/child.yaml": "heat_template_version: 2021-04-16\n"
                },
                "resources": [
                    r
                    for r in _json("resources_nested3.json")["resources"]
                    if "parent_resource" not in r
                ],
            }
        }


@pytest.fixture
def server():
    srv = FakeServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _conf(tmp_path, text):
    path = tmp_path / "heatseeker.conf"
    path.write_text(text)
    conf = new_conf()
    conf(["--config-file", str(path)], project="heatseeker", default_config_files=[])
    return conf


def test_from_conf_noauth_endpoint(server, tmp_path):
    conf = _conf(
        tmp_path,
        f"[heat]\nauth_type = none\nendpoint = {server.url}/v1/admin\npage_size = 4\nretries = 3\nretry_backoff = 0\nconcurrency = 5\n",
    )
    src = HeatSource.from_conf(conf)
    assert (src.page_size, src.retries, src.retry_backoff, src.concurrency) == (4, 3, 0.0, 5)
    server.max_page = 3  # Heat's own cap below our page size: heatclient follows short pages
    listed = list(src.list_stacks())
    assert [s["id"] for s in listed] == [s["id"] for s in server.listing]
    stack_queries = [q for p, q, _ in server.requests if p == "/v1/admin/stacks"]
    assert all(q["global_tenant"] == "True" and q["show_nested"] == "True" for q in stack_queries)
    assert stack_queries[0].get("marker") is None and stack_queries[0]["limit"] == "4"
    # a pool for every call a read makes at once (concurrency 5 × 5 calls), and the shows beside
    adapters = src.client.http_client.session.session.adapters
    assert {a._pool_maxsize for a in adapters.values()} == {25 + POOL_SPARE}
    # through Heat's lookup redirect, then by name/id
    server.requests.clear()
    snap = src.read(LAB1)
    assert (
        snap is not None
        and snap.show["id"] == LAB1
        and snap.template["heat_template_version"] == "2021-04-16"
    )
    paths = [p for p, _, _ in server.requests]
    assert paths[:2] == [f"/v1/admin/stacks/{LAB1}", f"/v1/admin/stacks/lab1/{LAB1}"]
    assert sorted(paths[2:]) == [  # after the show, at once: in any order
        f"/v1/admin/stacks/lab1/{LAB1}/environment",
        f"/v1/admin/stacks/lab1/{LAB1}/files",
        f"/v1/admin/stacks/lab1/{LAB1}/resources",
        f"/v1/admin/stacks/lab1/{LAB1}/template",
    ]
    assert len(snap.resources) == 6
    # a name known (a listing, a notification): every call asks for name/id at once, the show
    # among them (no lookup, no redirect, one round trip)
    server.requests.clear()
    src.know_names({LAB1: "lab1"})
    assert src.read(LAB1).show["id"] == LAB1
    assert sorted(p for p, _, _ in server.requests) == [
        f"/v1/admin/stacks/lab1/{LAB1}", *(f"/v1/admin/stacks/lab1/{LAB1}/{part}" for part in (
            "environment", "files", "resources", "template"))]
    # a wrong name (never Heat's, but never trusted blindly): the show by id after the 404,
    # then the other calls again with its real name
    server.requests.clear()
    src.know_names({LAB1: "not-its-name"})
    snap = src.read(LAB1)
    assert snap.show["id"] == LAB1 and len(snap.resources) == 6 and snap.files
    paths = [p for p, _, _ in server.requests]
    assert paths.index(f"/v1/admin/stacks/not-its-name/{LAB1}") < paths.index(
        f"/v1/admin/stacks/{LAB1}")
    assert sorted(p for p in paths if p.startswith(f"/v1/admin/stacks/lab1/{LAB1}/")) == [
        f"/v1/admin/stacks/lab1/{LAB1}/{part}" for part in (
            "environment", "files", "resources", "template")]
    assert src.read("no-such-stack") is None
    assert "outputs" not in src.show(LAB1)


def test_a_reconciles_reads_make_their_calls_one_after_the_other(server, tmp_path):
    """BACKGROUND reads (sync) do not pipeline their four calls (a busy Heat served them slower
    at once); a read someone waits for still does."""
    from heatseeker.heat.client import BACKGROUND, URGENT

    src = HeatSource.from_conf(_conf(tmp_path, f"[heat]\nauth_type = none\n"
                                               f"endpoint = {server.url}/v1/admin\nretries = 0\n"))

    class NoPool:
        def submit(self, *a, **kw):
            raise RuntimeError("pipelined")

    src._parts = NoPool()
    [(sid, snap)] = list(src.read_many([LAB1], lambda _: BACKGROUND))
    assert sid == LAB1 and snap.template["heat_template_version"] == "2021-04-16"
    [(_, failed)] = list(src.read_many([LAB1], lambda _: URGENT))
    assert isinstance(failed, HeatError) and "pipelined" in str(failed)


def test_real_heatclient_errors_are_translated(server, tmp_path):
    conf = _conf(
        tmp_path,
        f"[heat]\nauth_type = none\nendpoint = {server.url}/v1/admin\nretries = 2\nretry_backoff = 0\n",
    )
    src = HeatSource.from_conf(conf)
    server.fail_next = [503, 500]
    assert src.read(LAB1) is not None  # retried twice
    server.fail_next = [503, 503, 503]
    with pytest.raises(HeatUnavailable, match="HTTP 503"):
        src.read(LAB1)
    server.fail_next = [403]
    with pytest.raises(HeatForbidden, match="stacks:global_index"):
        list(src.list_stacks())
    server.fail_next = [400]
    with pytest.raises(HeatError, match="injected 400"):
        src.read(LAB1)


def test_unreachable_heat_is_unavailable(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    conf = _conf(
        tmp_path,
        f"[heat]\nauth_type = none\nendpoint = http://127.0.0.1:{port}/v1/admin\nretries = 1\nretry_backoff = 0\n",
    )
    src = HeatSource.from_conf(conf)
    with pytest.raises(HeatUnavailable):
        list(src.list_stacks())
    results = list(src.read_many(["a"]))
    assert isinstance(results[0][1], HeatUnavailable)


def test_from_conf_password_through_keystone(server, tmp_path):
    conf = _conf(
        tmp_path,
        "[heat]\nauth_type = password\n"
        f"auth_url = {server.url}/identity/v3\n"
        "username = admin\npassword = pw\nproject_name = admin\n"
        "user_domain_name = Default\nproject_domain_name = Default\n"
        "region_name = RegionOne\nretry_backoff = 0\n",
    )
    src = HeatSource.from_conf(conf)
    listed = list(src.list_stacks())
    assert len(listed) == len(server.listing)
    assert server.token_requests, "no token was requested from Keystone"
    auth = server.token_requests[0]["auth"]
    assert auth["identity"]["password"]["user"]["name"] == "admin"
    assert auth["scope"]["project"]["name"] == "admin"
    heat_requests = [h for p, _, h in server.requests if p.startswith("/v1/")]
    assert heat_requests and all(h.get("X-Auth-Token") == "token-123" for h in heat_requests)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("[heat]\n", "auth_type is not set"),
        ("[heat]\nauth_type = none\n", "needs 'endpoint"),
        (
            "[heat]\nauth_type = none\nendpoint = http://h/v1/admin\nvalid_interfaces = sideways\n",
            "valid_interfaces",
        ),
    ],
)
def test_from_conf_explains_bad_options(tmp_path, text, fragment):
    with pytest.raises(HeatError, match=fragment):
        HeatSource.from_conf(_conf(tmp_path, text))


def test_from_conf_endpoint_override_wins(tmp_path):
    conf = _conf(
        tmp_path,
        "[heat]\nauth_type = none\nendpoint = http://a/v1/admin\nendpoint_override = http://b/v1/admin\n",
    )
    assert HeatSource.from_conf(conf).client.http_client.endpoint_override == "http://b/v1/admin"


# -- Keystone: credentials, reachability, the deprecated interface option, project names ----------

KEYSTONE_PASSWORD = (
    "auth_type = password\nusername = admin\npassword = pw\nproject_name = admin\n"
    "user_domain_name = Default\nproject_domain_name = Default\n"
)


def _keystone_conf(tmp_path, auth_url, extra="", auth=KEYSTONE_PASSWORD):
    return _conf(
        tmp_path,
        f"[heat]\n{auth}auth_url = {auth_url}\nregion_name = RegionOne\n"
        f"retries = 2\nretry_backoff = 0\n{extra}",
    )


def test_keystone_asked_once_for_every_call(server, tmp_path):
    src = HeatSource.from_conf(_keystone_conf(tmp_path, f"{server.url}/identity/v3",
                                              "valid_interfaces = public\n"))
    list(src.list_stacks())
    assert src.read(LAB1) is not None
    assert len(server.token_requests) == 1


@pytest.mark.parametrize(
    "auth, options",
    [
        (KEYSTONE_PASSWORD, "[heat] username (or user_id), password, user_domain_name, "
                            "project_name and project_domain_name (auth_type = password)"),
        ("auth_type = v3applicationcredential\napplication_credential_id = x\n"
         "application_credential_secret = y\n",
         "application_credential_secret (auth_type = v3applicationcredential)"),
    ],
)
def test_refused_credentials_name_the_heat_options(server, tmp_path, auth, options):
    server.auth_fail = [401]
    src = HeatSource.from_conf(_keystone_conf(tmp_path, f"{server.url}/identity/v3", auth=auth))
    with pytest.raises(HeatForbidden) as info:
        list(src.list_stacks())
    text = str(info.value)
    assert "refused heatseeker's [heat] credentials" in text and "HTTP 401" in text
    assert f"[heat] auth_url = {server.url}/identity/v3" in text
    assert options in text
    assert len(server.token_requests) == 1  # a refusal is not retried


def test_keystone_5xx_is_retried_with_backoff(server, tmp_path):
    server.auth_fail = [503]
    conf = _keystone_conf(tmp_path, f"{server.url}/identity/v3")
    conf.set_override("retry_backoff", 0.25, group="heat")
    src = HeatSource.from_conf(conf)
    sleeps: list[float] = []
    src._sleep = sleeps.append
    assert len(list(src.list_stacks())) == len(server.listing)
    assert len(server.token_requests) == 2 and len(sleeps) == 1 and sleeps[0] >= 0.25


def test_unreachable_keystone_is_retried_then_names_auth_url(tmp_path, caplog):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/v3"
    sock.close()  # nothing listens there now
    conf = _keystone_conf(tmp_path, url)
    conf.set_override("retry_backoff", 0.5, group="heat")
    src = HeatSource.from_conf(conf)
    sleeps: list[float] = []
    src._sleep = sleeps.append
    with caplog.at_level("WARNING", logger="heatseeker.heat.client"), \
            pytest.raises(KeystoneUnavailable) as info:
        list(src.list_stacks())
    assert isinstance(info.value, HeatUnavailable)  # the listener requeues on it
    text = str(info.value)
    assert f"Keystone does not answer at [heat] auth_url = {url}" in text
    assert "3 attempt(s) with backoff" in text and "check [heat] auth_url" in text
    assert "Connection refused" in text and "HTTPConnectionPool" not in text  # one short line
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] < sleeps[1]  # exponential backoff
    assert [r.getMessage().split(" failed ")[1][:15] for r in caplog.records
            if "authenticate with Keystone" in r.getMessage()] == ["(attempt 1 of 3", "(attempt 2 of 3"]
    # a read of one stack says the same, as the listener's batches see it
    results = list(src.read_many(["a"]))
    assert isinstance(results[0][1], KeystoneUnavailable)


def test_interface_is_read_as_valid_interfaces_without_a_warning(server, tmp_path, caplog):
    conf = _keystone_conf(tmp_path, f"{server.url}/identity/v3", "interface = public\n")
    with caplog.at_level("WARNING"):
        src = HeatSource.from_conf(conf)
        assert len(list(src.list_stacks())) == len(server.listing)
    assert not [r for r in caplog.records if "deprecated" in r.getMessage()]
    assert conf.heat.valid_interfaces == ["public"]
    both = _keystone_conf(tmp_path, f"{server.url}/identity/v3",
                          "interface = public\nvalid_interfaces = internal\n")
    with pytest.raises(HeatError, match=r"bad \[heat\] options: interface and valid_interfaces"):
        HeatSource.from_conf(both)


def test_catalog_without_heat_names_the_options(server, tmp_path):
    src = HeatSource.from_conf(_keystone_conf(tmp_path, f"{server.url}/identity/v3",
                                              "region_name = Elsewhere\n"))
    with pytest.raises(HeatError) as info:
        list(src.list_stacks())
    text = str(info.value)
    assert "Keystone's catalog" in text and "region_name" in text and "valid_interfaces" in text


def test_refused_global_listing_names_the_rule_and_its_fix(heat):
    heat.fail("list", None, heat_exc.HTTPForbidden("You are not authorized to use "
                                                   "stacks:global_index."))
    with pytest.raises(HeatForbidden) as info:
        list(source(heat).list_stacks())
    text = str(info.value)
    assert "rule stacks:global_index" in text and "HTTP 403" in text
    assert '"stacks:global_index": "rule:context_is_admin"' in text and "cloud admin" in text


def test_projects_by_name_or_id(server, tmp_path):
    src = HeatSource.from_conf(_keystone_conf(tmp_path, f"{server.url}/identity/v3"))
    assert [p["id"] for p in src.projects("alpha")] == ["a" * 32]
    assert [p["id"] for p in src.projects("b" * 32)] == ["b" * 32]
    assert src.projects("nope") == []
    assert sorted(p["domain_id"] for p in src.projects("twin")) == ["default", "other"]


class _Projects:
    def __init__(self, known=(), down=False):
        self.known = {p["name"]: p for p in known}
        self.down = down

    def projects(self, value):
        if self.down:
            raise KeystoneUnavailable("Keystone does not answer at [heat] auth_url = x")
        return [p for p in self.known.values() if value in (p["name"], p["id"])]


def test_cli_project_names_resolve_through_keystone(tmp_path, monkeypatch, capsys):
    from heatseeker import cli

    alpha = {"id": "a" * 32, "name": "alpha", "domain_id": "default"}
    conf = _keystone_conf(tmp_path, "http://keystone.invalid/v3")
    monkeypatch.setattr(cli, "heat_source", lambda conf: _Projects([alpha]))
    assert cli.resolve_projects(conf, ["alpha", "a" * 32]) == ["a" * 32, "a" * 32]
    with pytest.raises(cli.NotFound, match="no project 'nosuch' in Keystone"):
        cli.resolve_projects(conf, ["nosuch"])
    twins = [{"id": "c" * 32, "name": "twin", "domain_id": "d1"},
             {"id": "d" * 32, "name": "twin", "domain_id": "d2"}]
    monkeypatch.setattr(cli, "heat_source", lambda conf: type("S", (), {
        "projects": lambda self, v: twins})())
    with pytest.raises(cli.UsageError, match="ambiguous"):
        cli.resolve_projects(conf, ["twin"])
    # Keystone down: an id is searched for as it is (with a warning), a name cannot be
    monkeypatch.setattr(cli, "heat_source", lambda conf: _Projects(down=True))
    assert cli.resolve_projects(conf, ["e" * 32]) == ["e" * 32]
    assert "not checked" in capsys.readouterr().err
    with pytest.raises(KeystoneUnavailable):
        cli.resolve_projects(conf, ["alpha"])


def test_cli_projects_of_a_noauth_heat_are_plain_strings(tmp_path, monkeypatch):
    from heatseeker import cli

    def no_keystone(conf):
        raise AssertionError("a noauth Heat has no Keystone to ask")

    monkeypatch.setattr(cli, "heat_source", no_keystone)
    conf = _conf(tmp_path, "[heat]\nauth_type = none\nendpoint = http://h/v1/admin\n")
    assert cli.resolve_projects(conf, ["alpha"]) == ["alpha"]
    assert cli.resolve_projects(_conf(tmp_path, "[heat]\n"), ["alpha"]) == ["alpha"]


def test_cli_unknown_project_exits_4(tmp_path, monkeypatch, capsys):
    from heatseeker import cli

    monkeypatch.setattr(cli, "heat_source", lambda conf: _Projects())
    path = tmp_path / "hs.conf"
    path.write_text(f"[DEFAULT]\ndata_dir = {tmp_path}/data\n[heat]\n{KEYSTONE_PASSWORD}"
                    "auth_url = http://keystone.invalid/v3\n")
    assert cli.main(["--config-file", str(path), "search", "--project", "alpha", "x"]) == 4
    err = capsys.readouterr().err
    assert "no project 'alpha' in Keystone" in err and "Traceback" not in err


def test_batches_that_need_one_stack_share_a_read_that_has_not_begun(heat):
    """Two batches ask for LAB1 while the gate is full: one read answers both (it begins after
    both asked). A batch that asks once a read has begun reads again: the read it would share
    may predate its notification."""
    src = source(heat, concurrency=1)
    got: list[object] = []
    with src.gate.slot():  # every slot busy
        threads = [threading.Thread(target=lambda: got.extend(r for _, r in src.read_many([LAB1])))
                   for _ in range(2)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while src.shared < 1 and time.monotonic() < deadline:
            time.sleep(0.005)
    for t in threads:
        t.join(10)
    assert len(got) == 2 and all(isinstance(r, StackSnapshot) for r in got)
    assert got[0] is not got[1] and got[0] == got[1]  # each its own copy
    assert (src.reads, src.shared) == (1, 1)
    assert [c[0] for c in heat.calls].count("get") == 1
    list(src.read_many([LAB1]))  # nothing queued any more: a read of its own
    assert (src.reads, src.shared) == (2, 1)


def test_a_queued_read_another_batch_needs_sooner_moves_up_the_line():
    """An unknown stack's start asked for a read (EAGER); before it began, its end arrived in
    another batch (URGENT): the one read is now as urgent as the end, ahead of NORMAL reads."""
    from heatseeker.heat.client import EAGER, NORMAL, URGENT, Gate

    gate = Gate(1)
    order: list[str] = []
    holder_in, holder_out = threading.Event(), threading.Event()

    def hold():
        with gate.slot(NORMAL):
            holder_in.set()
            holder_out.wait(10)

    def take(name, ticket):
        with gate.slot(ticket=ticket):
            order.append(name)

    threads = [threading.Thread(target=hold)]
    threads[0].start()
    assert holder_in.wait(10)
    eager, normal = gate.ticket(EAGER), gate.ticket(NORMAL)
    for name, ticket in (("eager-then-urgent", eager), ("normal", normal)):
        threads.append(threading.Thread(target=take, args=(name, ticket)))
        threads[-1].start()
    deadline = time.monotonic() + 10
    while len(gate._waiting) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    gate.hurry(eager, URGENT)
    gate.hurry(normal, EAGER)  # never less urgent than it was
    holder_out.set()
    for t in threads:
        t.join(10)
    assert order == ["eager-then-urgent", "normal"] and normal.priority == NORMAL


def test_one_source_per_region_each_from_the_catalog(server, tmp_path):
    """``[heat] regions``: one source per region, the home region first, each Heat endpoint the
    catalog's for that region (the same credentials, one token each)."""
    conf = _keystone_conf(tmp_path, f"{server.url}/identity/v3",
                          "regions = RegionTwo, RegionOne, RegionTwo\n")
    two, one = HeatSource.for_regions(conf)
    assert (two.region, two.home, one.region, one.home) == ("RegionTwo", True, "RegionOne", False)
    assert len(list(two.list_stacks())) == len(server.listing) and server.region_two_requests
    seen = len(server.region_two_requests)
    assert len(list(one.list_stacks())) == len(server.listing)
    assert len(server.region_two_requests) == seen  # RegionOne's calls went to RegionOne's Heat
    snap = two.read(LAB1)
    assert snap is not None and snap.region == "RegionTwo"


def test_a_region_outside_the_catalog_and_a_noauth_heat(server, tmp_path):
    """A noauth Heat has one endpoint: any other region needs [region:NAME] endpoint_override."""
    text = (f"[heat]\nauth_type = none\nendpoint = {server.url}/v1/admin\n"
            "regions = RegionOne, RegionTwo\n")
    with pytest.raises(HeatError, match=r"\[region:RegionTwo\] endpoint_override"):
        HeatSource.for_regions(_conf(tmp_path, text))
    conf = _conf(tmp_path, text + f"[region:RegionTwo]\nendpoint_override = "
                                  f"{server.url}/regiontwo/v1/admin\n")
    one, two = HeatSource.for_regions(conf)
    assert one.home and not two.home
    assert len(list(two.list_stacks())) == len(server.listing) and server.region_two_requests
    # no regions: the one [heat] region_name names, RegionOne when unset
    (only,) = HeatSource.for_regions(_conf(tmp_path, f"[heat]\nauth_type = none\n"
                                                     f"endpoint = {server.url}/v1/admin\n"))
    assert only.region == "RegionOne" and only.home

