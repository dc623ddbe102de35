"""End-to-end fixtures: the real Heat sandbox (tools/sandbox), RabbitMQ, and heatseeker run as the
operator runs it (its CLI, in subprocesses), compared with what the Heat API says."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime

import pytest
from heatclient import client as heat_client
from heatclient import exc as heat_exc
from heatclient.common import template_utils
from keystoneauth1 import noauth, session

from heatseeker.engines.tantivy import TantivyEngine
from heatseeker.query import tree as t
from heatseeker.query.visibility import Visibility
from heatseeker.record import Store
from heatseeker.searcher import Searcher

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
HEAT = "http://127.0.0.1:8004/v1"
RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"
CTL = os.path.join(ROOT, "tools", "sandbox", "ctl.sh")

pytestmark = pytest.mark.e2e


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


# -- Heat ------------------------------------------------------------------------------------------


def hc_for(project: str):
    url = f"{HEAT}/{project}"
    sess = session.Session(
        auth=noauth.NoAuth(endpoint=url),
        additional_headers={"X-Auth-Project": project, "X-Auth-User": project + "-user"},
    )
    return heat_client.Client("1", session=sess, endpoint_override=url)


def contents(template: str, env: str | None = None):
    files, tpl = template_utils.get_template_contents(os.path.join(TEMPLATES, template))
    environment: dict = {}
    if env:
        env_files, environment = template_utils.process_multiple_environments_and_files(
            [os.path.join(TEMPLATES, env)]
        )
        files.update(env_files)
    return tpl, files, environment


def heat_quiet(timeout: float = 300) -> None:
    """Wait until no stack of the sandbox's Heat is in progress: a test that compares heatseeker
    with all of Heat needs Heat still, and other tests' deletes may still be running (such tests
    are marked ``alone``: tools/test.sh runs them one at a time, after the others). A stack in
    progress for more than 10 minutes is stuck (an engine restarted under it), not running: it
    does not count."""
    admin = hc_for("admin")
    stuck = time.time() - 600

    def busy() -> list[str]:
        out = []
        for s in admin.stacks.list(global_tenant=True, show_nested=True):
            if not s.stack_status.endswith("_IN_PROGRESS"):
                continue
            since = s.updated_time or s.creation_time
            started = datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp() if since else 0
            if started > stuck:
                out.append(f"{s.stack_name} {s.stack_status}")
        return out

    wait_for(lambda: not busy(), timeout, "no stack in progress in Heat")


def wait_for(check: Callable[[], object], timeout: float = 90, what: str = "condition",
             interval: float = 0.3):
    """Poll until check() returns something truthy (no timing is asserted, only convergence)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def heat_status(hc, sid: str) -> str | None:
    try:
        return hc.stacks.get(sid, resolve_outputs=False).stack_status
    except heat_exc.HTTPNotFound:
        return None


def wait_heat(hc, sid: str, want: str, timeout: float = 120) -> None:
    def done():
        st = heat_status(hc, sid)
        if want != "DELETE_COMPLETE" and st and st.endswith("FAILED") and st != want:
            pytest.fail(f"stack {sid} went {st}")
        return st == want or (want == "DELETE_COMPLETE" and st is None)

    wait_for(done, timeout, f"Heat stack {sid} -> {want}")


def delete_stacks(stacks) -> None:
    """Delete ``(heatclient, stack id)`` pairs (gone already is fine) and wait until they are."""
    for hc, sid in stacks:
        with contextlib.suppress(heat_exc.HTTPNotFound):
            hc.stacks.delete(sid)
    for hc, sid in stacks:
        wait_heat(hc, sid, "DELETE_COMPLETE")


def remove_leftovers(hcs, prefix: str) -> None:
    """Delete the stacks an earlier, killed run of a module left (only its own: names start with
    ``prefix-``), and wait until they are gone."""
    delete_stacks([(hc, s.id) for hc in hcs for s in hc.stacks.list()
                   if s.stack_name.startswith(prefix + "-")])


def create(hc, name: str, template: str, env: str | None = None, **kw) -> str:
    tpl, files, environment = contents(template, env)
    return hc.stacks.create(stack_name=name, template=tpl, files=files, environment=environment,
                            **kw)["stack"]["id"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def heat():
    try:
        list(hc_for("admin").stacks.list(limit=1))
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"the Heat sandbox is not running ({exc}): bash tools/sandbox/start.sh")
    return hc_for


