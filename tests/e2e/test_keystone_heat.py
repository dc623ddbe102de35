"""End to end against Heat behind Keystone (issue #10 point 2): the sandbox's Keystone mode
(tools/sandbox/keystone-heat.sh: heat-api with keystonemiddleware's auth_token, Heat's stock policy
plus ``"stacks:global_index": "rule:context_is_admin"``, Heat's endpoint in the Keystone catalog).

Stacks are made in two Keystone projects with alice's (alpha) and bob's (beta) own tokens. For each
way heatseeker authenticates — the cloud admin's password, an application credential of the cloud
admin — heatseeker (its CLI, as an operator runs it; no endpoint or endpoint_override: the catalog)
syncs, listens to this Heat's notifications (its own RabbitMQ vhost) while alice creates, updates
and deletes a stack, and serves its API behind Keystone; every answer is compared with Heat's own.
Then the errors an operator meets: wrong credentials, a policy that refuses the global listing, an
unreachable Keystone."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from heatseeker.query import tree as t
from heatseeker.query.visibility import Visibility
from tools.keystone import keystonelab as kl
from tools.sandbox import heatlab as hl

from .api_support import MARKER, Api, ApiHeatseeker
from .conftest import ROOT, wait_for

KEYSTONE_HEAT = os.path.join(ROOT, "tools", "sandbox", "keystone-heat.sh")
# heatseeker's own API for these tests: not the catalog's 'search' endpoint (test_api's port)
API_URL = "http://127.0.0.1:9395"
FIELDS = ["id", "name", "project_id", "parent_id", "status", "link", "created_by"]

View = dict[str, tuple]  # stack id -> (name, project id, parent id, status)


# -- the Keystone-mode Heat ------------------------------------------------------------------------


class KeystoneHeat:
    """The Keystone-mode Heat as its users see it: heatclients of alice, bob and the cloud admin,
    each finding Heat in the catalog."""

    def __init__(self) -> None:
        ids = kl.ids()
        self.alpha, self.beta, self.admin_project = ids["ALPHA_ID"], ids["BETA_ID"], \
            ids["ADMIN_PROJECT_ID"]
        self.alice = hl.hc_keystone(*kl.USERS["alice"])
        self.bob = hl.hc_keystone(*kl.USERS["bob"])
        self.admin = hl.hc_keystone(*kl.USERS["admin"])
        admin_token = kl.token(*kl.USERS["admin"])
        self.alice_id = kl.user_id("alice", admin_token)

    def view(self, hc, project: str) -> View:
        """Heat's listing of one project's stacks (nested ones included), as that project's user."""
        return {s.id: (s.stack_name, project, getattr(s, "parent", None), s.stack_status)
                for s in hc.stacks.list(show_nested=True)}

    def global_view(self) -> View:
        """Heat's every-project listing (nested ones included), as the cloud admin."""
        return {s.id: (s.stack_name, s.project, getattr(s, "parent", None), s.stack_status)
                for s in self.admin.stacks.list(global_tenant=True, show_nested=True)}


