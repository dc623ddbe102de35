"""The API as operators serve it: ``heatseeker.api.wsgi:application`` under gunicorn with two
worker processes, on two "hosts" (two gunicorn servers on two ports sharing one installation), in
front of real parts: keystonemiddleware validating the Keystone sandbox's tokens, an index and a
record that ``heatseeker sync`` filled from the real Heat. Answers are compared with Heat's.

Checked: search as a member (only their project's stacks, as Heat lists them), the request id on
every answer, links that follow the proxy headers, /healthcheck at 200 and at 503 with the record or
the index made unusable (then well again), and a web UI session signed in on one host, used on the
other, surviving a restart, and ended on both by a sign-out on one.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest

from tools.keystone import keystonelab as kl

from .api_support import ApiHeatseeker, _die_with_parent, heat_stacks, heat_subtree
from .conftest import create, delete_stacks, unique, wait_for, wait_heat

PREFIX = "e2ewsgi"
IMAGE = "cirros-0.6.2"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    text: str

    @property
    def json(self):
        return json.loads(self.text)


@dataclass
class Server:
    """One gunicorn (two workers) serving the installation's config."""

    conf: str
    log: str
    port: int = field(default_factory=_free_port)
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = dict(os.environ, HEATSEEKER_CONFIG_FILE=self.conf)
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind",
                 f"127.0.0.1:{self.port}", "--timeout", "60", "heatseeker.api.wsgi:application"],
                env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent)

        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                pytest.fail(f"gunicorn exited {self.proc.returncode}: {self.output()}")
            try:
                return self.call("GET", "/").status == 300
            except OSError:
                return False

        wait_for(up, 60, f"gunicorn on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
            self.proc = None

    def output(self) -> str:
        with open(self.log) as f:
            return f.read()[-4000:]

    def call(self, method: str, path: str, body=None, headers: dict | None = None,
             form: dict | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        hdrs = dict(headers or {})
        data = None
        if form is not None:
            data = urlencode(form).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        text = resp.read().decode(errors="replace")
        conn.close()
        return Reply(resp.status, resp.headers, text)


@dataclass
class Lab:
    hs: ApiHeatseeker
    a: Server
    b: Server
    roots: list[str]
    alpha_ids: set[str]  # alpha's tree as Heat shows it
    beta_ids: set[str]


@pytest.fixture(scope="module")
def lab(heat, tmp_path_factory):
    if not kl.available():
        pytest.fail(f"the Keystone sandbox does not answer {kl.KEYSTONE_URL}: "
                    "bash tools/keystone/ensure.sh")
    ids = kl.ids()
    hc_alpha, hc_beta = heat(ids["ALPHA_ID"]), heat(ids["BETA_ID"])
    base = tmp_path_factory.mktemp("wsgi")
    hs = ApiHeatseeker(str(base), f"http://127.0.0.1:{_free_port()}")
    with open(hs.conf, "a") as f:
        f.write("[oslo_middleware]\nenable_proxy_headers_parsing = true\n")
    created = []
    servers: list[Server] = []
    try:
        alpha = create(hc_alpha, unique(f"{PREFIX}-a"), "app.yaml", "env.yaml",
                       parameters={"image": IMAGE})
        created.append((hc_alpha, alpha))
        beta = create(hc_beta, unique(f"{PREFIX}-b"), "app.yaml", "env.yaml",
                      parameters={"image": IMAGE})
        created.append((hc_beta, beta))
        # the sync must see whole trees: Heat lists a nested stack only once its parent made it
        wait_heat(hc_alpha, alpha, "CREATE_COMPLETE", timeout=180)
        wait_heat(hc_beta, beta, "CREATE_COMPLETE", timeout=180)
        hs.sync()
        servers = [Server(hs.conf, str(base / f"gunicorn-{n}.log")) for n in "ab"]
        for s in servers:
            s.start()
        yield Lab(hs, servers[0], servers[1], [alpha, beta],
                  set(heat_subtree(heat_stacks(hc_alpha), alpha)),
                  set(heat_subtree(heat_stacks(hc_beta), beta)))
    finally:
        for s in servers:
            s.stop()
        delete_stacks(created)
        hs.close()


def _ids(reply: Reply) -> set[str]:
    assert reply.status == 200, reply.text[:500]
    return {h["_id"] for h in reply.json["hits"]["hits"]}


def test_search_on_both_hosts_answers_as_heat_lists_the_project(lab: Lab):
    token = kl.token(*kl.USERS["alice"])
    body = {"query": {"terms": {"root_id": lab.roots}}, "limit": 1000, "_source": ["id"]}
    seen_ids: set[str] = set()
    for server in (lab.a, lab.b) * 3:  # several calls: both workers of each server answer
        reply = server.call("POST", "/v1/search", body, {"X-Auth-Token": token})
        assert _ids(reply) == lab.alpha_ids  # Heat's own list of alpha's stacks, nested included
        rid = reply.headers["x-openstack-request-id"]
        assert rid.startswith("req-") and rid not in seen_ids
        seen_ids.add(rid)
    assert not lab.alpha_ids & lab.beta_ids
    bad = lab.a.call("POST", "/v1/search", {"query": {"nope": {}}}, {"X-Auth-Token": token})
    assert bad.status == 400 and bad.headers["x-openstack-request-id"].startswith("req-")
    no_token = lab.b.call("POST", "/v1/search", body)
    assert no_token.status == 401 and no_token.headers["x-openstack-request-id"]

    def log() -> str:
        with open(os.path.join(lab.hs.dir, "heatseeker.log")) as f:
            return f.read()

    def lines(rid: str) -> int:
        return len(re.findall(rf"{rid}.*\"POST /v1/search\" 200", log()))

    # the access line is written once the body has been sent: the last one may come a moment
    # after its answer
    wait_for(lambda: all(lines(rid) for rid in seen_ids), 10, "an access line per request")
    for rid in seen_ids:  # one access line per request, with its id
        assert lines(rid) == 1


def test_links_follow_the_proxy_headers(lab: Lab):
    plain = lab.a.call("GET", "/v1/").json["version"]["links"][0]["href"]
    assert plain == f"http://127.0.0.1:{lab.a.port}/v1/"
    proxied = lab.b.call("GET", "/v1/", headers={"X-Forwarded-Proto": "https",
                                                 "X-Forwarded-Host": "search.example.org"})
    assert proxied.json["version"]["links"][0]["href"] == "https://search.example.org/v1/"


def _health(s: Server, status: int, word: str = "") -> None:
    reply = s.call("GET", "/healthcheck")
    assert reply.status == status and word in reply.text, (
        f"{reply.status} {reply.text[:300]}\n-- the server's log:\n{s.output()}")


def test_healthcheck_follows_the_record_and_the_index(lab: Lab):
    for s in (lab.a, lab.b):
        _health(s, 200)
    state = os.path.join(lab.hs.data_dir, "state.sqlite")
    shutil.copy(state, state + ".good")
    try:
        with open(state, "wb") as f:
            f.write(b"not a database" * 1000)
        for s in (lab.a, lab.b):
            _health(s, 503, "store")
    finally:
        shutil.move(state + ".good", state)
    _health(lab.a, 200)
    current = os.path.join(lab.hs.data_dir, "index", "CURRENT")
    with open(current) as f:
        good = f.read()
    try:
        with open(current, "w") as f:
            f.write("gen-999")
        for s in (lab.a, lab.b):
            _health(s, 503, "index")
    finally:
        with open(current, "w") as f:
            f.write(good)
    for s in (lab.a, lab.b):
        wait_for(lambda s=s: s.call("GET", "/healthcheck").status == 200, 30, "healthy again")


def _cookie(reply: Reply, name: str) -> str:
    for header in reply.headers.get_all("Set-Cookie") or []:
        if header.startswith(name + "="):
            return header.split(";", 1)[0].split("=", 1)[1]
    raise AssertionError(f"no {name} cookie in {reply.headers}")


def test_a_ui_session_spans_hosts_restarts_and_ends_everywhere(lab: Lab):
    user, password, project = kl.USERS["alice"]
    form_page = lab.a.call("GET", "/ui/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', form_page.text).group(1)
    origin_a = f"http://127.0.0.1:{lab.a.port}"
    signed = lab.a.call("POST", "/ui/login", headers={
        "Cookie": f"heatseeker_ui_login={_cookie(form_page, 'heatseeker_ui_login')}",
        "Origin": origin_a}, form={"csrf": nonce, "username": user, "password": password,
                                   "project": project, "domain": "Default", "next": "/ui/"})
    assert signed.status == 303, signed.text[:500]
    session = {"Cookie": f"heatseeker_ui={_cookie(signed, 'heatseeker_ui')}"}

    def search_via(server: Server) -> Reply:
        page = server.call("GET", "/ui/", headers=session)
        if page.status != 200:
            return page
        csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)
        return server.call("POST", "/ui/api/v1/search",
                           {"query": {"terms": {"root_id": lab.roots}}, "limit": 1000,
                            "_source": ["id"]},
                           {**session, "X-CSRF-Token": csrf,
                            "Origin": f"http://127.0.0.1:{server.port}"})

    for server in (lab.b, lab.a, lab.b):  # signed in on a, used on b (each of its workers)
        assert _ids(search_via(server)) == lab.alpha_ids
    lab.b.stop()
    lab.b.start()  # a restart keeps the session
    assert _ids(search_via(lab.b)) == lab.alpha_ids
    page = lab.b.call("GET", "/ui/", headers=session)
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)
    out = lab.b.call("POST", "/ui/logout", headers={**session, "Origin":
                                                   f"http://127.0.0.1:{lab.b.port}"},
                     form={"csrf": csrf})
    assert out.status == 303, out.text[:300]
    for server in (lab.a, lab.b):  # ended everywhere
        gone = server.call("GET", "/ui/", headers=session)
        assert gone.status == 303 and "/ui/login" in gone.headers["Location"]
