"""The openstackclient plugin end to end (issue #17): ``openstack stack search|search facets|uses|
history|diff|changes`` run by the real ``openstack`` CLI of the sandbox's CLI venv — where
python-heatclient and python-searchlightclient 2.1.1 are installed too — with real Keystone
passwords and tokens for a member of one project (alice, alpha; bob, beta) and the cloud admin,
against ``heatseeker serve`` behind keystonemiddleware on the catalog's ``search`` endpoint.

Every command's ``-f json`` is compared with the API's own answer to the same request with the same
user's token (and, where it says something Heat knows, with Heat); a member never sees another
project's stack through any command; errors (a malformed query, an unknown or ambiguous stack, an
expired or revoked token, a forbidden --all-projects) end with a clear message and a non-zero exit,
never a traceback. The three plugins answer from one venv (``openstack stack list`` reaches the
Keystone-mode Heat, ``openstack search query`` heatseeker through searchlightclient).

Transcripts of every command run are kept in artifacts/osc/ (the README's examples come from
there). Needs: ``bash tools/sandbox/start.sh``, ``bash tools/keystone/ensure.sh`` (which installs
the CLI venv) and the Keystone-mode Heat (``bash tools/sandbox/keystone-heat.sh up``, brought up
here if needed).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tools.keystone import keystonelab as kl
from tools.sandbox import heatlab

from .api_support import Api, ApiHeatseeker, free_port, heat_stacks, heat_subtree
from .conftest import (
    ROOT,
    contents,
    create,
    delete_stacks,
    remove_leftovers,
    unique,
    wait_for,
    wait_heat,
)

IMAGE, NEW_IMAGE = "cirros-0.6.2", "cirros-0.6.3"
PREFIX = "e2eosc"  # names of the stacks this module makes (leftovers of a killed run are removed)
ARTIFACTS = os.path.join(ROOT, "artifacts", "osc")
HELP_DOC = os.path.join(ROOT, "docs", "osc.md")
COMMANDS = ("stack search", "stack search facets", "stack uses", "stack history", "stack diff",
            "stack changes")

# the -f json keys of each command: the scripting contract
SEARCH_KEYS = ["ID", "Stack Name", "Path", "Stack Status", "Updated Time"]
LONG_KEYS = ["Parent", "Root ID", "Depth", "Tags", "Created Time"]
ROLLUP_KEYS = ["ID", "Stack Name", "Stack Status", "Updated Time", "Matched", "Matches"]
USES_KEYS = ["ID", "Stack Name", "Path", "Stack Status", "Where"]
HISTORY_KEYS = ["Revision", "At", "Stack Status", "User", "Request ID", "Changed"]
DIFF_KEYS = ["Path", "Kind", "Old", "New"]
CHANGES_KEYS = ["At", "Stack ID", "Stack Name", "Revision", "Path", "Kind", "Old", "New"]
FACET_KEYS = ["Name", "Type", "Options"]


@dataclass
class Lab:
    hs: ApiHeatseeker
    api: Api
    ids: dict[str, str]
    tokens: dict[str, str]
    web: str  # alice's web.yaml root (depth 3)
    web_name: str
    web_tree: dict[str, list[str]]  # Heat's parent -> children, the root and its descendants
    web_image: set[str]  # the web tree's stacks whose parameter image is IMAGE (Heat)
    twin: str  # the name alice's history stack and bob's app stack share
    alpha_twin: str
    beta_twin: str
    hidden: str
    twin_trees: dict[str, dict[str, list[str]]]  # "alpha"/"beta": Heat's tree of each twin
    shown: list[str] = field(default_factory=list)  # every CLI output, for the hidden-value check

    @property
    def alpha_ids(self) -> set[str]:
        return set(self.web_tree) | set(self.twin_trees["alpha"])

    def ours(self) -> str:
        """A query-string clause that keeps a search to this module's three trees (the sandbox
        and other tests' stacks share the projects and the image)."""
        return f"root_id:({self.web} OR {self.alpha_twin} OR {self.beta_twin})"


# -- the openstack CLI ----------------------------------------------------------------------------


def _record(label: str, args: tuple[str, ...], proc: subprocess.CompletedProcess) -> None:
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, "transcript.txt"), "a") as f:
        f.write(f"### {label}\n$ openstack {' '.join(args)}\n{proc.stdout}")
        if proc.stderr:
            f.write(f"[stderr]\n{proc.stderr}")
        f.write(f"[exit {proc.returncode}]\n\n")


def run_all(lab: Lab, calls: dict[str, tuple[str, tuple[str, ...]]]
            ) -> dict[str, subprocess.CompletedProcess]:
    """``{label: (user, args)}`` -> ``{label: CompletedProcess}``, two at a time (each run of the
    CLI costs ~2 s of CPU to start); every output is kept for the hidden-value check."""

    def one(user: str, args: tuple[str, ...]) -> subprocess.CompletedProcess:
        name, password, project = kl.USERS[user]
        return kl.openstack(*args, user=name, password=password, project=project,
                            env={"COLUMNS": "200"})

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {label: pool.submit(one, user, args) for label, (user, args) in calls.items()}
        done = {label: f.result() for label, f in futures.items()}
    for label, proc in done.items():
        _record(f"{label} ({calls[label][0]})", calls[label][1], proc)
        lab.shown.append(proc.stdout + proc.stderr)
        assert "Traceback" not in proc.stderr, f"{label}: {proc.stderr}"
    return done


