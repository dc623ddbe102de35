"""Reverse lookup, same-template stacks and OS::Heat::Stack links on the real Heat sandbox.

* ``heatseeker uses IMAGE`` finds the root and every nested stack (provider template, and a stack
  made by an ``OS::Heat::Stack`` resource) that uses the image, with where — and, for a non-admin
  caller of the API, nothing from another project that uses the same image;
* a stack created by ``OS::Heat::Stack`` (no parent in Heat) appears under its creator in ``show``,
  ``--under`` and the roll-up, whichever of the two the listener sees first;
* stacks deployed from the same template share ``template_fingerprint``; the environment's registry
  mappings are searchable.
"""

from __future__ import annotations

import contextlib
import json
import uuid

import pytest
import webob

from heatseeker import config
from heatseeker.api.app import build_app
from heatseeker.heat import events
from heatseeker.heat.client import HeatSource
from heatseeker.indexer import Indexer
from heatseeker.query import tree as t
from heatseeker.query.visibility import Visibility
from tests.unit.fakes import notification

from .conftest import create, unique, wait_for, wait_heat

IMAGE = f"img-e2e-{uuid.uuid4().hex[:8]}"


def _heat_tree(hc, root: str) -> dict[str, dict]:
    """id -> stack (as a dict) for ``root`` and its Heat-nested stacks."""
    stacks = {s.id: s.to_dict() for s in hc.stacks.list(show_nested=True)}
    out, todo = {}, [root]
    while todo:
        sid = todo.pop()
        out[sid] = stacks[sid]
        todo += [c for c, s in stacks.items() if s.get("parent") == sid]
    return out


def _uses_image(hc, sid: str) -> bool:
    return hc.stacks.get(sid).to_dict()["parameters"].get("image") == IMAGE


@pytest.fixture(scope="module")
def lab(heat):
    alpha, beta = heat("alpha"), heat("beta")
    made: list[tuple[object, str]] = []
    try:
        app = create(alpha, unique("uses-app"), "app.yaml", "env.yaml", parameters={"image": IMAGE})
        made.append((alpha, app))
        other = create(beta, unique("uses-beta"), "app.yaml", "env.yaml",
                       parameters={"image": IMAGE})
        made.append((beta, other))
        for hc, sid in made:
            wait_heat(hc, sid, "CREATE_COMPLETE", timeout=180)
        yield {"alpha": alpha, "beta": beta, "app": app, "beta_app": other, "made": made}
    finally:
        for hc, sid in reversed(made):
            with contextlib.suppress(Exception):  # best effort
                hc.stacks.delete(sid)


def _creator_and_child(hc, name: str) -> tuple[str, str]:
    creator = create(hc, name, "creator.yaml", parameters={"image": IMAGE})
    wait_heat(hc, creator, "CREATE_COMPLETE", timeout=180)
    child = next(r.physical_resource_id for r in hc.resources.list(creator)
                 if r.resource_type == "OS::Heat::Stack")
    return creator, child


def _api(hs, path: str, project: str, admin: bool = False):
    conf = config.new_conf()
    conf(["--config-file", hs.conf], default_config_files=[])
    conf.set_override("auth_strategy", "trusted-headers", group="api")
    app = build_app(conf)
    req = webob.Request.blank(path)
    req.headers.update({"X-Identity-Status": "Confirmed", "X-User-Id": "e2e", "X-Project-Id": project,
                        "X-Roles": "admin,member" if admin else "member",
                        "X-Is-Admin-Project": "True" if admin else "False"})
    resp = req.get_response(app)
    return resp.status_int, resp.json