# -- heatseeker under test -------------------------------------------------------------------------


class Heatseeker:
    """One heatseeker installation: a config file, a data dir, its own listener pool."""

    def __init__(self, base: str, name: str = "hs"):
        self.dir = os.path.join(base, name)
        self.data_dir = os.path.join(self.dir, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.pool = f"heatseeker-e2e-{uuid.uuid4().hex[:8]}"
        self.conf = os.path.join(self.dir, "heatseeker.conf")
        with open(self.conf, "w") as f:
            f.write(
                f"[DEFAULT]\ndata_dir = {self.data_dir}\ntransport_url = {RABBIT}\n"
                f"log_file = {os.path.join(self.dir, 'heatseeker.log')}\n"
                "[heat]\nauth_type = none\n"
                f"endpoint = {HEAT}/admin\nretries = 2\nretry_backoff = 0.2\n"
                f"[listener]\npool = {self.pool}\nbatch_timeout = 0.2\nrequeue_backoff_max = 2\n"
                "[engine]\ncommit_interval = 0.2\n"
            )
        self.listener: subprocess.Popen | None = None
        self._engine: TantivyEngine | None = None

    def cmd(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "heatseeker.cli", "--config-file", self.conf, *args]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(self.cmd(*args), capture_output=True, text=True, timeout=600)
        if check and proc.returncode != 0:
            pytest.fail(f"heatseeker {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def sync(self, *args: str) -> str:
        return self.run("sync", *args).stdout

    def search(self, query: str, *args: str) -> dict:
        return json.loads(self.run("search", "--json", query, *args).stdout)

    # in-process reads for polling (a subprocess per poll would be slow)
    def searcher(self) -> Searcher:
        if self._engine is None:
            self._engine = TantivyEngine(os.path.join(self.data_dir, "index"), read_only=True)
        return Searcher(self._engine)

    def indexed(self, sid: str) -> dict | None:
        return self.searcher().get(sid, view=Visibility.everything())

    def indexed_status(self, sid: str) -> str | None:
        doc = self.indexed(sid)
        return doc["status"] if doc else None

    def store(self) -> Store:
        return Store(os.path.join(self.data_dir, "state.sqlite"))

    def count(self, query: t.Node) -> int:
        return self.searcher().count(query, view=Visibility.everything())

    def count_descendants(self, sid: str) -> int:
        return self.count(t.Term("ancestors", sid))

    # the listener
    def start_listener(self) -> None:
        with open(os.path.join(self.dir, "listener.out"), "a") as log:
            self.listener = subprocess.Popen(self.cmd("listen"), stdout=log,
                                             stderr=subprocess.STDOUT)
        wait_for(self.queue_exists, 60, "the listener's queue")

    def queue_exists(self) -> bool:
        import kombu

        if self.listener is not None and self.listener.poll() is not None:
            pytest.fail(f"listener exited {self.listener.returncode}: {self.listener_output()}")
        try:
            with kombu.Connection("amqp://guest:guest@127.0.0.1:5672//", connect_timeout=2) as c:
                c.channel().queue_declare(queue=self.pool, passive=True)
            return True
        except Exception:  # noqa: BLE001
            return False

    def listener_output(self) -> str:
        try:
            with open(os.path.join(self.dir, "listener.out")) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def kill_listener(self, sig: int = signal.SIGKILL) -> None:
        if self.listener is not None:
            self.listener.send_signal(sig)
            self.listener.wait(60)
            self.listener = None

    def close(self) -> None:
        self.kill_listener(signal.SIGTERM)
        if self._engine is not None:
            self._engine.close()


@pytest.fixture
def make_heatseeker(tmp_path):
    made: list[Heatseeker] = []

    def make(name: str = "hs") -> Heatseeker:
        hs = Heatseeker(str(tmp_path), name)
        made.append(hs)
        return hs

    yield make
    for hs in made:
        hs.close()


def ctl(*args: str) -> None:
    subprocess.run(["bash", CTL, *args], check=True, timeout=300)
