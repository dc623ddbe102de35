"""The search API end to end, with every part real: Heat (noauth sandbox) creates stacks in two
Keystone projects, ``heatseeker sync`` + ``heatseeker listen`` index them, ``heatseeker serve``
answers behind keystonemiddleware validating real Fernet tokens from the Keystone sandbox, and
python-searchlightclient 2.1.1 (the ``openstack`` CLI, unchanged) finds it through Keystone's
catalog. Answers are compared with what the Heat API says; waits poll, no timing is asserted.

Needs: ``bash tools/sandbox/start.sh`` and ``bash tools/keystone/ensure.sh``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from tools.keystone import keystonelab as kl
from tools.sandbox import heatlab

from .api_support import (
    Api,
    ApiHeatseeker,
    free_port,
    heat_path,
    heat_stacks,
    heat_subtree,
    openstack_all,
)
from .conftest import create, delete_stacks, remove_leftovers, unique, wait_for, wait_heat

IMAGE = "cirros-0.6.2"  # shared by both projects' stacks (and by the sandbox's seeded ones)
PREFIX = "e2eapi"  # names of the stacks this module makes (leftovers of a killed run are removed)
QUERY = f"parameters.image:{IMAGE}"
QS = {"query_string": {"query": QUERY}}


@dataclass
class Tree:
    """One root stack as Heat shows it."""

    project: str
    hc: Any
    root: str
    name: str
    children: dict[str, list[str]]  # parent id -> child ids, the root and every descendant
    stacks: dict[str, Any]  # id -> heatclient Stack (list view)
    with_image: set[str]  # the stacks of the tree whose parameter image is IMAGE (Heat's GET)
    paths: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ids(self) -> set[str]:
        return set(self.children)

    def path(self, sid: str) -> list[str]:
        """Names from the root down to `sid`: Heat's parent chain, walked once per stack."""
        if sid not in self.paths:
            self.paths[sid] = heat_path(self.hc, sid)
        return self.paths[sid]


@dataclass
class Lab:
    hs: ApiHeatseeker
    api: Api
    ids: dict[str, str]
    tokens: dict[str, str]
    alpha: Tree
    beta: Tree
    hidden: str
    shown: list[str] = field(default_factory=list)  # CLI outputs, for the hidden-value check

    def token(self, user: str) -> str:
        return self.tokens[user]

    def ours(self, query: dict | None = None, **extra) -> dict:
        """A search across projects (the cloud admin's) kept to this module's two trees: the
        sandbox may hold hundreds of other stacks with the same image."""
        roots = {"terms": {"root_id": [self.alpha.root, self.beta.root]}}
        q = {"bool": {"must": [query], "filter": [roots]}} if query else roots
        return {"query": q, "all_projects": True, "limit": 200, **extra}


def _tree(project: str, hc, root: str) -> Tree:
    stacks = heat_stacks(hc)
    children = heat_subtree(stacks, root)
    with_image = {sid for sid in children
                  if hc.stacks.get(sid, resolve_outputs=False).parameters.get("image") == IMAGE}
    return Tree(project, hc, root, stacks[root].stack_name, children, stacks, with_image)