def test_uses_links_and_same_template(lab, make_heatseeker):
    alpha = lab["alpha"]
    hs = make_heatseeker()
    hs.sync()
    # the listener sees the OS::Heat::Stack creator and its stack in whatever order Heat notifies
    hs.start_listener()
    creator, child = _creator_and_child(alpha, unique("uses-creator"))
    lab["made"].append((alpha, creator))

    def linked():
        doc = hs.indexed(child)
        return doc if doc and doc.get("created_by") == creator else None

    doc = wait_for(linked, 120, "the OS::Heat::Stack child linked to its creator")
    assert doc["link"] == "OS::Heat::Stack" and doc["parent_id"] == creator
    assert doc["root_id"] == creator and doc["ancestors"] == [creator] and doc["depth"] == 1
    assert doc["parent_resource"] == "app"
    assert alpha.stacks.get(child).to_dict().get("parent") is None  # Heat keeps no parent
    wait_for(lambda: hs.indexed(creator) and hs.indexed(creator)["status"] == "CREATE_COMPLETE",
             60, "the creator indexed")

    # -- reverse lookup: the root and every nested stack that uses the image, with where ----------
    expected: set[str] = set()
    for root in (lab["app"], creator):
        expected |= {sid for sid in _heat_tree(alpha, root) if _uses_image(alpha, sid)}
    expected |= {child} | {sid for sid in _heat_tree(alpha, child) if _uses_image(alpha, sid)}
    assert len(expected) >= 4  # app root, its provider-template stack, creator, linked child
    wait_for(lambda: all(hs.indexed(s) for s in expected), 60, "every stack indexed")
    out = json.loads(hs.run("uses", IMAGE, "--project", "alpha", "--json").stdout)
    got = {s["id"]: s for s in out["stacks"]}
    assert set(got) == expected
    assert {r["root_id"] for r in out["roots"]} == {lab["app"], creator}
    assert {s["project_id"] for s in got.values()} == {"alpha"}
    app_where = {w["path"] for w in got[lab["app"]]["where"]}
    assert "parameters.image" in app_where
    nested = [s for s in got.values() if s["root_id"] == lab["app"] and s["depth"] > 0]
    assert nested and all(s["path"][0] == got[lab["app"]]["name"] for s in nested)
    assert all({"parameters.image", "outputs.image"} <= {w["path"] for w in s["where"]}
               for s in nested)  # box.yaml: the parameter, and the output echoing it
    assert got[child]["link"] == "OS::Heat::Stack" and got[child]["root_id"] == creator
    assert {"parameters.image", "outputs.image"} <= {w["path"] for w in got[child]["where"]}
    text = hs.run("uses", IMAGE, "--project", "alpha").stdout
    assert f"{len(expected)} stack(s) in 2 root stack(s)" in text and "(link: OS::Heat::Stack)" in text
    # every project (the operator): beta's stacks too
    everyone = json.loads(hs.run("uses", IMAGE, "--all-projects", "--json").stdout)
    beta_ids = {s["id"] for s in everyone["stacks"] if s["project_id"] == "beta"}
    assert lab["beta_app"] in beta_ids and set(got) <= {s["id"] for s in everyone["stacks"]}

    # the API, as a member of alpha (not an admin): nothing of beta, whatever is asked
    status, body = _api(hs, f"/v1/search/uses?value={IMAGE}", "alpha")
    assert status == 200 and {s["id"] for s in body["stacks"]} == expected
    status, body = _api(hs, f"/v1/search/uses?value={IMAGE}&under={lab['beta_app']}", "alpha")
    assert status == 200 and body["stacks"] == []
    status, body = _api(hs, f"/v1/search/uses?value={IMAGE}&all_projects=true", "alpha")
    assert status == 403
    status, body = _api(hs, f"/v1/search/uses?value={IMAGE}", "beta")
    assert status == 200 and {s["project_id"] for s in body["stacks"]} == {"beta"}
    assert not ({s["id"] for s in body["stacks"]} & expected)

    # -- the linked stack in the tree: show, --under, roll-up ---------------------------------------
    tree = json.loads(hs.run("show", "--json", creator).stdout)
    assert [c["stack"]["id"] for c in tree["children"]] == [child]
    shown = hs.run("show", creator).stdout
    assert "(link: OS::Heat::Stack)" in shown and child in shown
    under = hs.search("depth:>=0", "--project", "alpha", "--under", creator, "--limit", "100")
    assert {h["_id"] for h in under["hits"]["hits"]} == {creator, *_heat_tree(alpha, child)}
    rolled = hs.search(f"parameters.image:{IMAGE}", "--project", "alpha", "--rollup", "root")
    roots = {h["_id"]: h for h in rolled["hits"]["hits"]}
    assert set(roots) == {lab["app"], creator}
    assert child in {m["id"] for m in roots[creator]["matches"]}
    # beta sees nothing of alpha's tree
    assert hs.search("depth:>=0", "--project", "beta", "--under", creator)["hits"]["total"] == 0

    # -- same template, same registry mapping ----------------------------------------------------
    fp = hs.indexed(lab["app"])["template_fingerprint"]
    assert hs.indexed(lab["beta_app"])["template_fingerprint"] == fp
    same = hs.search(f"template_fingerprint:{fp}", "--all-projects", "--limit", "100")
    assert {lab["app"], lab["beta_app"]} <= {h["_id"] for h in same["hits"]["hits"]}
    alpha_only = hs.search(f"template_fingerprint:{fp}", "--project", "alpha", "--limit", "100")
    assert {h["_source"]["project_id"] for h in alpha_only["hits"]["hits"]} == {"alpha"}
    assert "stack(s) from this template" in hs.run("show", lab["app"]).stdout
    mapped = hs.search('registry_map:"My::Box=box.yaml"', "--project", "alpha", "--limit", "100")
    assert lab["app"] in {h["_id"] for h in mapped["hits"]["hits"]}
    assert "My::Box" in hs.indexed(lab["app"])["registry_types"]

    # -- reindex keeps the links --------------------------------------------------------------------
    hs.kill_listener()
    hs.run("reindex")
    hs.close()
    hs._engine = None
    assert hs.indexed(child)["created_by"] == creator
    assert hs.searcher().count(t.Term("ancestors", creator), view=Visibility.everything()) >= 1


def test_child_seen_before_its_creator(lab, make_heatseeker):
    """sync finds the creator's stack first (a separate sync), the creator later: linked."""
    alpha = lab["alpha"]
    creator, child = _creator_and_child(alpha, unique("uses-order"))
    lab["made"].append((alpha, creator))
    hs = make_heatseeker("order")
    store = hs.store()
    conf = config.new_conf()
    conf(["--config-file", hs.conf], default_config_files=[])
    # only the child's notification arrives (the creator's are late)
    name = alpha.stacks.get(child).stack_name
    Indexer(store, HeatSource.from_conf(conf)).apply_events(
        [events.parse(notification(child, name, "create", "end"))])
    assert store.get(child).doc["created_by"] is None
    hs.sync()  # the creator arrives: the child is re-linked (a new store change) and re-projected
    doc = hs.indexed(child)
    assert doc["created_by"] == creator and doc["root_id"] == creator
    assert doc["path"] == [alpha.stacks.get(creator).stack_name, name]