def parsed(proc: subprocess.CompletedProcess, what: str = "") -> Any:
    """The JSON of a successful run (fail with its output otherwise)."""
    if proc.returncode != 0:
        pytest.fail(f"{what} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def refused(proc: subprocess.CompletedProcess, *words: str) -> str:
    """A failed run: non-zero exit, no traceback, a message on stderr holding ``words``."""
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    message = proc.stderr.strip()
    assert message, "no message"
    for word in words:
        assert word in message, (word, message)
    return message


def same_as_api(api: Callable[[], Any], cli: Callable[[], Any], tries: int = 3) -> Any:
    """The CLI's answer, checked equal to the API's when the API answers the same just before and
    just after it (other tests' stacks may come and go in the same projects meanwhile)."""
    for _ in range(tries):
        before = api()
        got = cli()
        if api() == before:
            assert got == before
            return got
    pytest.fail("the API's answer kept changing")


# -- the lab --------------------------------------------------------------------------------------


def _revisions(api: Api, token: str, sid: str) -> list[tuple[int, str]]:
    r = api.call("GET", f"/v1/search/stacks/{sid}/history", token, expect=None)
    if r.status != 200:
        return []
    return [(v["revision"], v["status"]) for v in r.body["revisions"]]


@pytest.fixture(scope="module")
def lab(heat, tmp_path_factory):
    if not kl.available():
        pytest.fail(f"the Keystone sandbox does not answer {kl.KEYSTONE_URL}: "
                    "bash tools/keystone/ensure.sh")
    probe = subprocess.run([str(kl.OPENSTACK), "stack", "search", "--help"], capture_output=True,
                           text=True, env=kl.openstack_env(), timeout=120)
    if probe.returncode != 0:
        pytest.fail(f"heatseeker's plugin is not in {kl.OPENSTACK}: bash tools/keystone/setup.sh"
                    f"\n{probe.stderr[-2000:]}")
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(ARTIFACTS, "transcript.txt"))
    ids = kl.ids()
    hc_alpha, hc_beta = heat(ids["ALPHA_ID"]), heat(ids["BETA_ID"])
    hs = ApiHeatseeker(str(tmp_path_factory.mktemp("osc")), kl.search_url())
    free_port(hs.host, hs.port)
    remove_leftovers([hc_alpha, hc_beta], PREFIX)
    hidden = f"HIDDEN-{PREFIX}-{uuid.uuid4().hex[:8]}"
    tag = unique(PREFIX)
    twin = unique(f"{PREFIX}-twin")
    created: list[tuple[Any, str]] = []
    try:
        # only the listener indexes (no sync): every stack of ours is made after it listens
        hs.start_listener()
        hs.serve()
        api = Api(hs.url)
        web_name = unique(f"{PREFIX}-web")
        web = heatlab.create(hc_alpha, web_name, "web.yaml", "env.yaml",
                             parameters={"image": IMAGE, "workers": 1, "db_password": hidden},
                             tags=[tag], wait=False)
        created.append((hc_alpha, web))
        # the same name in two projects: alice's has a provider-template child
        alpha_twin = create(hc_alpha, twin, "history_v1.yaml", "history_env.yaml", tags=tag)
        created.append((hc_alpha, alpha_twin))
        beta_twin = create(hc_beta, twin, "app.yaml", "env.yaml", parameters={"image": IMAGE},
                           tags=tag)
        created.append((hc_beta, beta_twin))
        for hc, sid in created:
            wait_heat(hc, sid, "CREATE_COMPLETE", timeout=300)
        # one update each: revision 2, a change of parameters.image
        tpl, files, env = contents("history_v1.yaml", "history_env.yaml")
        hc_alpha.stacks.update(alpha_twin, template=tpl, files=files, environment=env,
                               parameters={"image": NEW_IMAGE}, tags=tag)
        hc_beta.stacks.update(beta_twin, existing=True, parameters={"image": NEW_IMAGE})
        wait_heat(hc_alpha, alpha_twin, "UPDATE_COMPLETE", timeout=300)
        wait_heat(hc_beta, beta_twin, "UPDATE_COMPLETE", timeout=300)

        tokens = {u: kl.token(*kl.USERS[u]) for u in ("alice", "bob", "admin")}
        alpha_stacks, beta_stacks = heat_stacks(hc_alpha), heat_stacks(hc_beta)
        web_tree = heat_subtree(alpha_stacks, web)
        web_image = {sid for sid in web_tree
                     if hc_alpha.stacks.get(sid, resolve_outputs=False).parameters.get("image")
                     == IMAGE}
        lab = Lab(hs, api, ids, tokens, web, web_name, web_tree, web_image, twin, alpha_twin,
                  beta_twin, hidden, {"alpha": heat_subtree(alpha_stacks, alpha_twin),
                                      "beta": heat_subtree(beta_stacks, beta_twin)})
        assert len(web_tree) == 5 and len(lab.twin_trees["alpha"]) == 2, "templates changed?"
        heat_view = {sid: s.stack_status for stacks, trees in (
            (alpha_stacks, (web_tree, lab.twin_trees["alpha"])),
            (beta_stacks, (lab.twin_trees["beta"],))) for tree in trees for sid, s in
            stacks.items() if sid in tree}

        def indexed() -> bool:
            body = {"query": {"query_string": {"query": lab.ours()}}, "all_projects": True,
                    "limit": 100, "_source": ["status"]}
            hits = api.hits(tokens["admin"], body)
            return {h["_id"]: h["_source"]["status"] for h in hits} == heat_view and \
                _revisions(api, tokens["alice"], alpha_twin)[-1:] == [(2, "UPDATE_COMPLETE")] \
                and _revisions(api, tokens["bob"], beta_twin)[-1:] == [(2, "UPDATE_COMPLETE")]

        try:
            wait_for(indexed, 240, "the API to show every stack as Heat does, with revision 2")
        except pytest.fail.Exception:
            pytest.fail(f"not indexed as Heat shows it; listener:\n{hs.listener_output()}")
        yield lab
    finally:
        try:
            delete_stacks(created)
        finally:
            hs.close()


