"""`heatseeker sync` against the real Heat sandbox: the index matches what the Heat API says."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from heatseeker.query import tree as t

from .conftest import ROOT, create, heat_quiet, unique, wait_heat
from .links_support import tree_chain, tree_parents


@pytest.fixture(scope="module")
def seeded(heat):
    """The sandbox's sample stacks: nested (ResourceGroup, provider templates, OS::Heat::Stack) in
    two projects, alpha and beta (idempotent)."""
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "sandbox", "seed.py")],
                   check=True, timeout=900)


def _listing(admin) -> dict:
    return {
        s.id: s.to_dict()
        for s in admin.stacks.list(global_tenant=True, show_nested=True)
        if not s.stack_name.endswith("*")
    }


@pytest.mark.alone  # compares the index with all of Heat
def test_sync_matches_heat(seeded, heat, make_heatseeker):
    heat_quiet()  # other tests' creates and deletes over: Heat holds still
    admin = heat("admin")
    hs = make_heatseeker()
    hs.sync()
    listing = _listing(admin)
    projects = {s["project"] for s in listing.values()}
    assert {"alpha", "beta"} <= projects
    assert any(s["parent"] for s in listing.values()), "the sandbox should hold nested stacks"
    # Heat's parent, or the creator of a stack made by OS::Heat::Stack (a link heatseeker keeps)
    parents = tree_parents(listing, heat)
    assert any(link for _, link in parents.values()), "the sandbox should hold an OS::Heat::Stack"
    for sid, s in listing.items():
        doc = hs.indexed(sid)
        assert doc is not None, f"{s['stack_name']} ({sid}) is not indexed"
        assert doc["project_id"] == s["project"]
        parent, linked = parents[sid]
        assert (doc["name"], doc["status"], doc["parent_id"]) == (
            s["stack_name"], s["stack_status"], parent)
        assert doc.get("link") == ("OS::Heat::Stack" if linked else None)
        chain = tree_chain(parents, sid)
        assert doc["ancestors"] == chain
        assert doc["path"] == [listing[i]["stack_name"] for i in chain] + [s["stack_name"]]
        assert doc["root_id"] == (chain[0] if chain else sid) and doc["depth"] == len(chain)
    # a deep comparison with show / resources for every stack of the two sample projects
    checked = 0
    for sid, s in listing.items():
        if s["project"] not in ("alpha", "beta"):
            continue
        hc = heat(s["project"])
        show = hc.stacks.get(sid).to_dict()
        doc = hs.indexed(sid)
        params = {k: v for k, v in show["parameters"].items() if not k.startswith("OS::")}
        assert doc["parameters"] == params
        assert [o["key"] for o in doc["outputs"]] == [o["output_key"] for o in show["outputs"]]
        resources = {r.resource_name: r for r in hc.resources.list(sid)}
        assert {r["name"] for r in doc["resources"]} == set(resources)
        for r in doc["resources"]:
            live = resources[r["name"]]
            assert (r["type"], r["status"]) == (live.resource_type, live.resource_status)
            assert r["physical_resource_id"] == (live.physical_resource_id or None) or (
                r["physical_resource_id"] == live.physical_resource_id)
            if r["nested_stack_id"]:
                assert listing[r["nested_stack_id"]]["parent"] in (sid, None)
        assert set(doc["resource_types"]) >= {r.resource_type for r in resources.values()}
        checked += 1
    assert checked >= 4
    # a second sync with nothing changed reads nothing
    out = hs.sync()
    assert " 0 added, 0 refreshed" in out, out


@pytest.mark.alone  # compares answers with all of Heat's alpha
def test_search_isolation_and_rollup(seeded, heat, make_heatseeker):
    heat_quiet()  # other tests' creates and deletes over: Heat holds still
    hs = make_heatseeker()
    hs.sync()
    alpha = hs.search("parameters.image:cirros-0.6.2", "--project", "alpha")
    everyone = hs.search("parameters.image:cirros-0.6.2", "--all-projects", "--limit", "1000")
    assert alpha["hits"]["total"] >= 1
    assert {h["_source"]["project_id"] for h in alpha["hits"]["hits"]} == {"alpha"}
    assert {"alpha", "beta"} <= {h["_source"]["project_id"] for h in everyone["hits"]["hits"]}
    for hit in everyone["hits"]["hits"]:
        assert hit["_type"] == "OS::Heat::Stack" and hit["_id"] == hit["_source"]["id"]
        assert hit["_source"]["parameters"]["image"] == "cirros-0.6.2"
    # answers agree with Heat: every stack whose parameter says so, and no other
    admin = heat("admin")
    truth = set()
    for s in _listing(admin).values():
        if s["project"] == "alpha":
            params = heat("alpha").stacks.get(s["id"], resolve_outputs=False).parameters
            if params.get("image") == "cirros-0.6.2":
                truth.add(s["id"])
    assert {h["_id"] for h in hs.search("parameters.image:cirros-0.6.2", "--project", "alpha",
                                        "--limit", "1000")["hits"]["hits"]} == truth
    # roll-up: root stacks holding a resource type anywhere in their tree, with the nested paths
    rolled = hs.search("resources.type:OS::Heat::TestResource", "--project", "alpha", "--rollup", "root")
    assert rolled["hits"]["total"] >= 1
    for root in rolled["hits"]["hits"]:
        assert root["_source"]["depth"] == 0 and root["_source"]["project_id"] == "alpha"
        for m in root["matches"]:
            assert m["path"][0] == root["_source"]["name"]
    assert any(m["depth"] > 0 for r in rolled["hits"]["hits"] for m in r["matches"])
    # a bad query is a clear error, not a traceback
    bad = hs.run("search", "--all-projects", "paramters.image:x", check=False)
    assert bad.returncode == 2 and "unknown field" in bad.stderr and "Traceback" not in bad.stderr
    unscoped = hs.run("search", "status:X", check=False)
    assert unscoped.returncode == 2 and "--all-projects" in unscoped.stderr


def test_hidden_value_appears_nowhere(heat, make_heatseeker):
    alpha = heat("alpha")
    secret = "E2E-HIDDEN-VALUE-" + unique("x")
    name = unique("hidden")
    sid = create(alpha, name, "app.yaml", "env.yaml",
                 parameters={"admin_pass": secret, "flavor": "m1.visible"})
    try:
        wait_heat(alpha, sid, "CREATE_COMPLETE")
        # the Heat API really does hand out the hidden default through the template endpoint
        assert "E2E-HIDDEN-DEFAULT-51c9" in str(alpha.stacks.template(sid))
        hs = make_heatseeker()
        hs.sync()
        doc = hs.indexed(sid)
        assert doc["parameters"]["admin_pass"] == "******"
        assert doc["parameters"]["flavor"] == "m1.visible"
        # positive control: a visible value is found both on disk and through search
        found_visible = False
        for dirpath, _, files in os.walk(hs.data_dir):
            for f in files:
                with open(os.path.join(dirpath, f), "rb") as fh:
                    data = fh.read()
                assert secret.encode() not in data, f"hidden value in {f}"
                assert b"E2E-HIDDEN-DEFAULT-51c9" not in data, f"hidden default in {f}"
                found_visible |= b"m1.visible" in data
        assert found_visible
        assert hs.count(t.Text(None, "m1.visible")) >= 1
        assert hs.count(t.Text(None, secret)) == 0
        assert hs.count(t.Text(None, "E2E-HIDDEN-DEFAULT-51c9")) == 0
        assert hs.count(t.Term("parameters.admin_pass", secret)) == 0
    finally:
        alpha.stacks.delete(sid)
        wait_heat(alpha, sid, "DELETE_COMPLETE")