@pytest.fixture(scope="module")
def lab(heat, tmp_path_factory):
    if not kl.available():
        pytest.fail(f"the Keystone sandbox does not answer {kl.KEYSTONE_URL}: "
                    "bash tools/keystone/ensure.sh")
    ids = kl.ids()
    hc_alpha, hc_beta = heat(ids["ALPHA_ID"]), heat(ids["BETA_ID"])
    # the API goes where the catalog sends the CLI; a run of this module still serving there
    # fails here, before its stacks are taken for leftovers
    hs = ApiHeatseeker(str(tmp_path_factory.mktemp("api")), kl.search_url())
    free_port(hs.host, hs.port)
    remove_leftovers([hc_alpha, hc_beta], PREFIX)

    # Heat stacks whose project is the Keystone project id (see tools/keystone/README.md)
    hidden = f"HIDDEN-{PREFIX}-{uuid.uuid4().hex[:8]}"
    tag = unique(PREFIX)
    created: list[tuple[Any, str]] = []
    try:
        # beta exists before the installation: no listener hears of it, only sync brings it in
        # (so the sync below always has something to store, even on a sandbox with no other
        # stack; see test_sync_beside_the_listener)
        beta_id = create(hc_beta, unique(f"{PREFIX}-beta"), "app.yaml", "env.yaml",
                         parameters={"image": IMAGE}, tags=tag)
        created.append((hc_beta, beta_id))
        wait_heat(hc_beta, beta_id, "CREATE_COMPLETE", timeout=180)

        # the installation: the listener, then sync (every stack Heat has: ~8 stacks/s here, so
        # it runs in the background while the tests run, the listener projecting what it
        # stores) and the API
        hs.start_listener()
        hs.start_sync()
        hs.serve()
        api = Api(hs.url)
        tokens = {u: kl.token(*kl.USERS[u]) for u in ("alice", "bob", "carol", "admin")}

        # alpha comes while the listener runs: the notifications bring it in
        alpha_id = heatlab.create(  # web.yaml: a provider template and a ResourceGroup, depth 3
            hc_alpha, unique(f"{PREFIX}-alpha"), "web.yaml", "env.yaml",
            parameters={"image": IMAGE, "workers": 1, "db_password": hidden}, tags=[tag],
            wait=False)
        created.append((hc_alpha, alpha_id))
        wait_heat(hc_alpha, alpha_id, "CREATE_COMPLETE", timeout=180)
        alpha = _tree(ids["ALPHA_ID"], hc_alpha, alpha_id)
        beta = _tree(ids["BETA_ID"], hc_beta, beta_id)
        # web.yaml, 1 worker: root, frontend, worker_group, its member, the member's server
        assert len(alpha.children) == 5 and len(beta.children) == 2, "templates changed?"

        # the listener brings them in: poll the API until it shows what Heat shows
        lab = Lab(hs, api, ids, tokens, alpha, beta, hidden)
        wait_indexed(lab)
        yield lab
    finally:
        try:
            delete_stacks(created)
        finally:
            hs.close()


def heat_statuses(lab: Lab) -> dict[str, str]:
    return {sid: tr.stacks[sid].stack_status for tr in (lab.alpha, lab.beta) for sid in tr.ids}


def api_statuses(lab: Lab) -> dict[str, str]:
    hits = lab.api.hits(lab.token("admin"), lab.ours(_source=["id", "status"]))
    return {h["_id"]: h["_source"]["status"] for h in hits}


def wait_indexed(lab: Lab, timeout: float = 180) -> None:
    """Poll the API (as the cloud admin) until it shows every stack of both trees with the
    status Heat shows, and nothing more."""
    want = heat_statuses(lab)
    got: dict[str, str] = {}

    def indexed() -> bool:
        got.clear()
        got.update(api_statuses(lab))
        return got == want

    try:
        wait_for(indexed, timeout, "the API to show the stacks as Heat does")
    except pytest.fail.Exception:
        pytest.fail(f"the API shows {got}, Heat {want}; listener:\n{lab.hs.listener_output()}")


def _query(**extra) -> dict:
    return {"query": QS, "limit": 1000, **extra}




def _ids(hits: list[dict]) -> set[str]:
    return {h["_id"] for h in hits}


# -- tenant isolation, policy, authentication --------------------------------------------------


def test_each_user_sees_only_their_projects_stacks(lab):
    alpha, beta = lab.alpha, lab.beta
    src = {"_source": ["id", "name", "project_id", "root_id"]}
    for user, mine, other in (("alice", alpha, beta), ("bob", beta, alpha), ("carol", alpha, beta)):
        hits = lab.api.hits(lab.token(user), _query(**src))
        assert {h["_source"]["project_id"] for h in hits} == {mine.project}, user
        ours = {h["_id"] for h in hits if h["_source"]["root_id"] == mine.root}
        assert ours == mine.with_image, user  # exactly the stacks Heat says carry the image
        assert not _ids(hits) & other.ids, user
        # names as Heat has them
        assert {h["_source"]["name"] for h in hits if h["_id"] in mine.ids} == \
            {mine.stacks[s].stack_name for s in mine.with_image}, user

    # the cloud admin: its own project unless it asks for all of them
    admin = lab.token("admin")
    assert not _ids(lab.api.hits(admin, _query())) & (alpha.ids | beta.ids)
    every = lab.api.hits(admin, lab.ours(QS, **src))
    assert _ids(every) == alpha.with_image | beta.with_image
    assert {alpha.project, beta.project} <= {h["_source"]["project_id"] for h in every}