def _api_rows(hits: list[dict], keys: list[str]) -> list[dict]:
    names = {"ID": "id", "Stack Name": "name", "Project": "project_id", "Path": "path",
             "Stack Status": "status", "Updated Time": "updated_at", "Created Time":
             "created_at", "Parent": "parent_id", "Root ID": "root_id", "Depth": "depth",
             "Tags": "tags"}
    out = []
    for h in hits:
        src = dict(h["_source"], id=h["_id"])
        row = {k: src.get(names[k]) for k in keys}
        if "Tags" in row:
            row["Tags"] = row["Tags"] or []
        if "Path" in row:
            row["Path"] = row["Path"] or []
        out.append(row)
    return out


SOURCE = ["id", "name", "project_id", "path", "status", "updated_at", "created_at", "parent_id",
          "root_id", "depth", "tags"]


# -- the three plugins in one venv ----------------------------------------------------------------


def test_heatclient_searchlightclient_and_heatseeker_in_one_venv(lab):
    from .test_keystone_heat import keystone_heat_up

    keystone_heat_up()  # the Keystone-mode Heat, whose endpoint is the catalog's orchestration
    query = f"parameters.image:{IMAGE} AND {lab.ours()}"
    out = run_all(lab, {
        "groups": ("alice", ("command", "list", "-f", "json")),
        "heat_list": ("alice", ("stack", "list", "-f", "json")),
        "heat_help": ("alice", ("stack", "list", "--help")),
        "searchlight": ("alice", ("search", "query", query, "-f", "json")),
        "ours": ("alice", ("stack", "search", query, "-f", "json")),
    })
    groups = {g["Command Group"]: g["Commands"] for g in parsed(out["groups"], "command list")}
    assert set(groups["openstack.heatseeker.v1"]) == set(COMMANDS)
    assert {"stack list", "stack show", "stack create"} <= set(groups["openstack.orchestration.v1"])
    assert "search query" in groups["openstack.search.v1"]
    # heatclient's own command reaches Heat (behind Keystone) with alice's token: her project's
    # stacks as Heat lists them; no error about the other plugins
    heat = parsed(out["heat_list"], "openstack stack list")
    assert isinstance(heat, list) and all({"ID", "Stack Name", "Stack Status"} <= set(s)
                                          for s in heat)
    assert out["heat_list"].stderr.strip() == ""
    assert "--nested" in out["heat_help"].stdout and out["heat_help"].returncode == 0
    # searchlightclient and heatseeker's plugin: the same stacks for the same query
    slc = {r["ID"] for r in parsed(out["searchlight"], "openstack search query")}
    ours = {r["ID"] for r in parsed(out["ours"], "openstack stack search")}
    assert slc == ours == lab.web_image


# -- every command against the API's own answers -------------------------------------------------


