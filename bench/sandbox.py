"""The bench stacks on the real Heat sandbox (tools/sandbox): planned, created once, reused.

``ensure(quick)`` makes sure every planned stack exists (names ``bench-…`` in projects ``bench-a``,
``bench-b`` and ``bench-c``, skewed 50/33/17 %), creating the missing ones in parallel batches, and
returns the inventory. The stacks are left in place: later runs reuse them (a full set takes a few
minutes to create, nothing once it exists). Templates are in ``bench/templates`` and kept small
(each independent resource costs Heat about a second).

Kinds of root stack (full plan / quick plan):

* ``db``        no nesting, 2 resources                                   70 / 4
* ``app``       one nested stack (Bench::Server)                          50 / 3
* ``tiered``    root → Bench::Tier → Bench::Server (depth 2)              32 / 2
* ``failtree``  a nested Bench::Broken fails: root and child CREATE_FAILED  8 / 1

The quick plan (same names) lives in its own project ``bench-q``: the quick run's API walks list
only that project, so they stay short on a sandbox that also holds the full set.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tools.sandbox import heatlab  # noqa: E402

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
ENV = os.path.join(TEMPLATES, "env.yaml")
PROJECTS = ("bench-a", "bench-b", "bench-c")
QUICK_PROJECT = "bench-q"  # the quick plan lives apart, so a quick run stays quick anywhere
IMAGES = ("cirros-0.6.2", "ubuntu-24.04", "debian-12", "rocky-9", "fedora-40")
PLAN = {"db": (70, 4), "app": (50, 3), "tiered": (32, 2), "failtree": (8, 1)}
TEMPLATE_OF = {
    "db": "db.yaml",
    "app": "app.yaml",
    "tiered": "tiered.yaml",
    "failtree": "failtree.yaml",
}
BATCH = 16  # creates in flight at once
CREATE_TIMEOUT = 600.0


@dataclass(frozen=True)
class Planned:
    kind: str
    name: str
    project: str
    image: str

    @property
    def want(self) -> str:
        return "CREATE_FAILED" if self.kind == "failtree" else "CREATE_COMPLETE"


def plan(quick: bool) -> list[Planned]:
    out = []
    for kind, (full, small) in PLAN.items():
        for i in range(small if quick else full):
            # skewed projects: 3 of 6 in bench-a, 2 in bench-b, 1 in bench-c
            project = QUICK_PROJECT if quick else PROJECTS[(0, 0, 0, 1, 1, 2)[i % 6]]
            out.append(Planned(kind, f"bench-{kind}-{i:03d}", project, IMAGES[(i * 7 + len(kind)) % 5]))
    return out


def admin():
    return heatlab.hc_for(heatlab.ADMIN)


def listing(hc=None, project: str | None = None) -> list[dict]:
    """Every stack (nested included) of every project (or of one), as the listing returns them."""
    if project:  # a project member's listing has no "project": add it
        hc = heatlab.hc_for(project)
        return [{**s.to_dict(), "project": project} for s in hc.stacks.list(show_nested=True)]
    hc = hc or admin()
    return [s.to_dict() for s in hc.stacks.list(global_tenant=True, show_nested=True)]


def available() -> str | None:
    """None if the sandbox answers, else why not."""
    try:
        list(admin().stacks.list(limit=1))
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable"
        return f"{type(exc).__name__}: {exc}"
    return None


def _create(p: Planned) -> str:
    hc = heatlab.hc_for(p.project)
    tpl, files, env = heatlab.contents(os.path.join(TEMPLATES, TEMPLATE_OF[p.kind]), ENV)
    return hc.stacks.create(
        stack_name=p.name,
        template=tpl,
        files=files,
        environment=env,
        parameters={"image": p.image},
        tags="bench," + p.kind,
    )["stack"]["id"]


def _wait(todo: dict[str, Planned], log) -> dict[str, str]:
    """Wait until every stack of ``todo`` (id → plan) is no longer IN_PROGRESS; id → status."""
    hc = admin()
    deadline = time.monotonic() + CREATE_TIMEOUT
    done: dict[str, str] = {}
    while len(done) < len(todo) and time.monotonic() < deadline:
        for sid, p in todo.items():
            if sid in done:
                continue
            st = hc.stacks.get(sid, resolve_outputs=False).stack_status
            if not st.endswith("IN_PROGRESS"):
                done[sid] = st
                if st != p.want:
                    log(f"  {p.name}: {st} (wanted {p.want})")
        time.sleep(0.5)
    return done


def ensure(quick: bool, log=print) -> dict:
    """Create what is missing of the plan; return ``{"roots": [...], "created": n, "seconds": s}``."""
    started = time.monotonic()
    wanted = plan(quick)
    project = QUICK_PROJECT if quick else None
    have = {
        (s.get("project"), s["stack_name"]): s
        for s in listing(project=project)
        if s["stack_name"].startswith("bench-") and not s.get("parent")
    }
    missing = [p for p in wanted if (p.project, p.name) not in have]
    in_progress = {
        have[(p.project, p.name)]["id"]: p
        for p in wanted
        if (p.project, p.name) in have
        and have[(p.project, p.name)]["stack_status"].endswith("IN_PROGRESS")
    }
    if in_progress:
        log(f"  waiting for {len(in_progress)} bench stack(s) still in progress")
        _wait(in_progress, log)
    if missing:
        log(f"  creating {len(missing)} bench root stack(s) on the sandbox, {BATCH} at a time")
    for i in range(0, len(missing), BATCH):
        batch = missing[i : i + BATCH]
        ids = {_create(p): p for p in batch}
        _wait(ids, log)
        log(f"  created {min(i + BATCH, len(missing))}/{len(missing)}")
    roots = [
        {"name": s["stack_name"], "project": s.get("project"), "id": s["id"],
         "status": s["stack_status"]}
        for s in listing(project=project)
        if s["stack_name"].startswith("bench-") and not s.get("parent")
        and (quick or s.get("project") in PROJECTS)
    ]
    return {"roots": roots, "created": len(missing), "seconds": time.monotonic() - started}


if __name__ == "__main__":  # python -m bench.sandbox [--quick]: create the bench stacks only
    info = ensure("--quick" in sys.argv)
    print(f"{len(info['roots'])} bench root stacks ({info['created']} created in {info['seconds']:.0f}s)")