def test_policy_and_authentication(lab):
    api, alice = lab.api, lab.token("alice")
    # all_projects is for cloud admins only: 403 (search, facets, the tree)
    r = api.search(alice, _query(all_projects=True), expect=403)
    assert r.body["error"]["code"] == 403 and "all_projects" in r.body["error"]["message"]
    api.call("GET", "/v1/search/facets?all_projects=true", alice, expect=403)
    api.call("GET", f"/v1/search/stacks/{lab.alpha.root}?all_projects=true", alice, expect=403)
    # no token, a garbage token: 401 from auth_token, before heatseeker sees anything, saying
    # where to get a token
    r = api.search("garbage-" + uuid.uuid4().hex, _query(), expect=401)
    assert r.headers.get("WWW-Authenticate") == f'Keystone uri="{kl.KEYSTONE_URL}"'
    api.call("POST", "/v1/search", None, _query(), expect=401)
    api.call("GET", "/v1/search/plugins", "not-a-token", expect=401)
    # the versions document needs none
    assert api.call("GET", "/", None, expect=300).body["versions"][0]["id"] == "v1.0"
    # a reader may search (and list the plugins)
    carol = lab.token("carol")
    assert api.call("GET", "/v1/search/plugins", carol).body["plugins"][0]["type"] == \
        "OS::Heat::Stack"
    assert lab.alpha.root in _ids(api.hits(carol, _query()))
    # another project's stack does not exist for you
    api.call("GET", f"/v1/search/stacks/{lab.alpha.root}", lab.token("bob"), expect=404)
    api.call("GET", f"/v1/search/stacks/{lab.beta.root}", alice, expect=404)


# -- roll-up and the nested tree, compared with Heat --------------------------------------------


def _check_rollup(hit: dict, tree: Tree) -> None:
    assert hit["_source"]["name"] == tree.name
    assert hit["_source"]["project_id"] == tree.project
    paths = {m["id"]: m["path"] for m in hit["matches"]}
    assert set(paths) == tree.with_image
    for m in hit["matches"]:
        assert m["path"] == tree.path(m["id"]), m  # Heat's parent chain, by name
        assert m["depth"] == len(m["path"]) - 1
    assert max(m["depth"] for m in hit["matches"]) >= 2  # nested paths, not just the root


def test_rollup_names_the_root_and_the_nested_paths(lab):
    alpha, beta = lab.alpha, lab.beta
    body = _query(rollup="root", limit=100)
    r = lab.api.search(lab.token("alice"), body).body
    roots = {h["_id"]: h for h in r["hits"]["hits"]}
    assert alpha.root in roots and beta.root not in roots
    assert not set(roots) & beta.ids
    _check_rollup(roots[alpha.root], alpha)
    assert r["rollup"]["matched_stacks"] >= len(alpha.with_image)
    assert r["rollup"]["truncated"] is False

    every = lab.api.search(lab.token("admin"), lab.ours(QS, rollup="root", limit=100)).body
    roots = {h["_id"]: h for h in every["hits"]["hits"]}
    _check_rollup(roots[alpha.root], alpha)
    assert {m["id"] for m in roots[beta.root]["matches"]} == beta.with_image


def _walk(node: dict, parent: str | None, out: dict[str, dict]) -> None:
    doc = node["stack"]
    assert doc["id"] not in out, "a stack twice in the tree"
    out[doc["id"]] = {
        "parent": parent, "children": sorted(c["stack"]["id"] for c in node["children"]),
        "name": doc["name"], "status": doc["status"], "parent_id": doc.get("parent_id"),
    }
    for child in node["children"]:
        _walk(child, doc["id"], out)