def test_search_is_the_apis_answer(lab):
    alice, admin = lab.tokens["alice"], lab.tokens["admin"]
    query = f"parameters.image:{IMAGE} AND {lab.ours()}"
    every = f"{lab.ours()}"
    dsl = {"bool": {"must": [{"term": {"parameters.image": IMAGE}}],
                    "filter": [{"query_string": {"query": lab.ours()}}]}}
    out = run_all(lab, {
        "alice": ("alice", ("stack", "search", query, "--long", "-f", "json")),
        "alice_table": ("alice", ("stack", "search", query)),
        "admin": ("admin", ("stack", "search", every, "--all-projects", "-f", "json")),
        "dsl": ("alice", ("stack", "search", "--dsl", json.dumps(dsl), "-f", "json")),
        "page1": ("admin", ("stack", "search", every, "--all-projects", "--limit", "3",
                            "-f", "json")),
        "sorted": ("admin", ("stack", "search", every, "--all-projects", "--sort",
                             "depth:desc,name", "-f", "json")),
        "value": ("alice", ("stack", "search", query, "-f", "value", "-c", "ID")),
    })
    api_alice = lab.api.hits(alice, {"query": {"query_string": {"query": query}},
                                     "sort": "name", "limit": 1000, "_source": SOURCE})
    rows = parsed(out["alice"], "stack search --long")
    assert rows == _api_rows(api_alice, SEARCH_KEYS + LONG_KEYS)  # same order: name, then id
    assert {r["ID"] for r in rows} == lab.web_image  # the stacks Heat says carry the image
    assert all(r["Path"][0] == lab.web_name and r["Depth"] == len(r["Path"]) - 1 for r in rows)
    assert f"| {lab.web_name} / " in out["alice_table"].stdout  # a table shows paths so
    assert out["value"].stdout.split() == [r["ID"] for r in rows]

    api_admin = lab.api.hits(admin, {"query": {"query_string": {"query": every}},
                                     "sort": "name", "limit": 1000, "_source": SOURCE,
                                     "all_projects": True})
    admin_rows = parsed(out["admin"], "stack search --all-projects")
    assert admin_rows == _api_rows(api_admin, ["ID", "Stack Name", "Project"] + SEARCH_KEYS[2:])
    assert {r["Project"] for r in admin_rows} == {lab.ids["ALPHA_ID"], lab.ids["BETA_ID"]}

    api_dsl = lab.api.hits(alice, {"query": dsl, "sort": "name", "limit": 1000})
    assert [r["ID"] for r in parsed(out["dsl"], "--dsl")] == [h["_id"] for h in api_dsl]

    # paging: --limit, then --marker (the last ID of the page) until a short page
    everything = lab.api.hits(admin, {"query": {"query_string": {"query": every}}, "sort": "name",
                                      "limit": 1000, "all_projects": True})
    assert len(everything) == len(lab.web_tree) + 2 + len(lab.twin_trees["beta"])
    pages = [[r["ID"] for r in parsed(out["page1"], "--limit 3")]]
    while len(pages[-1]) == 3:
        more = run_all(lab, {"next": ("admin", (
            "stack", "search", every, "--all-projects", "--limit", "3", "--marker",
            pages[-1][-1], "-f", "json"))})["next"]
        pages.append([r["ID"] for r in parsed(more, "--marker")])
    assert [sid for page in pages for sid in page] == [h["_id"] for h in everything]
    by_depth = lab.api.hits(admin, {"query": {"query_string": {"query": every}},
                                    "sort": ["depth:desc", "name"], "limit": 1000,
                                    "all_projects": True})
    assert [r["ID"] for r in parsed(out["sorted"], "--sort")] == [h["_id"] for h in by_depth]


def test_rollup_and_under_are_the_apis_answer(lab):
    alice = lab.tokens["alice"]
    query = f"parameters.image:{IMAGE} AND {lab.ours()}"
    out = run_all(lab, {
        "rollup": ("alice", ("stack", "search", query, "--rollup", "-f", "json")),
        "rollup_table": ("alice", ("stack", "search", query, "--rollup")),
        "under_name": ("alice", ("stack", "search", "depth:>=0", "--under", lab.web_name,
                                 "-f", "json")),
        "under_id": ("alice", ("stack", "search", "--under", lab.web, "-f", "json")),
    })
    api_roots = lab.api.search(alice, {"query": {"query_string": {"query": query}},
                                       "rollup": "root", "limit": 1000}).body["hits"]["hits"]
    rows = parsed(out["rollup"], "--rollup")
    assert [r["ID"] for r in rows] == [h["_id"] for h in api_roots] == [lab.web]
    assert rows[0]["Matched"] == api_roots[0]["matched"] == len(lab.web_image)
    assert rows[0]["Matches"] == [{"id": m["id"], "path": m["path"], "depth": m["depth"]}
                                  for m in api_roots[0]["matches"]]
    assert {m["id"] for m in rows[0]["Matches"]} == lab.web_image
    assert f"{lab.web_name} / " in out["rollup_table"].stdout  # nested paths, one per line
    for label in ("under_name", "under_id"):  # by name or id: the tree Heat has
        assert {r["ID"] for r in parsed(out[label], label)} == set(lab.web_tree), label