def keystone_heat_up() -> KeystoneHeat:
    """The sandbox's Keystone-mode Heat, brought up (idempotent), as its users see it."""
    proc = subprocess.run(["bash", KEYSTONE_HEAT, "up"], capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        pytest.fail(f"keystone-heat.sh up exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return KeystoneHeat()


@pytest.fixture(scope="module")
def kheat() -> KeystoneHeat:
    return keystone_heat_up()


@pytest.fixture(scope="module")
def stacks(kheat: KeystoneHeat) -> Iterator[dict[str, str]]:
    """Stacks in alpha (alice) and beta (bob), nested ones among them, made through Keystone."""
    tag = uuid.uuid4().hex[:6]
    plan = [  # (name, client, template, environment, parameters)
        (f"ks-web-{tag}", kheat.alice, "web.yaml", "env.yaml", {"workers": 1}),  # depth 3
        (f"ks-db-{tag}", kheat.alice, "db.yaml", None, {}),
        (f"ks-app-{tag}", kheat.bob, "app.yaml", "env.yaml", {}),  # one nested stack
        (f"ks-remote-{tag}", kheat.bob, "remote.yaml", None, {}),  # OS::Heat::Stack: a 2nd root
    ]
    made: dict[str, str] = {}
    owners = {}
    try:
        for name, hc, template, env, params in plan:
            made[name] = hl.create(hc, name, template, env, parameters=params, wait=False)
            owners[name] = hc
        for name, hc, *_ in plan:
            hl.wait_status(hc, made[name], "CREATE_COMPLETE", timeout=300)
        yield made
    finally:
        for name, sid in made.items():
            with contextlib.suppress(Exception):
                owners[name].stacks.delete(sid)
        for name, sid in made.items():
            with contextlib.suppress(Exception):
                hl.wait_deleted(owners[name], sid, timeout=180)


# -- heatseeker reading it ---------------------------------------------------------------------


def password_options(user: str = "admin") -> dict[str, str]:
    name, password, project = kl.USERS[user]
    return {"auth_type": "password", "username": name, "password": password,
            "project_name": project, "user_domain_name": "Default",
            "project_domain_name": "Default"}


class KeystoneHeatseeker(ApiHeatseeker):
    """A heatseeker installation reading the Keystone-mode Heat: ``[heat]`` with Keystone
    credentials, the catalog's orchestration endpoint (interface public, RegionOne), no endpoint
    or endpoint_override; the listener on that Heat's vhost; the API behind the sandbox Keystone."""

    def __init__(self, base: str, name: str, heat: dict[str, str]):
        super().__init__(base, API_URL, name=f"{MARKER}-{name}")
        options = {"auth_url": kl.KEYSTONE_URL, "region_name": "RegionOne",
                   "valid_interfaces": "public", "retries": "4", "retry_backoff": "0.5", **heat}
        lines = [
            "[DEFAULT]", f"data_dir = {self.data_dir}",
            f"transport_url = {hl.KEYSTONE_HEAT_TRANSPORT_URL}",
            f"log_file = {self.log_path}",
            "[heat]", *(f"{k} = {v}" for k, v in options.items()),
            "[listener]", f"pool = {self.pool}", "batch_timeout = 0.2", "requeue_backoff_max = 2",
            "[engine]", "commit_interval = 0.2",
            "[api]", "auth_strategy = keystone", f"bind_host = {self.host}",
            f"bind_port = {self.port}", "threads = 4",
            "[keystone_authtoken]", *(f"{k} = {v}" for k, v in kl.auth_token_conf().items()),
        ]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    @property
    def log_path(self) -> str:
        return os.path.join(self.dir, "heatseeker.log")

    def log(self) -> str:
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def queue_exists(self) -> bool:
        import kombu

        if self.listener is not None and self.listener.poll() is not None:
            pytest.fail(f"listener exited {self.listener.returncode}: {self.listener_output()}")
        try:
            with kombu.Connection(hl.KEYSTONE_HEAT_AMQP_URL, connect_timeout=2) as c:
                c.channel().queue_declare(queue=self.pool, passive=True)
            return True
        except Exception:  # noqa: BLE001
            return False

    # the index, as the operator's CLI answers it
    def cli_view(self, *scope: str) -> View:
        body = self.search("", *scope, "--limit", "1000", "--fields", ",".join(FIELDS))
        return view_of(h["_source"] for h in body["hits"]["hits"])

    # the index, read in-process (for polling)
    def view(self, project: str) -> View:
        found = self.searcher().search(t.MatchAll(), view=Visibility(frozenset({project})),
                                       limit=1000, fields=FIELDS)
        return view_of(h.source for h in found.hits)


def view_of(sources) -> View:
    """As Heat lists them. heatseeker puts a stack made by an OS::Heat::Stack resource under its
    creator (``link``, ``created_by``: heatseeker/links.py); Heat gives it no parent."""
    return {s["id"]: (s["name"], s["project_id"], None if s.get("link") else s.get("parent_id"),
                      s["status"]) for s in sources}


@contextlib.contextmanager
def heatseeker_for(tmp_path, auth: str) -> Iterator[KeystoneHeatseeker]:
    """A heatseeker reading Heat as the cloud admin: with the password, or with an application
    credential of the admin made for this test (and deleted after)."""
    if auth == "password":
        hs = KeystoneHeatseeker(str(tmp_path), auth, password_options())
        try:
            yield hs
        finally:
            hs.close()
        return
    cred = kl.create_application_credential(*kl.USERS["admin"], name=f"hs-e2e-{uuid.uuid4().hex[:8]}")
    hs = KeystoneHeatseeker(str(tmp_path), auth, {
        "auth_type": "v3applicationcredential", "application_credential_id": cred["id"],
        "application_credential_secret": cred["secret"]})
    try:
        yield hs
    finally:
        hs.close()
        kl.delete_application_credential(*kl.USERS["admin"], cred["id"])


def assert_no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr


# -- sync, listener and API, for each way of authenticating ---------------------------------------


@pytest.mark.parametrize("auth", ["password", "application-credential"])
def test_sync_listener_and_api_match_heat(kheat, stacks, tmp_path, auth):
    with heatseeker_for(tmp_path, auth) as hs:
        # sync: the index holds what Heat lists, project by project (nested stacks included)
        out = hs.sync()
        assert "synced" in out
        heat_alpha = kheat.view(kheat.alice, kheat.alpha)
        heat_beta = kheat.view(kheat.bob, kheat.beta)
        assert {stacks[n] for n in stacks if n.startswith(("ks-web", "ks-db"))} <= set(heat_alpha)
        assert sum(1 for v in heat_alpha.values() if v[2]) >= 4  # web's nested stacks
        assert {stacks[n] for n in stacks if n.startswith(("ks-app", "ks-remote"))} <= set(heat_beta)
        assert hs.cli_view("--project", "alpha") == heat_alpha  # a project's name ...
        assert hs.cli_view("--project", kheat.beta) == heat_beta  # ... or its id
        # the stack remote's OS::Heat::Stack made: a root in Heat, linked to its creator here
        remote = stacks[next(n for n in stacks if n.startswith("ks-remote"))]
        inner = [sid for sid, (name, *_) in heat_beta.items() if name.startswith(
            next(n for n in stacks if n.startswith("ks-remote")) + "-inner-")]
        assert len(inner) == 1 and heat_beta[inner[0]][2] is None
        assert hs.indexed(inner[0])["created_by"] == remote
        every = hs.cli_view("--all-projects")
        assert every == kheat.global_view()
        assert set(heat_alpha) | set(heat_beta) <= set(every)
        assert {p for _, p, _, _ in every.values()} >= {kheat.alpha, kheat.beta}

        # the listener: alice creates, updates and deletes a stack; each change is in the index
        # as Heat answers it, and the notifications say who did it with Keystone's ids
        hs.start_listener()
        name = f"ks-live-{uuid.uuid4().hex[:6]}"
        with hl.NotificationTap(hl.KEYSTONE_HEAT_AMQP_URL) as tap:
            sid = hl.create(kheat.alice, name, "app.yaml", "env.yaml",
                            parameters={"image": "ks-image-1"})
            try:
                wait_for(lambda: hs.view(kheat.alpha) == kheat.view(kheat.alice, kheat.alpha),
                         120, f"the index to show {name} as Heat does after the create")
                created = hs.view(kheat.alpha)
                assert created[sid] == (name, kheat.alpha, None, "CREATE_COMPLETE")
                assert any(parent == sid for _, _, parent, _ in created.values())
                assert hs.indexed(sid)["parameters"]["image"] == "ks-image-1"

                tpl, files, env = hl.contents("app.yaml", "env.yaml")
                kheat.alice.stacks.update(sid, template=tpl, files=files, environment=env,
                                          parameters={"image": "ks-image-2"})
                hl.wait_status(kheat.alice, sid, "UPDATE_COMPLETE")
                wait_for(lambda: hs.view(kheat.alpha) == kheat.view(kheat.alice, kheat.alpha)
                         and (hs.indexed(sid) or {}).get("parameters", {}).get("image")
                         == "ks-image-2",
                         120, f"the index to show {name} as Heat does after the update")
                assert hs.view(kheat.alpha)[sid][3] == "UPDATE_COMPLETE"
                assert kheat.alice.stacks.get(sid).parameters["image"] == "ks-image-2"
            finally:
                hl.delete(kheat.alice, sid)
            wait_for(lambda: hs.view(kheat.alpha) == kheat.view(kheat.alice, kheat.alpha),
                     120, f"the index to drop {name} as Heat did")
            assert sid not in hs.view(kheat.alpha) and hs.indexed(sid) is None
            messages = [m for m in tap.drain() if m["payload"].get("stack_identity") == sid]

        events = {m["event_type"] for m in messages}
        assert {"orchestration.stack.create.end", "orchestration.stack.update.end",
                "orchestration.stack.delete.end"} <= events, events
        for m in messages:  # Keystone's ids: alpha's project id, alice's user id
            assert m["payload"]["tenant_id"] == kheat.alpha
            assert m["payload"]["user_identity"] == kheat.alice_id
            assert m["payload"]["username"] == "alice"
        # the store's revisions: the project from the API, who acted from the notifications
        with contextlib.closing(hs.store()) as store:
            revisions = store.revisions(sid)
        assert len(revisions) >= 2, revisions
        assert all(r.project_id == kheat.alpha for r in revisions)
        assert {r.status for r in revisions} >= {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
        assert all(r.user_name == "alice" for r in revisions if r.status != "DELETE_COMPLETE")
        assert all(r.user_id == kheat.alice_id for r in revisions if r.user_name)
        assert hs.listener is not None and hs.listener.poll() is None
        hs.kill_listener()

        # the API behind Keystone: alice sees alpha's stacks, bob beta's, the cloud admin with
        # all_projects every project's, exactly as Heat lists them for each
        hs.serve()
        api = Api(hs.url)
        body = {"query": {"match_all": {}}, "limit": 1000, "_source": FIELDS}

        def answer(user: str, **extra) -> View:
            reply = api.search(kl.token(*kl.USERS[user]), {**body, **extra})
            assert reply.body["hits"]["total"] == len(reply.body["hits"]["hits"])
            return view_of(h["_source"] for h in reply.body["hits"]["hits"])

        assert answer("alice") == kheat.view(kheat.alice, kheat.alpha)
        assert answer("bob") == kheat.view(kheat.bob, kheat.beta)
        refused = api.search(kl.token(*kl.USERS["alice"]), {**body, "all_projects": True},
                             expect=403)
        assert "search:all_projects" in refused.text
        assert answer("admin", all_projects=True) == kheat.global_view()
        hs.stop_serve()


# -- names and ids of projects -------------------------------------------------------------------


def test_search_takes_a_project_name_or_id_and_says_when_there_is_none(kheat, stacks, tmp_path):
    with heatseeker_for(tmp_path, "password") as hs:
        hs.sync()
        by_name = hs.search("", "--project", "beta", "--limit", "1000")
        by_id = hs.search("", "--project", kheat.beta, "--limit", "1000")
        assert by_name == {**by_id, "took": by_name["took"]}
        assert {h["_id"] for h in by_name["hits"]["hits"]} == set(kheat.view(kheat.bob, kheat.beta))
        proc = hs.run("search", "--project", "no-such-project", "x", check=False)
        assert proc.returncode == 4, proc.stderr
        assert "no project 'no-such-project' in Keystone" in proc.stderr
        assert_no_traceback(proc)


# -- what an operator gets wrong -----------------------------------------------------------------


def test_wrong_password_names_the_heat_credentials(kheat, tmp_path):
    hs = KeystoneHeatseeker(str(tmp_path), "wrong", {**password_options(), "password": "wrong"})
    try:
        proc = hs.run("sync", check=False)
    finally:
        hs.close()
    assert proc.returncode == 1, proc.stderr
    assert_no_traceback(proc)
    msg = proc.stderr
    assert "refused heatseeker's [heat] credentials" in msg and "HTTP 401" in msg, msg
    assert "[heat] username" in msg and "password" in msg and "auth_type = password" in msg, msg


def test_policy_refusing_the_global_listing_names_the_rule_and_the_fix(kheat, stacks, tmp_path):
    # alice is no cloud admin: Heat's policy refuses her stacks:global_index
    hs = KeystoneHeatseeker(str(tmp_path), "alice", password_options("alice"))
    try:
        proc = hs.run("sync", check=False)
    finally:
        hs.close()
    assert proc.returncode == 1, proc.stderr
    assert_no_traceback(proc)
    msg = proc.stderr
    assert "HTTP 403" in msg and "stacks:global_index" in msg, msg
    assert '"stacks:global_index": "rule:context_is_admin"' in msg, msg
    assert "cloud admin" in msg and "[heat]" in msg, msg


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_keystone_is_retried_with_backoff_then_named(kheat, tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/v3"
    hs = KeystoneHeatseeker(str(tmp_path), "down", {**password_options(), "auth_url": url,
                                                    "retries": "2", "retry_backoff": "0.2"})
    try:
        proc = hs.run("sync", check=False)
        log = hs.log()
    finally:
        hs.close()
    assert proc.returncode == 1, proc.stderr
    assert_no_traceback(proc)
    msg = proc.stderr
    assert f"Keystone does not answer at [heat] auth_url = {url}" in msg, msg
    assert "3 attempt(s) with backoff" in msg and "check [heat] auth_url" in msg, msg
    # retries = 2: two retries after the first attempt, each logged with its backoff
    for attempt in (1, 2):
        assert f"authenticate with Keystone ([heat] auth_url = {url}) failed (attempt {attempt} of 3)" \
            in log, log[-3000:]
    assert log.count("retrying in") >= 2


def test_status_json_reads_the_index_of_a_keystone_install(kheat, stacks, tmp_path):
    """`status` asks Keystone about its admin project with [heat]'s credentials: this Keystone
    says which one it is, so there is no caveat."""
    with heatseeker_for(tmp_path, "password") as hs:
        hs.sync()
        status = json.loads(hs.run("status", "--json").stdout)
        assert status["keystone_caveat"] is None
        assert status["store"]["stacks"] >= len(stacks)


def test_interface_option_works_without_deprecation_warnings(kheat, stacks, tmp_path):
    """keystoneauth1's ``[heat] interface`` (deprecated for valid_interfaces) is read as
    valid_interfaces: Heat is found in the catalog, and no command warns about it."""
    hs = KeystoneHeatseeker(str(tmp_path), "interface", password_options())
    with open(hs.conf) as f:
        text = f.read()
    assert "valid_interfaces = public\n" in text
    with open(hs.conf, "w") as f:
        f.write(text.replace("valid_interfaces = public\n", "interface = public\n"))
    try:
        synced = hs.run("sync")
        shown = hs.run("search", "--project", "alpha", "--json", "")
        status = hs.run("status")
    finally:
        hs.close()
    found = {h["_id"] for h in json.loads(shown.stdout)["hits"]["hits"]}
    heat_alpha = kheat.view(kheat.alice, kheat.alpha)
    assert found == set(heat_alpha), (found, heat_alpha, synced.stdout)
    for proc in (synced, shown, status):
        assert "deprecated" not in proc.stderr.lower(), proc.stderr
    log = hs.log()
    assert "deprecated" not in log.lower(), log