@pytest.mark.parametrize("user,which", [("alice", "alpha"), ("bob", "beta")])
def test_stack_tree_is_heats_nested_tree(lab, user, which):
    tree: Tree = getattr(lab, which)
    node = lab.api.call("GET", f"/v1/search/stacks/{tree.root}", lab.token(user)).body
    assert node["stack"]["id"] == tree.root and node["stack"]["name"] == tree.name
    assert node["stack"]["project_id"] == tree.project
    seen: dict[str, dict] = {}
    _walk(node, None, seen)
    assert {sid: s["children"] for sid, s in seen.items()} == tree.children
    for sid, s in seen.items():
        heat = tree.stacks[sid]
        assert s["name"] == heat.stack_name and s["status"] == heat.stack_status, sid
        assert s["parent_id"] == s["parent"] == getattr(heat, "parent", None), sid
    # the root's outputs and parameters are Heat's (hidden ones masked)
    heat_root = tree.hc.stacks.get(tree.root)
    # web.yaml's app_config output draws on an OS::Heat::RandomString (a session key): a secret
    # by structure (heatseeker/secrets.py), masked; every other output is Heat's
    secret_outputs = {"app_config"} if "app_config" in {o["output_key"] for o in heat_root.outputs} \
        else set()
    assert {o["key"]: o["value"] for o in node["stack"]["outputs"]} == \
        {o["output_key"]: ("******" if o["output_key"] in secret_outputs else o.get("output_value"))
         for o in heat_root.outputs}
    assert node["stack"]["parameters"] == {
        k: v for k, v in heat_root.parameters.items() if not k.startswith("OS::")}


def test_template_is_heats_with_only_hidden_defaults_masked(lab):
    tree = lab.alpha  # web.yaml: db_password is hidden
    doc = lab.api.call("GET", f"/v1/search/stacks/{tree.root}", lab.token("alice")).body["stack"]
    want = tree.hc.stacks.template(tree.root)  # Heat returns hidden defaults unmasked here
    want["parameters"]["db_password"]["default"] = "******"
    # search by a parameter's type, as the template says it
    hits = lab.api.hits(lab.token("alice"), {
        "query": {"query_string": {"query": "template.parameters.image.type:string"}},
        "limit": 100})
    assert (doc["template"], tree.root in _ids(hits)) == (want, True)


def test_facets_count_what_heat_has(lab):
    alice = lab.token("alice")
    body = lab.api.call("GET", "/v1/search/facets", alice).body["OS::Heat::Stack"]
    mine = list(heat_stacks(lab.alpha.hc).values())
    assert body["doc_count"] == len(mine)
    facets = {f["name"]: f for f in body["facets"]}
    statuses = {o["key"]: o["doc_count"] for o in facets["status"]["options"]}
    assert statuses == {st: sum(s.stack_status == st for s in mine)
                        for st in {s.stack_status for s in mine}}
    assert "project_id" not in facets and "stack_owner" not in facets  # admin-only

    every = lab.api.call("GET", "/v1/search/facets?all_projects=true&type=OS::Heat::Stack",
                         lab.token("admin")).body["OS::Heat::Stack"]
    facets = {f["name"]: f for f in every["facets"]}
    projects = {o["key"]: o["doc_count"] for o in facets["project_id"]["options"]}
    assert projects[lab.alpha.project] == len(mine)
    assert projects[lab.beta.project] == len(heat_stacks(lab.beta.hc))
    assert "stack_owner" in facets


# -- python-searchlightclient 2.1.1, unchanged, through the openstack CLI -----------------------