def test_uses_and_facets_are_the_apis_answer(lab):
    alice = lab.tokens["alice"]

    def api_uses(value: str, **params: str) -> list[dict]:
        qs = "&".join(f"{k}={v}" for k, v in dict(value=value, **params).items())
        body = lab.api.call("GET", f"/v1/search/uses?{qs}", alice).body
        return [{"ID": s["id"], "Stack Name": s["name"], "Path": s["path"],
                 "Stack Status": s["status"], "Where": s["where"]} for s in body["stacks"]]

    def cli(*args: str) -> Callable[[], Any]:
        return lambda: parsed(run_all(lab, {"c": ("alice", args)})["c"], " ".join(args))

    # under the web tree (by name): every place Heat's stacks hold the image
    rows = same_as_api(lambda: api_uses(IMAGE, under=lab.web),
                       cli("stack", "uses", IMAGE, "--under", lab.web_name, "-f", "json"))
    assert {r["ID"] for r in rows} >= lab.web_image and {r["ID"] for r in rows} <= lab.alpha_ids
    assert any(w["match"] == "within" for r in rows for w in r["Where"])  # frontend@cirros-…
    # the updated image: alice's history stack and its child, nothing of bob's (same value)
    rows = same_as_api(lambda: api_uses(NEW_IMAGE, exact="true"),
                       cli("stack", "uses", NEW_IMAGE, "--exact", "-f", "json"))
    assert set(lab.twin_trees["alpha"]) <= {r["ID"] for r in rows}
    assert not {r["ID"] for r in rows} & set(lab.twin_trees["beta"])

    def api_facets() -> list[dict]:
        body = lab.api.call("GET", "/v1/search/facets", alice).body["OS::Heat::Stack"]
        return [{"Name": f["name"], "Type": f["type"], "Options": f.get("options") or []}
                for f in body["facets"]]

    rows = same_as_api(api_facets, cli("stack", "search", "facets", "-f", "json"))
    assert {"status", "resource_types"} <= {r["Name"] for r in rows}
    assert "project_id" not in {r["Name"] for r in rows}  # admin-only facet


def test_history_diff_changes_are_the_apis_answer(lab):
    alice, bob, admin = lab.tokens["alice"], lab.tokens["bob"], lab.tokens["admin"]
    out = run_all(lab, {
        "history": ("alice", ("stack", "history", lab.twin, "-f", "json")),
        "history_table": ("alice", ("stack", "history", lab.twin)),
        "history_bob": ("bob", ("stack", "history", lab.twin, "--long", "-f", "json")),
        "diff": ("alice", ("stack", "diff", lab.twin, "-f", "json")),
        "diff_1_2": ("alice", ("stack", "diff", lab.alpha_twin, "1", "2", "-f", "json")),
        "diff_table": ("alice", ("stack", "diff", lab.twin)),
        "admin_twin": ("admin", ("stack", "history", lab.twin, "--all-projects")),
        "admin_id": ("admin", ("stack", "history", lab.beta_twin, "--all-projects",
                               "-f", "json")),
    })

    def api_history(token: str, sid: str, all_projects: bool = False) -> list[dict]:
        path = f"/v1/search/stacks/{sid}/history" + ("?all_projects=true" if all_projects else "")
        return [{"Revision": r["revision"], "At": r["at"], "Stack Status": r["status"],
                 # who acted is admin-only (as stack_owner): absent for members
                 "User": r.get("user_name") or r.get("user_id"), "Request ID": r["request_id"],
                 "Changed": r.get("changed") or []}
                for r in lab.api.call("GET", path, token).body["revisions"]]

    # by name: each user's own stack of that name
    rows = parsed(out["history"], "history")
    assert rows == api_history(alice, lab.alpha_twin)
    assert [(r["Revision"], r["Stack Status"]) for r in rows] == [
        (1, "CREATE_COMPLETE"), (2, "UPDATE_COMPLETE")]
    assert "parameters.image" in rows[1]["Changed"]
    bob_rows = parsed(out["history_bob"], "history as bob")
    assert [{k: r[k] for k in HISTORY_KEYS} for r in bob_rows] == api_history(bob, lab.beta_twin)
    assert {r["Project"] for r in bob_rows} == {lab.ids["BETA_ID"]}
    # the cloud admin across projects: the name is ambiguous, the id is not
    refused(out["admin_twin"], "2 stacks you may see are named", lab.alpha_twin, lab.beta_twin,
            "by its id")
    assert parsed(out["admin_id"], "history by id") == api_history(admin, lab.beta_twin, True)

    api_diff = lab.api.call("GET", f"/v1/search/stacks/{lab.alpha_twin}/diff", alice).body
    want = [{"Path": c["path"], "Kind": c["kind"], "Old": c["old"], "New": c["new"]}
            for c in api_diff["changes"]]
    assert parsed(out["diff"], "diff") == want == parsed(out["diff_1_2"], "diff 1 2")
    assert {"Path": "parameters.image", "Kind": "changed", "Old": IMAGE, "New": NEW_IMAGE} in want
    assert "revision 1 (CREATE_COMPLETE" in out["diff"].stderr
    assert f"{IMAGE}" in out["diff_table"].stdout and NEW_IMAGE in out["diff_table"].stdout

    def api_changes(token: str, all_projects: bool = False) -> list[dict]:
        path = "/v1/search/changes?field=parameters.image&since=now-1h" + (
            "&all_projects=true" if all_projects else "")
        return [{"At": c["at"], "Stack ID": c["stack_id"], "Stack Name": c["name"],
                 "Revision": c["revision"], "Path": c["path"], "Kind": c["kind"],
                 "Old": c["old"], "New": c["new"]}
                for c in lab.api.call("GET", path, token).body["changes"]]

    def cli(user: str, *extra: str) -> Callable[[], Any]:
        args = ("stack", "changes", "parameters.image", "--since", "now-1h", "-f", "json", *extra)
        return lambda: parsed(run_all(lab, {"c": (user, args)})["c"], "changes")

    rows = same_as_api(lambda: api_changes(alice), cli("alice"))
    mine = {(r["Stack ID"], r["Revision"], r["Old"], r["New"]) for r in rows}
    assert (lab.alpha_twin, 2, IMAGE, NEW_IMAGE) in mine
    rows = same_as_api(lambda: api_changes(admin, True), cli("admin", "--all-projects"))
    assert {lab.alpha_twin, lab.beta_twin} <= {r["Stack ID"] for r in rows}


