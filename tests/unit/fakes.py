"""An in-memory Heat for indexer and listener unit tests (the real one is in tests/e2e)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable

from heatseeker.heat.client import HeatError, HeatUnavailable, StackSnapshot

_clock = itertools.count(int(time.time() * 1e6))


def tick() -> int:
    """A strictly increasing microsecond clock."""
    return next(_clock) + 1000


class FakeHeat:
    def __init__(self, region: str | None = None):
        if region is not None:  # as HeatSource: its documents and tombstones are this region's
            self.region = region
        self.stacks: dict[str, dict] = {}
        self.down = False
        self.reads: list[str] = []

    def add(self, sid, name, project="p1", parent=None, status="CREATE_COMPLETE", params=None,
            resources=(), hidden=(), template_resources=None):
        tpl_params = {k: {"type": "string"} for k in (params or {})}
        for h in hidden:
            tpl_params[h] = {"type": "string", "hidden": True, "default": "DEFAULT-SECRET"}
        self.stacks[sid] = {
            "show": {
                "id": sid, "stack_name": name, "parent": parent, "stack_status": status,
                "stack_status_reason": f"Stack {status}", "creation_time": "2026-11-25T07:00:00Z",
                "updated_time": None, "deletion_time": None, "description": f"{name} stack",
                "tags": None,
                "parameters": {"OS::project_id": project, "OS::stack_id": sid,
                               "OS::stack_name": name,
                               **{k: ("******" if k in hidden else v) for k, v in (params or {}).items()},
                               **{h: "******" for h in hidden}},
                "outputs": [],
            },
            "project": project,
            "template": {"heat_template_version": "2021-04-16", "parameters": tpl_params,
                         "resources": template_resources or {
                             r["resource_name"]: {"type": r["resource_type"]} for r in resources}},
            "environment": {"parameters": {}, "parameter_defaults": {}, "resource_registry": {}},
            "files": {},
            "resources": list(resources),
        }
        return sid

    def set_status(self, sid, status):
        self.stacks[sid]["show"]["stack_status"] = status
        self.stacks[sid]["show"]["stack_status_reason"] = f"Stack {status}"
        self.stacks[sid]["show"]["updated_time"] = "2026-11-25T08:00:00Z"

    # the HeatSource interface
    def list_stacks(self):
        if self.down:
            raise HeatUnavailable("Heat is down")
        for sid, s in self.stacks.items():
            show = s["show"]
            yield {"id": sid, "stack_name": show["stack_name"], "project": s["project"],
                   "parent": show["parent"], "stack_status": show["stack_status"],
                   "stack_status_reason": show["stack_status_reason"],
                   "creation_time": show["creation_time"], "updated_time": show["updated_time"],
                   "tags": show["tags"]}

    def named(self, name):
        if self.down:
            raise HeatUnavailable("Heat is down")
        return [dict(s["show"]) for s in self.stacks.values() if s["show"]["stack_name"] == name]

    def read(self, sid):
        if self.down:
            raise HeatUnavailable("Heat is down")
        if sid in getattr(self, "fail_once", ()):  # one read of it fails, as Heat's 500 would
            self.fail_once.discard(sid)
            raise HeatError(f"HTTP 500 reading {sid}")
        self.reads.append(sid)
        s = self.stacks.get(sid)
        if s is None or s["show"]["stack_status"] == "DELETE_COMPLETE":
            return None
        return StackSnapshot(show=dict(s["show"]), template=s["template"],
                             environment=s["environment"], files=s["files"],
                             resources=s["resources"], read_at=tick(),
                             region=getattr(self, "region", ""))

    def know_names(self, names):  # HeatSource's hint for its shows (no effect here)
        self.names = dict(names)

    def read_many(self, ids: Iterable[str], priority=None):
        ids = list(ids)
        self.priorities = {sid: priority(sid) for sid in ids} if priority else {}
        ordered = sorted(ids, key=lambda i: self.priorities.get(i, 0))  # the most urgent first
        if getattr(self, "children_first", False):  # reads that finish deepest first
            ordered.reverse()
        for sid in ordered:
            try:
                yield sid, self.read(sid)
            except HeatError as exc:
                yield sid, exc

    def show(self, sid):
        if self.down:
            raise HeatUnavailable("Heat is down")
        s = self.stacks.get(sid)
        return dict(s["show"]) if s else None


def nested_resource(name, rtype, nested_id):
    return {"resource_name": name, "resource_type": rtype, "resource_status": "CREATE_COMPLETE",
            "resource_status_reason": "", "physical_resource_id": nested_id,
            "links": [{"rel": "nested", "href": f"http://h/v1/p/stacks/x/{nested_id}"}]}


def plain_resource(name, rtype, physical="phys-" + "0" * 8):
    return {"resource_name": name, "resource_type": rtype, "resource_status": "CREATE_COMPLETE",
            "resource_status_reason": "", "physical_resource_id": physical, "links": []}


def notification(sid, name, action, phase, *, state=None, ts=None, priority="INFO", mid=None):
    state = state or {"start": f"{action.upper()}_IN_PROGRESS", "end": f"{action.upper()}_COMPLETE",
                      "error": f"{action.upper()}_FAILED"}[phase]
    ts = ts or tick()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts / 1e6)) + f".{ts % 1_000_000:06d}"
    return {
        "ctxt": {"request_id": "req-1", "project_id": "acting-project"},
        "publisher_id": "orchestration.host",
        "event_type": f"orchestration.stack.{action}.{phase}",
        "payload": {"stack_identity": sid, "stack_name": name, "state": state,
                    "state_reason": f"Stack {action} {phase}", "tenant_id": "acting-project",
                    "user_id": "u", "create_at": "2026-11-25T07:00:00Z"},
        "metadata": {"message_id": mid or f"m-{ts}", "timestamp": stamp},
    }