def _table_rows(text: str) -> list[list[str]]:
    """The data rows of a cliff table (``| a | b |`` lines after the header)."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.startswith("|")]
    return rows[1:]


def test_searchlightclient_cli(lab):
    alpha, beta = lab.alpha, lab.beta
    both = f"{QUERY} AND root_id:({alpha.root} OR {beta.root})"
    dsl = json.dumps({"term": {"parameters.image": IMAGE}})
    out = openstack_all({
        "types": ("alice", ("search", "resource", "type", "list")),
        "types_json": ("alice", ("search", "resource", "type", "list", "-f", "json")),
        "facets": ("alice", ("search", "facet", "list")),
        "facets_all": ("admin", ("search", "facet", "list", "--all-projects",
                                 "--type", "OS::Heat::Stack", "-f", "json")),
        "query": ("alice", ("search", "query", QUERY)),
        "query_dsl": ("alice", ("search", "query", "--json", dsl, "-f", "json")),
        "query_all": ("admin", ("search", "query", both, "--all-projects", "-f", "json")),
    })
    lab.shown.extend(p.stdout + p.stderr for p in out.values())

    # resource types: the one plugin, as a table and as JSON
    assert _table_rows(out["types"].stdout) == [
        ["heatseeker-search", "heatseeker-listener", "OS::Heat::Stack"]]
    assert json.loads(out["types_json"].stdout) == [{
        "Alias Searching": "heatseeker-search", "Alias Indexing": "heatseeker-listener",
        "Type": "OS::Heat::Stack"}]

    # facets: alice's counts are the API's; no admin-only facet for her; the admin's, across
    # projects, name both projects
    api_facets = lab.api.call("GET", "/v1/search/facets", lab.token("alice")).body
    rows = {r[2]: r for r in _table_rows(out["facets"].stdout)}
    for f in api_facets["OS::Heat::Stack"]["facets"]:
        assert rows[f["name"]][:3] == ["OS::Heat::Stack", f["type"], f["name"]]
        want = ", ".join(f"{o['key']}({o['doc_count']})" for o in f.get("options", []))
        assert rows[f["name"]][3] == want, f["name"]
    assert "project_id" not in rows and "stack_owner" not in rows
    assert any(r[3].startswith("CREATE_COMPLETE(") for r in rows.values())
    facets_all = {r["Name"]: r for r in json.loads(out["facets_all"].stdout)}
    assert f"{alpha.project}(" in facets_all["project_id"]["Options"]
    assert f"{beta.project}(" in facets_all["project_id"]["Options"]
    assert "stack_owner" in facets_all

    # query string, as a table: alpha's stacks (ids and names), nothing of beta's
    table = out["query"].stdout
    rows = {r[0]: r for r in _table_rows(table)}
    assert alpha.with_image <= set(rows)
    for sid in alpha.with_image:
        assert rows[sid][1] == alpha.stacks[sid].stack_name and rows[sid][3] == "OS::Heat::Stack"
    for sid in beta.ids:
        assert sid not in table and beta.stacks[sid].stack_name not in table

    # a DSL query (--json): the same stacks the API gives alice
    api_ids = _ids(lab.api.hits(lab.token("alice"), {"query": {"term": {"parameters.image": IMAGE}},
                                                     "limit": 1000}))
    dsl_rows = json.loads(out["query_dsl"].stdout)
    assert {r["ID"] for r in dsl_rows} == api_ids and alpha.with_image <= api_ids
    assert not api_ids & beta.ids
    assert {r["Name"] for r in dsl_rows if r["ID"] in alpha.ids} == \
        {alpha.stacks[s].stack_name for s in alpha.with_image}

    # the admin, all projects: both
    all_ids = {r["ID"] for r in json.loads(out["query_all"].stdout)}
    assert all_ids == alpha.with_image | beta.with_image


# -- hidden values, deletes ------------------------------------------------------------------------


def test_hidden_parameter_value_never_shown(lab):
    # full documents, as the owner and as the cloud admin, on top of everything answered so far
    lab.api.hits(lab.token("alice"), _query(_source=True))
    lab.api.call("GET", f"/v1/search/stacks/{lab.alpha.root}?all_projects=true",
                 lab.token("admin"))
    lab.api.hits(lab.token("admin"), lab.ours(QS, _source=True))
    lab.api.call("GET", "/v1/search/facets?all_projects=true", lab.token("admin"))
    assert lab.api.seen
    for text in lab.api.seen + lab.shown:
        assert lab.hidden not in text


def test_sync_beside_the_listener(lab):
    """The sync started with the installation (every stack of the sandbox) ends cleanly, leaves
    the index to the running listener, and what it stored (beta, which no listener heard of)
    leaves the API showing what Heat shows."""
    out = lab.hs.wait_sync()
    assert out.startswith("synced ") and "the running listener projects the changes" in out, out

    def projected():
        status = json.loads(lab.hs.run("status", "--json").stdout)
        return status if status["backlog"]["unprojected_changes"] == 0 else None

    status = wait_for(projected, 120, "the listener to project what sync stored")
    assert status["index"]["ok"] and status["last_sync"]["listed"] >= len(lab.beta.ids)
    assert api_statuses(lab) == heat_statuses(lab)  # no wait: all of it is in the index
    assert lab.hs.listener is not None and lab.hs.listener.poll() is None


def test_deleted_stacks_leave_the_api(lab):
    delete_stacks([(lab.alpha.hc, lab.alpha.root), (lab.beta.hc, lab.beta.root)])
    wait_for(lambda: not lab.api.hits(lab.token("admin"), lab.ours()), 60,
             "the deleted stacks to leave the index")
    lab.api.call("GET", f"/v1/search/stacks/{lab.alpha.root}", lab.token("alice"), expect=404)