# -- isolation --------------------------------------------------------------------------------------


def test_a_member_never_sees_another_projects_stacks(lab):
    """bob (beta) through every command, aimed at alice's stacks by query, value, name and id."""
    # both images: alice's stacks hold both, bob's the new one since the update
    query = f"parameters.image:({IMAGE} OR {NEW_IMAGE}) AND {lab.ours()}"
    out = run_all(lab, {
        "search": ("bob", ("stack", "search", query, "-f", "json")),
        "every": ("bob", ("stack", "search", lab.ours(), "--long", "-f", "json")),
        "rollup": ("bob", ("stack", "search", query, "--rollup", "-f", "json")),
        "under_id": ("bob", ("stack", "search", "--under", lab.web, "-f", "json")),
        "under_name": ("bob", ("stack", "search", "--under", lab.web_name)),
        "uses": ("bob", ("stack", "uses", IMAGE, "-f", "json")),
        "uses_new": ("bob", ("stack", "uses", NEW_IMAGE, "-f", "json")),
        "facets": ("bob", ("stack", "search", "facets", "-f", "json")),
        "history_id": ("bob", ("stack", "history", lab.web)),
        "history_name": ("bob", ("stack", "history", lab.web_name)),
        "diff_id": ("bob", ("stack", "diff", lab.alpha_twin)),
        "changes": ("bob", ("stack", "changes", "--since", "now-1h", "-f", "json")),
        "all_projects": ("bob", ("stack", "search", query, "--all-projects")),
        "all_projects_changes": ("bob", ("stack", "changes", "--all-projects")),
    })
    beta = set(lab.twin_trees["beta"])
    assert {r["ID"] for r in parsed(out["search"], "search")} == beta  # app.yaml: both stacks
    every = parsed(out["every"], "search every")
    assert {r["ID"] for r in every} == beta and {r["Root ID"] for r in every} == {lab.beta_twin}
    assert [r["ID"] for r in parsed(out["rollup"], "rollup")] == [lab.beta_twin]
    assert parsed(out["under_id"], "under id") == []  # not a stack bob may see: nothing under it
    refused(out["under_name"], f"no stack named {lab.web_name!r}")
    uses = {r["ID"] for r in parsed(out["uses"], "uses")}
    assert uses & beta and not uses & lab.alpha_ids
    assert not {r["ID"] for r in parsed(out["uses_new"], "uses")} & lab.alpha_ids
    bob_facets = lab.api.call("GET", "/v1/search/facets", lab.tokens["bob"]).body
    assert sum(o["doc_count"] for f in parsed(out["facets"], "facets") if f["Name"] == "status"
               for o in f["Options"]) == bob_facets["OS::Heat::Stack"]["doc_count"]
    refused(out["history_id"], f"no stack {lab.web} that you may see", "HTTP 404")
    refused(out["history_name"], f"no stack named {lab.web_name!r}")
    refused(out["diff_id"], f"no stack {lab.alpha_twin} that you may see", "HTTP 404")
    changes = parsed(out["changes"], "changes")
    assert lab.beta_twin in {c["Stack ID"] for c in changes}
    assert not {c["Stack ID"] for c in changes} & lab.alpha_ids
    refused(out["all_projects"], "all_projects", "HTTP 403")
    refused(out["all_projects_changes"], "HTTP 403")
    # nothing of alpha's anywhere in what bob was shown: no id, no name (the web tree's names
    # start with its root's; the twin's name is bob's too), but what bob typed himself
    for label, proc in out.items():
        text = proc.stdout + proc.stderr
        for sid in lab.alpha_ids - {lab.web, lab.alpha_twin}:
            assert sid not in text, label
        if label not in ("under_name", "history_name"):
            assert lab.web_name not in text, label


# -- errors -----------------------------------------------------------------------------------------


