"""Several hosts, one record, one index (#13 point 4): two "hosts", each with its own data
directory and configuration, share the record (a throw-away MariaDB database, reached through a
TCP relay the test can cut), the OpenSearch index (one prefix) and the listener pool (one RabbitMQ
queue). Each host runs ``heatseeker listen`` and ``heatseeker serve``.

A burst of creates, updates and deletes in two projects; one listener is killed with -9 while the
burst is being handled and started again later; the record's connection is cut once while the
listeners write (every connection through the relay closed, the port refused for a moment). Then:
the index equals Heat's answers; both APIs answer search, facets, history, diff, changes and uses
identically; a web UI session opened through one API is used through the other; isolation holds
on both. (The unit test test_record_migrations cuts the connection at a chosen statement inside a
transaction; here the cut lands wherever the listeners are, as a real one would.)
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import uuid
from urllib.parse import urlencode

import kombu
import pytest
import sqlalchemy as sa

from tests.unit.record_backends import Cuttable, mariadb  # noqa: F401 - mariadb is a fixture

from .api_support import _die_with_parent
from .conftest import contents, create, heat_status, unique, wait_for, wait_heat
from .test_listener import AMQP, converge
from .test_opensearch import OpenSearchHeatseeker, _cleanup, _prefix  # noqa: F401 - _cleanup: autouse

IMAGE = f"img-mh-{uuid.uuid4().hex[:8]}"
IMAGE2 = IMAGE + "-v2"
REQUEUED = "the record unavailable"  # the listener's warning when it requeues a batch for it


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _no_took(body):
    """An answer without its timings (``took``), which differ between any two calls."""
    if isinstance(body, dict):
        return {k: _no_took(v) for k, v in body.items() if k != "took"}
    if isinstance(body, list):
        return [_no_took(v) for v in body]
    return body


class Host(OpenSearchHeatseeker):
    """One host: its own data_dir and configuration; the record, the index and the listener pool
    are the other host's too."""

    def __init__(self, base: str, url: str, name: str, *, prefix: str, pool: str, record: str):
        super().__init__(base, url, name)
        self.prefix, self.pool = prefix, pool
        self.port = _free_port()
        with open(self.conf) as f:
            text = f.read()
        text = re.sub(r"(?m)^index_prefix = .*$", f"index_prefix = {prefix}", text)
        text = re.sub(r"(?m)^pool = .*$", f"pool = {pool}", text)
        text += (f"[database]\nconnection = {record}\nmax_retries = 5\nretry_interval = 1\n"
                 f"[api]\nauth_strategy = trusted-headers\nbind_host = 127.0.0.1\n"
                 f"bind_port = {self.port}\nthreads = 4\n")
        with open(self.conf, "w") as f:
            f.write(text)
        self.server: subprocess.Popen | None = None

    # the listener dies with the test process (a killed run leaves no consumer behind)
    def start_listener(self) -> None:
        with open(os.path.join(self.dir, "listener.out"), "a") as log:
            self.listener = subprocess.Popen(self.cmd("listen"), stdout=log,
                                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                             preexec_fn=_die_with_parent)

    def serve(self) -> None:
        with open(os.path.join(self.dir, "serve.out"), "a") as log:
            self.server = subprocess.Popen(self.cmd("serve"), stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)

        def up() -> bool:
            if self.server is not None and self.server.poll() is not None:
                with open(os.path.join(self.dir, "serve.out")) as f:
                    pytest.fail(f"heatseeker serve exited {self.server.returncode}:\n{f.read()[-3000:]}")
            try:
                return self.http("GET", "/")[0] == 300
            except OSError:
                return False

        wait_for(up, 60, f"heatseeker serve on port {self.port}")

    def close(self) -> None:
        if self.server is not None:
            self.server.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.server.wait(15)
            if self.server.poll() is None:
                self.server.kill()
                self.server.wait(15)
            self.server = None
        super().close()

    def log(self) -> str:
        try:
            with open(os.path.join(self.dir, "heatseeker.log")) as f:
                return f.read()
        except OSError:
            return ""

    # HTTP, as a client on another machine would (no redirect followed)
    def http(self, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read().decode(errors="replace")
        finally:
            conn.close()

    def api(self, method: str, path: str, project: str, body: dict | None = None):
        """The API as a member of ``project`` (trusted headers): (status, JSON body)."""
        headers = {"Accept": "application/json", "X-Identity-Status": "Confirmed",
                   "X-User-Id": f"e2e-{project}", "X-Project-Id": project,
                   "X-Roles": "reader,member", "X-Is-Admin-Project": "False"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        status, _, text = self.http(method, path, headers, data)
        return status, (json.loads(text) if text else None)


def _consumers(queue: str) -> int:
    try:
        with kombu.Connection(AMQP, connect_timeout=2) as c:
            return c.channel().queue_declare(queue=queue, passive=True).consumer_count
    except Exception:  # noqa: BLE001 - not declared yet
        return 0


def _alive(*hosts: Host) -> None:
    for h in hosts:
        if h.listener is not None and h.listener.poll() is not None:
            pytest.fail(f"the listener of {h.dir} exited {h.listener.returncode}:\n"
                        f"{h.listener_output()}")


@pytest.fixture
def record(mariadb):  # noqa: F811 - the fixture imported above
    """A new empty MariaDB database behind a cuttable relay: (relay, its URL through the relay)."""
    server = mariadb.server if "unix_socket" not in mariadb.server \
        else "mysql+pymysql://root@127.0.0.1:3306/"
    relay = Cuttable(server)
    name = sa.engine.make_url(mariadb.create()).database
    yield relay, relay.url(name)
    relay.cut()
    # a cut connection the server has not noticed yet keeps its locks (the database's DROP would
    # wait for them): end whatever is left on this throw-away database
    admin = sa.create_engine(mariadb.server, poolclass=sa.pool.NullPool)
    with admin.connect() as c:
        for (pid,) in c.exec_driver_sql(
                "SELECT id FROM information_schema.processlist WHERE db = %s", (name,)).all():
            with contextlib.suppress(sa.exc.DBAPIError):
                c.exec_driver_sql(f"KILL {int(pid)}")
    admin.dispose()


def test_two_hosts_share_the_record_and_the_index(heat, record, tmp_path, opensearch_url):
    relay, url = record
    prefix, pool = _prefix(), f"heatseeker-e2e-mh-{uuid.uuid4().hex[:8]}"
    a = Host(str(tmp_path), opensearch_url, "host-a", prefix=prefix, pool=pool, record=url)
    b = Host(str(tmp_path), opensearch_url, "host-b", prefix=prefix, pool=pool, record=url)
    alpha, beta = heat("alpha"), heat("beta")
    made: list[tuple[object, str]] = []
    try:
        out = a.run("db", "upgrade").stdout  # a server's schema: made by db upgrade only
        assert "→" in out, out
        for h in (a, b):
            h.start_listener()
        wait_for(lambda: _alive(a, b) or _consumers(pool) == 2, 90, "two consumers on one pool")
        a.serve()
        b.serve()

        # -- the burst: creates in two projects, B killed -9 while they are handled -----------
        for hc in (alpha, beta):
            for _ in range(3):
                made.append((hc, create(hc, unique("mh"), "slow.yaml",
                                        parameters={"wait": 0, "image": IMAGE})))
        # B killed once it is handling the burst (it wrote to the index): its unacknowledged
        # messages go back to the queue, to A
        wait_for(lambda: "_bulk" in b.log(), 60, "B handling the burst")
        b.kill_listener(signal.SIGKILL)
        for hc, sid in made:
            wait_heat(hc, sid, "CREATE_COMPLETE")

        # -- updates and deletes; the record's connection cut while the listener writes them --
        tpl, files, env = contents("slow.yaml")
        updated = [made[0], made[1], made[3], made[4]]
        deleted = [made[2], made[5]]
        for hc, sid in updated:
            hc.stacks.update(sid, template=tpl, files=files, environment=env,
                             parameters={"wait": 0, "image": IMAGE2})
        for hc, sid in deleted:
            hc.stacks.delete(sid)
        relay.cut()  # every connection to the record closed, new ones refused
        # meanwhile search answers from the index; history needs the record: 503, not a lie
        assert a.api("POST", "/v1/search", "alpha", {"query": {"terms": {"id": [made[0][1]]}}})[0] == 200
        assert a.api("GET", f"/v1/search/stacks/{made[0][1]}/history", "alpha")[0] == 503
        # the cut lasts until the listener failed to write a batch of the updates (and requeued it)
        wait_for(lambda: REQUEUED in a.log(), 60, "a batch requeued while the record is cut")
        relay.restore()
        for hc, sid in updated:
            wait_heat(hc, sid, "UPDATE_COMPLETE")
        for hc, sid in deleted:
            wait_heat(hc, sid, "DELETE_COMPLETE")
        b.start_listener()  # B comes back later, on the same pool
        wait_for(lambda: _alive(a, b) or _consumers(pool) == 2, 90, "B back on the pool")

        # -- the index equals Heat's answers --------------------------------------------------
        for hc, sid in made:
            converge(a, hc, sid, timeout=120)
        for _, sid in updated:
            wait_for(lambda sid=sid: (a.indexed(sid) or {}).get("parameters", {}).get("image")
                     == IMAGE2, 120, f"the update of {sid}")
        def index_equals_heat() -> None:
            for hc, sid in made:
                doc = a.indexed(sid)
                if (hc, sid) in deleted:
                    assert doc is None and heat_status(hc, sid) in (None, "DELETE_COMPLETE")
                    continue
                show = hc.stacks.get(sid).to_dict()
                assert doc is not None
                assert (doc["status"], doc["name"], doc["project_id"]) == (
                    show["stack_status"], show["stack_name"], "alpha" if hc is alpha else "beta")
                assert doc["parameters"]["image"] == show["parameters"]["image"]

        index_equals_heat()
        _alive(a, b)
        for h in (a, b):  # a still index: the answers below cannot move between two calls
            h.kill_listener(signal.SIGTERM)

        # -- a sync on each host at the same moment (a timer on each): both succeed, and the
        # record's conditional writes leave one answer, still Heat's --------------------------
        syncs = [subprocess.Popen(h.cmd("sync"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True) for h in (a, b)]
        for h, proc in zip((a, b), syncs, strict=True):
            out, _ = proc.communicate(timeout=300)
            assert proc.returncode == 0, f"{h.dir}: sync exited {proc.returncode}:\n{out}"
        index_equals_heat()

        # -- both APIs answer alike; isolation on both ----------------------------------------
        ids = [sid for _, sid in made]
        mine = {"alpha": {sid for hc, sid in made if hc is alpha and (hc, sid) not in deleted},
                "beta": {sid for hc, sid in made if hc is beta and (hc, sid) not in deleted}}
        # every update is its own revision, or history marks the states it never observed: a
        # listener with a backlog (B's redelivered messages) may read a stack only after its
        # update began, so the create's finished state was never seen. Never merged silently.
        revs: dict[str, list[dict]] = {}
        for hc, sid in updated:
            status, history = a.api("GET", f"/v1/search/stacks/{sid}/history",
                                    "alpha" if hc is alpha else "beta")
            assert status == 200, history
            revs[sid] = history["revisions"]
            assert len(revs[sid]) >= 2 or any(r.get("gap") for r in revs[sid]), history

        def diffable(hc: object) -> str:  # a stack of hc's project with two revisions, if any
            mine_up = [sid for h, sid in updated if h is hc]
            return next((sid for sid in mine_up if len(revs[sid]) >= 2), mine_up[0])

        a_up, b_up = diffable(alpha), diffable(beta)
        for project, own, other in (("alpha", a_up, b_up), ("beta", b_up, a_up)):
            calls = [
                ("POST", "/v1/search", {"query": {"terms": {"id": ids}}, "limit": 50}),
                ("GET", "/v1/search/facets", None),
                ("GET", f"/v1/search/stacks/{own}/history", None),
                ("GET", f"/v1/search/stacks/{own}/diff", None),  # its last two (or one)
                ("GET", "/v1/search/changes?field=parameters.image", None),
                ("GET", f"/v1/search/uses?value={IMAGE2}", None),
            ]
            for method, path, body in calls:
                sa_, ja = a.api(method, path, project, body)
                sb, jb = b.api(method, path, project, body)
                assert sa_ == sb == 200, (path, sa_, ja, sb, jb)
                assert _no_took(ja) == _no_took(jb), path
            for h in (a, b):
                status, found = h.api("POST", "/v1/search", project,
                                      {"query": {"terms": {"id": ids}}, "limit": 50})
                assert status == 200
                assert {x["_id"] for x in found["hits"]["hits"]} == mine[project]
                _, uses = h.api("GET", f"/v1/search/uses?value={IMAGE2}", project)
                assert {s["id"] for s in uses["stacks"]} <= mine[project]
                _, changes = h.api("GET", "/v1/search/changes?field=parameters.image", project)
                assert other not in json.dumps(changes)
                _, history = h.api("GET", f"/v1/search/stacks/{own}/history", project)
                assert history["revisions"] == revs[own]
                for path in (f"/v1/search/stacks/{other}/history",
                             f"/v1/search/stacks/{other}/diff?from=1&to=2"):
                    assert h.api("GET", path, project)[0] == 404, path
                assert h.api("POST", "/v1/search", project,
                             {"query": {"terms": {"id": ids}}, "all_projects": True})[0] == 403

        # -- a web UI session opened through A, used through B --------------------------------
        status, headers, page = a.http("GET", "/ui/login")
        assert status == 200
        nonce = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        form = urlencode({"csrf": nonce, "project": "alpha", "next": "/ui/"}).encode()
        status, headers, _ = a.http("POST", "/ui/login", {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"heatseeker_ui_login={nonce}", "Origin": f"http://127.0.0.1:{a.port}"}, form)
        assert status == 303, status
        session = re.search(r"heatseeker_ui=([^;]+)",
                            " ".join(headers.get_all("Set-Cookie") or [])).group(1)
        cookie = {"Cookie": f"heatseeker_ui={session}", "Accept": "application/json"}
        status, _, text = b.http("GET", "/ui/api/v1/search/facets", cookie)
        assert status == 200, text
        assert _no_took(json.loads(text)) == _no_took(a.api("GET", "/v1/search/facets", "alpha")[1])
        status, _, text = b.http("GET", f"/ui/api/v1/search/stacks/{b_up}/history", cookie)
        assert status == 404, text  # the session is alpha's on B too
        status, _, shell = b.http("GET", "/ui/", {"Cookie": f"heatseeker_ui={session}"})
        assert status == 200
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', shell).group(1)
        status, _, text = b.http("POST", "/ui/api/v1/search", {
            **cookie, "Content-Type": "application/json", "X-CSRF-Token": csrf,
            "Origin": f"http://127.0.0.1:{b.port}"},
            json.dumps({"query": {"terms": {"id": ids}}, "limit": 50}).encode())
        assert status == 200, text
        assert {x["_id"] for x in json.loads(text)["hits"]["hits"]} == mine["alpha"]
        status, _, _ = b.http("GET", "/ui/api/v1/search/facets",
                              {"Cookie": "heatseeker_ui=" + "x" * 43, "Accept": "application/json"})
        assert status == 401  # not any cookie: the session of the record
    finally:
        deaf = []
        for h in (a, b):
            try:
                h.close()
            except subprocess.TimeoutExpired:  # a listener deaf to SIGTERM: ended, and said
                deaf.append(h.dir)
                h.kill_listener(signal.SIGKILL)
        for hc, sid in made:
            with contextlib.suppress(Exception):
                hc.stacks.delete(sid)
        for hc, sid in made:
            with contextlib.suppress(Exception):
                wait_heat(hc, sid, "DELETE_COMPLETE")
        if deaf:
            pytest.fail(f"listeners that did not stop on SIGTERM within 60 s: {deaf}\n"
                        f"{_lock_report(url)}")


def _lock_report(url: str) -> str:
    """What the record's server holds when listeners hang (an intermittent failure of this test,
    see the session notes): its sessions on the test's database, open transactions, lock waits."""
    out = []
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as c:
            for title, sql in (
                ("sessions", "SELECT id, command, time, state, LEFT(info, 120) FROM "
                             "information_schema.processlist WHERE db = DATABASE()"),
                ("transactions", "SELECT trx_mysql_thread_id, trx_state, trx_started, "
                                 "trx_rows_locked, LEFT(trx_query, 120) FROM information_schema.innodb_trx"),
                ("lock waits", "SELECT * FROM information_schema.innodb_lock_waits"),
            ):
                out.append(f"-- {title}")
                out += [repr(tuple(row)) for row in c.exec_driver_sql(sql)]
    except Exception as exc:  # noqa: BLE001 - a report, not a check
        out.append(f"(no report: {exc})")
    finally:
        engine.dispose()
    return "\n".join(out)
