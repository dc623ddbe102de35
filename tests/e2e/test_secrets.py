"""Secrets by structure against the real Heat sandbox (issue #11, points 4 and 5).

One root stack (tests/e2e/templates/secrets_*.yaml) whose hidden values reach places Heat does not
mask, two levels down: a provider-template child whose (not hidden) ``password`` parameter is fed by
the root's hidden ``db_password``, and its grandchild fed by that; a ResourceGroup whose generated
template carries the resolved values (Magnum's kube_masters shape); an OS::Heat::Stack fed through
its ``parameters``; a name hidden only in the root given in ``parameter_defaults`` (every nested
stack's environment carries it); outputs through ``str_replace``, ``list_join``, ``yaql``,
``map_merge`` (TripleO's role_data) and ``get_attr`` of children; an ``OS::Heat::RandomString``
value (a value Heat generates, a credential source) passed down. Heat shows each of those values in
clear somewhere (checked first, so the test can fail); heatseeker, run as the listener and as
``sync`` (from empty), must keep none of them in any byte under its data_dir (the store's rows and
revisions, decompressed too, and the index's files), in any stored index document, in any API or
CLI answer. The non-secret ``guest`` (equal to a hidden default) is never masked and a search for
it answers exactly the stacks that hold it.

(OS::Heat::WaitConditionHandle needs Keystone, which the noauth sandbox does not have: its
``curl_cli``/``token`` are covered by tests/unit/test_secrets.py.)
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
import zlib

import pytest
import webob

from heatseeker import config
from heatseeker.api.app import build_app

from .conftest import contents, delete_stacks, unique, wait_for, wait_heat

PROJECT = "alpha"
MASK = "******"


def _tree(admin, root: str) -> dict[str, dict]:
    """Every stack below the root in Heat (nested ones and the OS::Heat::Stack one), by id."""
    listing = {s.id: s.to_dict() for s in admin.stacks.list(global_tenant=True, show_nested=True)
               if not s.stack_name.endswith("*")}
    found = {root}
    linked = [r.physical_resource_id for r in admin.resources.list(root)
              if r.resource_type == "OS::Heat::Stack"]
    found.update(linked)
    grew = True
    while grew:
        grew = False
        for sid, s in listing.items():
            if sid not in found and s.get("parent") in found:
                found.add(sid)
                grew = True
    return {sid: listing[sid] for sid in found}


def _zlib_streams(data: bytes):
    """Every zlib stream (level 1 header, as the store's revisions) found in a file's bytes."""
    start = 0
    while True:
        i = data.find(b"\x78\x01", start)
        if i < 0:
            return
        start = i + 1
        try:
            yield zlib.decompressobj().decompress(data[i:])
        except zlib.error:
            continue


def _data_dir_bytes(data_dir: str) -> list[tuple[str, bytes]]:
    """Every file under data_dir as bytes, plus every zlib stream inside them, plus every revision
    body decompressed through SQLite (pages may split a stream)."""
    out: list[tuple[str, bytes]] = []
    for base, _, names in os.walk(data_dir):
        for name in names:
            path = os.path.join(base, name)
            with open(path, "rb") as f:
                data = f.read()
            out.append((path, data))
            out.extend((f"{path} (zlib at some offset)", s) for s in _zlib_streams(data))
    db = sqlite3.connect(os.path.join(data_dir, "state.sqlite"))
    for sid, rev, body in db.execute("SELECT stack_id, rev, body FROM revisions"):
        body = bytes(body)
        raw = zlib.decompress(body[1:]) if body[:1] == b"z" else body[1:]
        out.append((f"revision {sid}#{rev}", raw))
    for row in db.execute("SELECT id, doc, taint FROM stacks"):
        out.append((f"row {row[0]}", json.dumps(row).encode()))
    # the documents' shared parts (record/contents.py), decompressed through SQLite too
    for digest, body in db.execute("SELECT digest, body FROM contents"):
        out.append((f"content {digest}", zlib.decompress(bytes(body))))
    assert any(name.startswith("content ") for name, _ in out), "no content was scanned"
    db.close()
    return out


def _api(hs, method: str, path: str, body=None) -> tuple[int, str]:
    """One API answer, as a cloud admin across every project (the tree lives in project alpha)."""
    if body is not None:
        body = dict(body, all_projects=True)
    else:
        path += ("&" if "?" in path else "?") + "all_projects=true"
    conf = config.new_conf()
    conf(["--config-file", hs.conf], default_config_files=[])
    conf.set_override("auth_strategy", "trusted-headers", group="api")
    app = build_app(conf)
    req = webob.Request.blank(path, method=method)
    if body is not None:
        req.body = json.dumps(body).encode()
        req.content_type = "application/json"
    req.headers.update({"X-Identity-Status": "Confirmed", "X-User-Id": "e2e", "X-Project-Id": "admin",
                        "X-Roles": "admin,member", "X-Is-Admin-Project": "True"})
    resp = req.get_response(app)
    return resp.status_int, resp.text


def _search_ids(hs, query: dict) -> set[str]:
    status, text = _api(hs, "POST", "/v1/search", {"query": query, "size": 1000, "_source": ["id"]})
    assert status == 200, text
    return {h["_id"] for h in json.loads(text)["hits"]["hits"]}


@pytest.fixture
def secret_tree(heat):
    hc = heat(PROJECT)
    admin = heat("admin")
    db_password = f"E2eDbPw-{uuid.uuid4().hex[:12]}"
    root_only = f"E2eRootPd-{uuid.uuid4().hex[:12]}"
    tpl, files, env = contents("secrets_root.yaml", "secrets_env.yaml")
    env = dict(env, parameter_defaults={"root_only_pw": root_only})
    made: list = []
    yield {"hc": hc, "admin": admin, "db": db_password, "pd": root_only, "tpl": tpl,
           "files": files, "env": env, "made": made}
    delete_stacks(made)


@pytest.mark.alone  # `status` counts unfollowed secrets over all of Heat
def test_no_secret_reaches_heatseeker_and_guest_answers_exactly(secret_tree, make_heatseeker):
    t = secret_tree
    hc, admin = t["hc"], t["admin"]
    hs = make_heatseeker("listened")
    hs.start_listener()  # the listener sees Heat's notifications, children before parents
    root = hc.stacks.create(stack_name=unique("secrets"), template=t["tpl"], files=t["files"],
                            environment=t["env"], parameters={"db_password": t["db"]})["stack"]["id"]
    t["made"].append((hc, root))
    wait_heat(hc, root, "CREATE_COMPLETE", timeout=180)
    tree = _tree(admin, root)
    assert len(tree) == 7  # root, child, grandchild, group, 2 members, the OS::Heat::Stack one

    # -- what Heat shows in clear (so that this test can fail) -------------------------------------
    shows = {sid: admin.stacks.get(sid).to_dict() for sid in tree}
    envs = {sid: admin.stacks.environment(sid) for sid in tree}
    templates = {sid: admin.stacks.template(sid) for sid in tree}
    by_name = {s["stack_name"]: sid for sid, s in tree.items()}
    root_outputs = {o["output_key"]: o["output_value"] for o in shows[root]["outputs"]}
    rand = root_outputs["rand_out"]
    assert isinstance(rand, str) and len(rand) == 24
    secrets = {"db_password": t["db"], "parameter_defaults": t["pd"], "RandomString": rand}
    heat_text = json.dumps([shows, envs, templates])
    for what, value in secrets.items():
        assert value in heat_text, f"Heat should show the {what} somewhere in clear"
    child = next(sid for sid, s in tree.items() if s.get("parent") == root
                 and shows[sid]["parameters"].get("password") == t["db"])
    grandchild = next(sid for sid, s in tree.items() if s.get("parent") == child)
    group = next(sid for sid, s in tree.items() if s.get("parent") == root and sid != child)
    members = [sid for sid, s in tree.items() if s.get("parent") == group]
    inline = next(sid for sid in tree if sid not in {root, child, grandchild, group, *members})
    assert len(members) == 2 and by_name
    assert t["db"] in json.dumps(templates[group])  # the group's generated template: resolved
    assert t["pd"] in json.dumps(envs[child]["parameter_defaults"])  # inherited in clear

    def settled(h):
        docs = {sid: h.indexed(sid) for sid in tree}
        return all(d and d["status"] == "CREATE_COMPLETE" and d["outputs"] for sid, d in docs.items()
                   if sid != group) and docs

    wait_for(lambda: settled(hs), 180, "every stack of the tree indexed by the listener")
    hs.sync()  # beside the listener: refreshes nothing that did not change
    fresh = make_heatseeker("synced")
    fresh.sync()  # from empty: parents before children (and the OS::Heat::Stack creator first)
    assert settled(fresh)

    for h in (hs, fresh):
        docs = {sid: h.indexed(sid) for sid in tree}
        # -- structure: exactly the secret places are masked ----------------------------------
        assert docs[child]["parameters"]["password"] == MASK
        assert docs[child]["parameters"]["user"] == "guest"
        assert docs[child]["parameters"]["token"] == MASK  # a RandomString value passed down
        assert docs[grandchild]["parameters"] == {"pw": MASK, "user": "guest"}
        assert docs[inline]["parameters"]["password"] == MASK
        assert docs[inline]["parameters"]["label"] == "plain-label"
        for m in members:
            assert docs[m]["parameters"]["ca_key"] == MASK  # not hidden in the member
            assert docs[m]["parameters"]["name"].startswith("member-")
        props = docs[group]["template"]["resources"]["0"]["properties"]
        assert props["trustee_password"] == props["ca_key"] == MASK
        assert props["name"] == "member-0" and props["trustee_user"] == "trustee"
        root_doc = docs[root]
        outs = {o["key"]: o["value"] for o in root_doc["outputs"]}
        for key in ("dsn", "joined", "child_conn", "child_role_data", "rand_out", "member_keys",
                    "inline_echo"):
            assert outs[key] == MASK, key
        assert outs["user"] == "guest" and outs["inline_label"] == "plain-label"
        assert {o["key"]: o["value"] for o in docs[grandchild]["outputs"]}["who"] == "guest"
        for sid in (child, grandchild, *members, group):
            assert docs[sid]["environment"]["parameter_defaults"]["root_only_pw"] == MASK
        tpl = root_doc["template"]
        assert tpl["parameters"]["rabbit_user"]["default"] == "guest"
        assert tpl["parameters"]["CollectdAmqpPassword"]["default"] == MASK
        assert tpl["resources"]["group"]["properties"]["resource_def"]["properties"][
            "trustee_user"] == {"get_param": "trustee_password_user"}  # never trustee_******

        # -- every byte under data_dir, every stored index document, every answer -----------------
        blobs = _data_dir_bytes(h.data_dir)
        assert any(b"member-0" in data for _, data in blobs)  # the grep does see documents
        answers = [json.dumps(docs)]
        for sid in tree:
            status, text = _api(h, "GET", f"/v1/search/stacks/{sid}")
            assert status == 200 and sid in text
            answers.append(text)
            revisions = h.store().revisions(sid)
            assert revisions
            for path in [f"/v1/search/stacks/{sid}/history",
                         *(f"/v1/search/stacks/{sid}/history?revision={r.rev}" for r in revisions)]:
                status, text = _api(h, "GET", path)
                assert status == 200, (path, text)
                answers.append(text)
        status, text = _api(h, "POST", "/v1/search", {"query": {"term": {"root_id": root}},
                                                       "size": 100})
        assert status == 200 and len(json.loads(text)["hits"]["hits"]) == len(tree)
        answers.append(text)
        answers.append(_api(h, "GET", "/v1/search/facets")[1])
        answers.append(_api(h, "GET", "/v1/search/uses?value=guest")[1])
        answers.append(h.run("search", "--json", f"root_id:{root}", "--limit", "100",
                             "--all-projects").stdout)
        answers.append(h.run("status", "--json").stdout)
        for what, value in secrets.items():
            needle = value.encode()
            leaks = [name for name, data in blobs if needle in data]
            assert not leaks, f"the {what} is in {leaks}"
            assert not [a for a in answers if value in a], f"the {what} is in an answer"
            for query in ({"query_string": {"query": f'"{value}"'}},
                          {"query_string": {"query": f"parameters.password:{value}"}},
                          {"query_string": {"query": f"outputs.value:{value}"}}):
                assert _search_ids(h, query) == set(), (what, query)
            status, text = _api(h, "GET", f"/v1/search/uses?value={value}")
            assert status == 200 and json.loads(text)["stacks"] == [], what

        # -- the non-secret `guest`: exactly the stacks that hold it -------------------------------
        holding = {root, child, grandchild}
        status, text = _api(h, "GET", "/v1/search/uses?value=guest")
        assert status == 200
        assert {s["id"] for s in json.loads(text)["stacks"]} & set(tree) == holding
        assert _search_ids(h, {"query_string": {"query": "guest"}}) & set(tree) == holding
        assert _search_ids(h, {"query_string": {"query": "parameters.user:guest"}}) & set(tree) == {
            child, grandchild}
        assert _search_ids(h, {"query_string": {"query": "outputs.value:guest"}}) & set(tree) == {
            root, child, grandchild}
        status_out = json.loads(h.run("status", "--json").stdout)
        assert status_out["secrets_unfollowed"] == {"stacks": 0, "places": 0}