def test_errors_are_messages_and_exit_codes_never_tracebacks(lab):
    alice = lab.tokens["alice"]
    bad_query = "status:(CREATE_COMPLETE"
    out = run_all(lab, {
        "malformed": ("alice", ("stack", "search", bad_query)),
        "unknown_field": ("alice", ("stack", "search", "statuz:x", "-f", "json")),
        "bad_dsl": ("alice", ("stack", "search", "--dsl", '{"bogus": {}}')),
        "not_json": ("alice", ("stack", "search", "--dsl", "{bogus")),
        "unknown_name": ("alice", ("stack", "history", f"{PREFIX}-no-such-stack")),
        "unknown_id": ("alice", ("stack", "diff", str(uuid.uuid4()))),
        "bad_revision": ("alice", ("stack", "diff", lab.twin, "7", "9")),
        "bad_since": ("alice", ("stack", "changes", "parameters.image", "--since", "yesterday")),
        "usage": ("alice", ("stack", "search", "--limit", "-2")),
    })
    for label, query in (("malformed", bad_query), ("unknown_field", "statuz:x")):
        api = lab.api.search(alice, {"query": {"query_string": {"query": query}}}, expect=400)
        refused(out[label], api.body["error"]["message"], "HTTP 400")
    refused(out["bad_dsl"], "bogus", "HTTP 400")
    refused(out["not_json"], "not JSON")
    refused(out["unknown_name"], f"no stack named '{PREFIX}-no-such-stack'")
    refused(out["unknown_id"], "that you may see", "HTTP 404")
    refused(out["bad_revision"], "HTTP 404")
    refused(out["bad_since"], "HTTP 400")
    assert out["usage"].returncode == 2 and "Traceback" not in out["usage"].stderr
    # the endpoint from the environment instead of the catalog, and nobody there
    down = kl.openstack("stack", "search", user="alice", password="alicepw", project="alpha",
                        env={"OS_SEARCH_ENDPOINT_OVERRIDE": "http://127.0.0.1:9/down"})
    refused(down, "heatseeker at http://127.0.0.1:9/down does not answer")


def test_an_expired_or_revoked_token_is_refused_clearly(lab):
    expired = kl.expired_token(*kl.USERS["alice"])
    with pytest.raises(kl.KeystoneLabError):  # Keystone itself refuses it
        kl.token_info(expired)
    revoked = kl.token(*kl.USERS["alice"])  # never shown to heatseeker: no cached validation
    kl.revoke(revoked)
    calls = {
        # the token straight to heatseeker: keystonemiddleware answers 401
        "expired": dict(token=expired, endpoint=lab.hs.url),
        "revoked": dict(token=revoked, endpoint=lab.hs.url),
        # the token to Keystone first (to be scoped): Keystone refuses it
        "expired_keystone": dict(token=expired, project_id=lab.ids["ALPHA_ID"]),
    }
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {k: pool.submit(kl.openstack_token, "stack", "search", "-f", "json", **v)
                   for k, v in calls.items()}
        out = {k: f.result() for k, f in futures.items()}
    for label, proc in out.items():
        _record(label, ("stack", "search", "-f", "json", f"(token: {label})"), proc)
    refused(out["expired"], "HTTP 401", "expired")
    refused(out["revoked"], "HTTP 401")
    refused(out["expired_keystone"], "HTTP 404")
    assert all(p.stdout == "" for p in out.values())


# -- what a script relies on ----------------------------------------------------------------------


def test_json_keys_are_the_documented_ones(lab):
    out = run_all(lab, {
        "search": ("alice", ("stack", "search", lab.ours(), "-f", "json")),
        "long": ("admin", ("stack", "search", lab.ours(), "--long", "--all-projects",
                           "-f", "json")),
        "rollup": ("alice", ("stack", "search", lab.ours(), "--rollup", "-f", "json")),
        "uses": ("alice", ("stack", "uses", IMAGE, "--under", lab.web, "-f", "json")),
        "history": ("alice", ("stack", "history", lab.alpha_twin, "-f", "json")),
        "diff": ("alice", ("stack", "diff", lab.alpha_twin, "-f", "json")),
        "changes": ("alice", ("stack", "changes", "parameters.image", "--since", "1h",
                              "-f", "json")),
        "facets": ("alice", ("stack", "search", "facets", "-f", "json")),
        "yaml": ("alice", ("stack", "history", lab.alpha_twin, "-f", "yaml")),
    })
    want = {"search": SEARCH_KEYS, "rollup": ROLLUP_KEYS, "uses": USES_KEYS,
            "history": HISTORY_KEYS, "diff": DIFF_KEYS, "changes": CHANGES_KEYS,
            "facets": FACET_KEYS,
            "long": ["ID", "Stack Name", "Project"] + SEARCH_KEYS[2:] + LONG_KEYS}
    for label, keys in want.items():
        rows = parsed(out[label], label)
        assert rows, label
        assert all(list(r) == keys for r in rows), (label, rows[0])
    import yaml

    assert yaml.safe_load(out["yaml"].stdout) == parsed(out["history"], "history")


def test_hidden_parameter_value_never_shown(lab):
    run_all(lab, {"uses": ("alice", ("stack", "uses", lab.hidden, "-f", "json")),
                  "search": ("alice", ("stack", "search", lab.hidden, "-f", "json"))})
    assert lab.shown
    for text in lab.shown:
        assert lab.hidden not in text


