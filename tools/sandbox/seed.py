#!/usr/bin/env python3
"""Seed the Heat sandbox with sample stacks in projects ``alpha`` and ``beta``.

    .venv/bin/python tools/sandbox/seed.py [--json] [--timeout SECONDS]

Idempotent: a stack that already exists (by name, in its project) is left
alone; one that FAILED is deleted and created again. All creates run at once,
then the script waits for them. Prints a summary (JSON with --json).

  alpha/web-prod     web.yaml + env.yaml: RandomString, Value, provider
                     template My::Server (server.yaml), ResourceGroup of 2
                     My::WebMember (each a My::Server): 6 nested stacks, depth 3;
                     hidden parameter db_password; tags prod,web
  alpha/db-staging   db.yaml, image=ubuntu-24.04, tags staging
  beta/remote-parent remote.yaml: OS::Heat::Stack, whose stack is a separate
                     top-level stack of beta (remote-parent-inner-...)
  beta/beta-app      app.yaml + env.yaml, image=cirros-0.6.2 (as alpha's web-prod)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import heatlab  # noqa: E402

SEED = [
    {
        "project": "alpha",
        "name": "web-prod",
        "template": "web.yaml",
        "env": "env.yaml",
        "parameters": {"db_password": heatlab.HIDDEN_VALUE},
        "tags": "prod,web",
    },
    {
        "project": "alpha",
        "name": "db-staging",
        "template": "db.yaml",
        "parameters": {"image": "ubuntu-24.04"},
        "tags": "staging",
    },
    {"project": "beta", "name": "remote-parent", "template": "remote.yaml"},
    {
        "project": "beta",
        "name": "beta-app",
        "template": "app.yaml",
        "env": "env.yaml",
        "parameters": {"image": "cirros-0.6.2"},
    },
]


def seed(timeout: float = 300, say=print) -> list[dict]:
    """Make sure every SEED stack exists and is complete; return one dict each."""
    pending: list[tuple[dict, str]] = []
    results: dict[str, dict] = {}
    for spec in SEED:
        hc = heatlab.hc_for(spec["project"])
        st = heatlab.find(hc, spec["name"])
        if st is not None and (
            st.stack_status.endswith("_FAILED") or st.stack_status.startswith("DELETE")
        ):
            say(
                f"{spec['project']}/{spec['name']}: {st.stack_status}: deleting it to create it again"
            )
            heatlab.delete(hc, st.id)
            st = None
        if st is None:
            sid = heatlab.create(
                hc,
                spec["name"],
                spec["template"],
                env=spec.get("env"),
                parameters=spec.get("parameters"),
                tags=spec.get("tags"),
                wait=False,
            )
            results[spec["name"]] = {"seeded": "created"}
            say(f"{spec['project']}/{spec['name']}: creating ({sid})")
        else:
            sid = st.id
            results[spec["name"]] = {"seeded": "existing"}
            if st.stack_status.endswith("_COMPLETE"):
                say(f"{spec['project']}/{spec['name']}: exists ({st.stack_status})")
            else:
                say(f"{spec['project']}/{spec['name']}: {st.stack_status}: waiting")
        pending.append((spec, sid))

    for spec, sid in pending:
        hc = heatlab.hc_for(spec["project"])
        want = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "RESUME_COMPLETE", "CHECK_COMPLETE")
        results[spec["name"]]["status"] = heatlab.wait_status(hc, sid, want, timeout=timeout)

    # One admin listing of every project's stacks, nested included, to report
    # what the seed made.
    admin = heatlab.hc_for(heatlab.ADMIN)
    every = list(admin.stacks.list(global_tenant=True, show_nested=True))
    children: dict[str, list] = {}
    for st in every:
        if getattr(st, "parent", None):
            children.setdefault(st.parent, []).append(st)
    out = []
    for spec, sid in pending:
        nested, todo = [], [sid]
        while todo:
            for st in children.get(todo.pop(), []):
                nested.append({"name": st.stack_name, "id": st.id, "parent": st.parent})
                todo.append(st.id)
        hc = heatlab.hc_for(spec["project"])
        remote = [
            r.physical_resource_id
            for r in hc.resources.list(sid)
            if r.resource_type == "OS::Heat::Stack"
        ]
        out.append(
            {
                "project": spec["project"],
                "name": spec["name"],
                "id": sid,
                **results[spec["name"]],
                "template": spec["template"],
                "parameters": {
                    k: ("******" if k == "db_password" else v)
                    for k, v in (spec.get("parameters") or {}).items()
                },
                "tags": spec["tags"].split(",") if spec.get("tags") else [],
                "nested": sorted(nested, key=lambda n: n["name"]),
                "separate_stacks": remote,  # made by OS::Heat::Stack: no parent
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    ap.add_argument("--timeout", type=float, default=300, help="seconds to wait per stack")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    try:
        stacks = seed(timeout=args.timeout, say=say)
    except heatlab.SandboxError as e:
        print(f"seed failed: {e}", file=sys.stderr)
        return 1
    took = round(time.monotonic() - t0, 1)
    if args.json:
        print(json.dumps({"took_s": took, "stacks": stacks}, indent=1))
        return 0
    made = sum(s["seeded"] == "created" for s in stacks)
    print(f"seeded {len(stacks)} stacks in {took}s ({made} created, {len(stacks) - made} existing)")
    print(f"{'project':8} {'stack':14} {'status':16} {'nested':>6}  id")
    for s in stacks:
        extra = (
            f"  (+ separate stack {', '.join(s['separate_stacks'])})"
            if s["separate_stacks"]
            else ""
        )
        print(
            f"{s['project']:8} {s['name']:14} {s['status']:16} {len(s['nested']):>6}  {s['id']}{extra}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
