#!/usr/bin/env python3
"""Capture real Heat answers and notifications from the sandbox as test fixtures.

    .venv/bin/python tools/sandbox/capture.py [--out tests/fixtures/heat-27]

Needs a running sandbox (tools/sandbox/start.sh); seeds it first (idempotent).
Reads everything as the cloud admin (project ``admin``), as heatseeker does.
Writes (see tests/fixtures/heat-27/README.md):

  stacks_global.json         admin: stacks.list(global_tenant=True, show_nested=True)
  stacks_alpha.json          project alpha's own plain listing (tenant isolation)
  stacks_beta.json           project beta's own plain listing
  web-prod/ web-prod-frontend/ web-prod-worker_group/
                             show.json template.json environment.json files.json
                             resources.json (nested_depth=0)
  notifications.jsonl        every notification of: create, update, suspend, resume
                             and delete of notif-demo (1 nested stack) and a create
                             that fails + delete of notif-fail; one oslo message a line
  meta.json                  ids, names, the steps, when and against what it was captured

Listings keep only the seeded stacks (their nested stacks and OS::Heat::Stack
children included): stacks made meanwhile by other tests are left out.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import heatlab  # noqa: E402
import seed  # noqa: E402

REPO = HERE.parent.parent
DEFAULT_OUT = REPO / "tests" / "fixtures" / "heat-27"
NOTIF_STACKS = ("notif-demo", "notif-fail")


def dump(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def capture_stack(admin, sid: str, out: Path) -> None:
    """The five answers heatseeker reads for one stack."""
    dump(out / "show.json", admin.stacks.get(sid).to_dict())
    dump(out / "template.json", admin.stacks.template(sid))
    dump(out / "environment.json", admin.stacks.environment(sid))
    dump(out / "files.json", admin.stacks.files(sid))
    dump(out / "resources.json", [r.to_dict() for r in admin.resources.list(sid, nested_depth=0)])


def capture_notifications(out: Path, say) -> dict:
    alpha = heatlab.hc_for("alpha")
    # leftovers of an interrupted run: delete them before the tap is bound
    for name in NOTIF_STACKS:
        old = heatlab.find(alpha, name)
        if old is not None:
            heatlab.delete(alpha, old.id)
    steps = []

    def step(what: str) -> None:
        steps.append(what)
        say(f"notifications: {what}")

    with heatlab.NotificationTap() as tap:  # bound BEFORE the first action
        step("create notif-demo (notif.yaml + env.yaml, tags notif)")
        sid = heatlab.create(alpha, "notif-demo", "notif.yaml", env="env.yaml", tags="notif")
        step("update notif-demo: image cirros-0.6.3, tags notif,updated")
        tpl, files, env = heatlab.contents("notif.yaml", "env.yaml")
        alpha.stacks.update(
            sid,
            template=tpl,
            files=files,
            environment=env,
            parameters={"image": "cirros-0.6.3"},
            tags="notif,updated",
        )
        heatlab.wait_status(alpha, sid, "UPDATE_COMPLETE")
        step("suspend notif-demo")
        alpha.actions.suspend(sid)
        heatlab.wait_status(alpha, sid, "SUSPEND_COMPLETE")
        step("resume notif-demo")
        alpha.actions.resume(sid)
        heatlab.wait_status(alpha, sid, "RESUME_COMPLETE")
        step("create notif-fail (fail.yaml: OS::Heat::TestResource fail: true) -> CREATE_FAILED")
        fid = heatlab.create(alpha, "notif-fail", "fail.yaml", wait=False)
        heatlab.wait_status(alpha, fid, "CREATE_FAILED")
        step("delete notif-fail")
        heatlab.delete(alpha, fid)
        step("delete notif-demo")
        nested = [s.id for s in heatlab.descendants(heatlab.hc_for(heatlab.ADMIN), sid)]
        heatlab.delete(alpha, sid)
        got = tap.drain(idle=2.0)

    mine = [
        m
        for m in got
        if isinstance(m, dict)
        and str(m.get("payload", {}).get("stack_name", "")).startswith(NOTIF_STACKS)
    ]
    with (out / "notifications.jsonl").open("w") as f:
        for m in mine:
            f.write(json.dumps(m, sort_keys=True, ensure_ascii=False) + "\n")
    say(f"notifications: {len(mine)} kept of {len(got)} received")
    return {
        "stacks": {"notif-demo": sid, "notif-fail": fid},
        "notif-demo_nested": nested,
        "steps": steps,
        "count": len(mine),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    out: Path = args.out.resolve()

    def say(*a):
        print(*a, file=sys.stderr)

    t0 = time.monotonic()
    seeded = seed.seed(say=say)
    admin = heatlab.hc_for(heatlab.ADMIN)

    # everything the seed made: roots, their nested stacks, OS::Heat::Stack's stacks
    keep = set()
    for s in seeded:
        keep.add(s["id"])
        keep.update(n["id"] for n in s["nested"])
        for rid in s["separate_stacks"]:
            keep.add(rid)
            keep.update(n.id for n in heatlab.descendants(admin, rid))

    for sub in ("web-prod", "web-prod-frontend", "web-prod-worker_group"):
        shutil.rmtree(out / sub, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)

    listing = [s.to_dict() for s in admin.stacks.list(global_tenant=True, show_nested=True)]
    dump(out / "stacks_global.json", [s for s in listing if s["id"] in keep])
    for project in ("alpha", "beta"):
        own = [s.to_dict() for s in heatlab.hc_for(project).stacks.list()]
        dump(out / f"stacks_{project}.json", [s for s in own if s["id"] in keep])

    web = next(s for s in seeded if s["name"] == "web-prod")
    picked = {"web-prod": web["id"]}
    for n in web["nested"]:
        if n["parent"] == web["id"]:  # depth 1: web-prod-frontend-…, web-prod-worker_group-…
            picked["web-prod-" + n["name"][len("web-prod-") :].rsplit("-", 1)[0]] = n["id"]
    for sub, sid in picked.items():
        say(f"capturing {sub} ({sid})")
        capture_stack(admin, sid, out / sub)

    notif = capture_notifications(out, say)

    dump(
        out / "meta.json",
        {
            "captured_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "heat": "openstack-heat 27.0.1 (tools/sandbox/requirements-heat.lock), noauth",
            "command": "bash tools/sandbox/start.sh && .venv/bin/python tools/sandbox/capture.py",
            "hidden_default": heatlab.HIDDEN_DEFAULT,
            "seed": seeded,
            "captured_stacks": picked,
            "notifications": notif,
        },
    )

    # The create-time value of the hidden parameter must show nowhere. Its
    # *default* is returned unmasked by GET .../template (real Heat behaviour):
    # only web-prod/template.json (and meta.json, which names it) may contain it.
    leaks, defaults = [], []
    for p in sorted(out.rglob("*")):
        if not p.is_file():
            continue
        text = p.read_text()
        if heatlab.HIDDEN_VALUE in text:
            leaks.append(str(p.relative_to(out)))
        if heatlab.HIDDEN_DEFAULT in text and p.name not in ("meta.json", "README.md"):
            defaults.append(str(p.relative_to(out)))
    if leaks:
        say(f"ERROR: the hidden value {heatlab.HIDDEN_VALUE} is in {leaks}")
        return 1
    if defaults != ["web-prod/template.json"]:
        say(f"ERROR: the hidden default is in {defaults}, expected web-prod/template.json only")
        return 1
    say(f"captured into {out} in {time.monotonic() - t0:.1f}s; hidden value nowhere")
    return 0


if __name__ == "__main__":
    sys.exit(main())