def test_docs_hold_each_commands_help(lab):
    """docs/osc.md shows each command's --help as the CLI prints it (100 columns)."""
    proc = subprocess.run([str(kl.SANDBOX / "searchlightclient-venv" / "bin" / "python"),
                           os.path.join(ROOT, "tools", "keystone", "osc_help.py"), "--check",
                           HELP_DOC], capture_output=True, text=True, timeout=300,
                          env=kl.openstack_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _table_ids(text: str) -> list[str]:
    """The first cell of each record of a cliff table (continuation lines have it empty)."""
    cells = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")]
    return [c for c in cells[1:] if c]


def test_readme_examples(lab):
    """The commands the README shows (their output is kept in artifacts/osc/transcript.txt),
    each checked against the API's answer."""
    alice, admin = lab.tokens["alice"], lab.tokens["admin"]
    out = run_all(lab, {
        "readme_search": ("alice", ("stack", "search", f"parameters.image:{IMAGE}")),
        "readme_rollup": ("alice", ("stack", "search", f"parameters.image:{IMAGE}", "--rollup")),
        "readme_under": ("alice", ("stack", "search", "--under", lab.web_name, "-c", "ID",
                                   "-c", "Path")),
        "readme_uses": ("alice", ("stack", "uses", NEW_IMAGE)),
        "readme_history": ("alice", ("stack", "history", lab.twin)),
        "readme_diff": ("alice", ("stack", "diff", lab.twin)),
        "readme_changes": ("alice", ("stack", "changes", "parameters.image", "--since", "1h")),
        "readme_admin": ("admin", ("stack", "search", f"name:{lab.twin}", "--all-projects")),
        "readme_ambiguous": ("admin", ("stack", "history", lab.twin, "--all-projects")),
        "readme_facets": ("alice", ("stack", "search", "facets", "--limit-terms", "2")),
        "readme_json": ("alice", ("stack", "diff", lab.twin, "-f", "json")),
    })
    for label, proc in out.items():
        if label != "readme_ambiguous":
            assert proc.returncode == 0, (label, proc.stderr)

    def api_ids(token: str, body: dict) -> list[str]:
        return [h["_id"] for h in lab.api.hits(token, dict(body, sort="name", limit=1000))]

    qs = {"query": {"query_string": {"query": f"parameters.image:{IMAGE}"}}}
    assert _table_ids(out["readme_search"].stdout) == api_ids(alice, qs)
    roots = lab.api.search(alice, dict(qs, rollup="root", limit=1000)).body["hits"]["hits"]
    assert _table_ids(out["readme_rollup"].stdout) == [h["_id"] for h in roots]
    assert set(_table_ids(out["readme_under"].stdout)) == set(lab.web_tree)
    uses = lab.api.call("GET", f"/v1/search/uses?value={NEW_IMAGE}", alice).body
    assert _table_ids(out["readme_uses"].stdout) == [s["id"] for s in uses["stacks"]]
    assert _table_ids(out["readme_history"].stdout) == ["1", "2"]
    assert parsed(out["readme_json"], "diff -f json")[0]["Path"] in out["readme_diff"].stdout
    assert lab.alpha_twin in out["readme_changes"].stdout  # its first column is the time
    named = _table_ids(out["readme_admin"].stdout)  # name is a text field: the children too
    assert named == api_ids(admin, {"query": {"query_string": {"query": f"name:{lab.twin}"}},
                                    "all_projects": True})
    assert {lab.alpha_twin, lab.beta_twin} <= set(named)
    refused(out["readme_ambiguous"], "named")
    assert "status" in _table_ids(out["readme_facets"].stdout)


def test_python_client_through_the_catalog(lab):
    """heatseeker.client itself, on keystoneauth1 sessions with real passwords: the catalog's
    endpoint per interface, the API's answers, a stack by name, the API's error messages."""
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    from heatseeker.client import Client, errors

    def client(user: str, interface: str = "public") -> Client:
        name, password, project = kl.USERS[user]
        auth = v3.Password(auth_url=kl.KEYSTONE_URL, username=name, password=password,
                           project_name=project, user_domain_id="default",
                           project_domain_id="default")
        return Client(session.Session(auth=auth), region_name="RegionOne", interface=interface)

    alice, bob = client("alice", "internal"), client("bob")
    assert alice.endpoint == kl.search_url("internal").rstrip("/")
    query = f"parameters.image:{IMAGE} AND {lab.ours()}"
    want = [h["_id"] for h in lab.api.hits(lab.tokens["alice"], {
        "query": {"query_string": {"query": query}}, "sort": "name", "limit": 1000})]
    assert [h["_id"] for h in alice.iter_search(query)] == want
    assert alice.find_stack(lab.twin)["id"] == lab.alpha_twin
    assert bob.find_stack(lab.twin)["id"] == lab.beta_twin
    assert [r["revision"] for r in alice.history(lab.alpha_twin)["revisions"]] == [1, 2]
    with pytest.raises(errors.NotFound) as exc:
        bob.history(lab.alpha_twin)
    assert exc.value.message == f"no stack {lab.alpha_twin} that you may see"
    with pytest.raises(errors.BadRequest, match="unbalanced parenthesis"):
        alice.search("status:(x")
    with pytest.raises(errors.Forbidden):
        bob.facets(all_projects=True)
    wrong = v3.Password(auth_url=kl.KEYSTONE_URL, username="alice", password="wrong",
                        project_name="alpha", user_domain_id="default",
                        project_domain_id="default")
    with pytest.raises(errors.Unauthorized, match="Keystone refused the credentials"):
        Client(session.Session(auth=wrong)).plugins()
