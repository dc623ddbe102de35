"""Helpers for the search API's end-to-end tests (test_api.py): ``heatseeker serve`` behind
keystonemiddleware on the URL the sandbox Keystone's catalog gives for service type ``search``,
a small HTTP client that keeps every body it received, and Heat's own view of stack trees."""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from tools.keystone import keystonelab as kl

from .conftest import Heatseeker, wait_for

# -- who listens on a port -------------------------------------------------------------------------


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    local, state, inode = cols[1], cols[3], cols[9]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # LISTEN
                        inodes.add(inode)
        except OSError:
            continue
    return inodes


def port_owner(port: int) -> int | None:
    """The pid of the process that listens on TCP `port` (None: nobody, or not ours to see)."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(pid)
        except OSError:
            continue
    return None


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def port_busy(host: str, port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


# the directory name of every installation this module makes: how a stale one is recognised
MARKER = "heatseeker-api-e2e"


def _environ(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            pairs = [e.decode(errors="replace").partition("=") for e in f.read().split(b"\0") if e]
    except OSError:
        return {}
    return {k: v for k, _, v in pairs}


def _program(pid: int, argv: list[str]) -> str:
    """argv[0] as an absolute path (relative to the process's working directory), links kept."""
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        cwd = "/"
    return os.path.normpath(os.path.join(cwd, argv[0])) if argv else ""


def stale_kind(pid: int) -> str | None:
    """What a leftover listener on the search port is, if it is one we may stop:
    check.sh's stand-in search app (the Keystone venv's python reading its script from stdin,
    with tools/keystone on PYTHONPATH), or an orphaned ``heatseeker serve`` of an earlier run of
    these tests (its installation directory is named MARKER)."""
    argv = cmdline(pid)
    if argv[1:] == ["-"] \
            and _program(pid, argv) == str(kl.SANDBOX / "keystone-venv" / "bin" / "python") \
            and _environ(pid).get("PYTHONPATH") == str(kl.HERE):
        return "the stand-in search app of tools/keystone/check.sh"
    if "heatseeker.cli" in argv and argv[-1:] == ["serve"] and any(MARKER in a for a in argv) \
            and _ppid(pid) == 1:
        return "an orphaned heatseeker serve of an earlier test run"
    return None


def free_port(host: str, port: int) -> None:
    """Make sure nothing listens on host:port: stop a known stale listener, fail on anything else."""
    if not port_busy(host, port):
        return
    pid = port_owner(port)
    what = stale_kind(pid) if pid else None
    if pid is None or what is None:
        who = f"pid {pid}: {' '.join(cmdline(pid))}" if pid else "a process this user cannot see"
        pytest.fail(f"{host}:{port} (the catalog's 'search' endpoint) is taken by {who}; stop it, "
                    "or move the endpoint: SEARCH_URL=http://127.0.0.1:PORT "
                    "bash tools/keystone/populate.sh")
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not port_busy(host, port), 30, f"{what} (pid {pid}) to leave port {port}")


# -- heatseeker serve ------------------------------------------------------------------------------


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: SIGTERM the child when the test process dies, so no server outlives a killed run."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class ApiHeatseeker(Heatseeker):
    """A heatseeker installation whose search API authenticates with the sandbox Keystone."""

    def __init__(self, base: str, url: str, name: str = MARKER, **authtoken: Any):
        super().__init__(base, name)
        u = urlsplit(url)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.url = f"http://{self.host}:{self.port}"
        with open(self.conf, "a") as f:
            f.write(f"[api]\nauth_strategy = keystone\nbind_host = {self.host}\n"
                    f"bind_port = {self.port}\nthreads = 4\n[keystone_authtoken]\n")
            for k, v in kl.auth_token_conf(**authtoken).items():
                f.write(f"{k} = {v}\n")
        self.server: subprocess.Popen | None = None
        self.syncing: subprocess.Popen | None = None

    def start_listener(self) -> None:
        """As the base class, but the listener dies with the test process."""
        with open(os.path.join(self.dir, "listener.out"), "a") as log:
            self.listener = subprocess.Popen(self.cmd("listen"), stdout=log,
                                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                             preexec_fn=_die_with_parent)
        wait_for(self.queue_exists, 60, "the listener's queue")

    # sync in the background, beside the listener (it reads every stack of Heat: ~8 stacks/s here)
    def start_sync(self) -> None:
        with open(os.path.join(self.dir, "sync.out"), "w") as out, \
                open(os.path.join(self.dir, "sync.err"), "w") as err:
            self.syncing = subprocess.Popen(self.cmd("sync"), stdout=out, stderr=err,
                                            stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)

    def wait_sync(self, timeout: float = 480) -> str:
        """Wait for the background sync; its output (fail if it failed)."""
        assert self.syncing is not None, "start_sync() first"
        try:
            rc = self.syncing.wait(timeout)
        except subprocess.TimeoutExpired:
            self.syncing.kill()
            rc = self.syncing.wait()
        self.syncing = None
        with open(os.path.join(self.dir, "sync.out")) as f:
            out = f.read()
        if rc != 0:
            with open(os.path.join(self.dir, "sync.err")) as f:
                pytest.fail(f"heatseeker sync exited {rc} (killed after {timeout}s if -9):\n"
                            f"{out}\n{f.read()[-4000:]}")
        return out

    def serve(self, timeout: float = 60) -> None:
        free_port(self.host, self.port)
        with open(os.path.join(self.dir, "serve.out"), "a") as log:
            self.server = subprocess.Popen(self.cmd("serve"), stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)

        def up() -> bool:
            if self.server is not None and self.server.poll() is not None:
                pytest.fail(f"heatseeker serve exited {self.server.returncode}:\n"
                            f"{self.serve_output()}")
            try:
                urllib.request.urlopen(self.url + "/", timeout=2)
            except urllib.error.HTTPError as exc:
                return exc.code == 300
            except OSError:
                return False
            return False

        wait_for(up, timeout, f"heatseeker serve to answer GET {self.url}/ with 300")

    def serve_output(self) -> str:
        try:
            with open(os.path.join(self.dir, "serve.out")) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def stop_serve(self) -> None:
        if self.server is None:
            return
        self.server.terminate()
        try:
            self.server.wait(15)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait(15)
        self.server = None

    def close(self) -> None:
        if self.syncing is not None:
            self.syncing.kill()
            self.syncing.wait()
            self.syncing = None
        self.stop_serve()
        super().close()


# -- the API over HTTP -----------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: Any
    text: str
    headers: Any  # case-insensitive (email.message.Message)


class Api:
    """Plain HTTP to the running API. Every body received is kept (``seen``) so a test can check
    that something never showed anywhere."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.seen: list[str] = []

    def call(self, method: str, path: str, token: str | None = None, body: Any = None,
             expect: int | None = 200) -> Reply:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token is not None:
            req.add_header("X-Auth-Token", token)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw, headers = resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as exc:
            status, raw, headers = exc.code, exc.read(), exc.headers
        text = raw.decode(errors="replace")
        self.seen.append(text)
        try:
            doc = json.loads(text) if text else None
        except ValueError:
            doc = None
        if expect is not None and status != expect:
            pytest.fail(f"{method} {path} answered {status}, not {expect}: {text[:1000]}")
        return Reply(status, doc, text, headers)

    def search(self, token: str, body: dict, expect: int | None = 200) -> Reply:
        return self.call("POST", "/v1/search", token, body, expect=expect)

    def hits(self, token: str, body: dict) -> list[dict]:
        return self.search(token, body).body["hits"]["hits"]


# -- Heat's own view -------------------------------------------------------------------------------


def heat_stacks(hc) -> dict[str, Any]:
    """Every stack of the client's project, nested ones included, by id."""
    return {s.id: s for s in hc.stacks.list(show_nested=True)}


def heat_subtree(stacks: dict[str, Any], root_id: str) -> dict[str, list[str]]:
    """parent id -> child ids, for `root_id` and its descendants (from Heat's ``parent``)."""
    children: dict[str, list[str]] = {}
    for s in stacks.values():
        parent = getattr(s, "parent", None)
        if parent:
            children.setdefault(parent, []).append(s.id)
    out: dict[str, list[str]] = {}
    todo = [root_id]
    while todo:
        sid = todo.pop()
        out[sid] = sorted(children.get(sid, []))
        todo.extend(out[sid])
    return out


def heat_path(hc, sid: str) -> list[str]:
    """Stack names from the root down to `sid`, walking Heat's parent chain one GET at a time."""
    names: list[str] = []
    seen: set[str] = set()
    current: str | None = sid
    while current:
        if current in seen:
            pytest.fail(f"Heat's parent chain of {sid} loops at {current}")
        seen.add(current)
        st = hc.stacks.get(current, resolve_outputs=False)
        names.append(st.stack_name)
        current = getattr(st, "parent", None)
    return names[::-1]


# -- the openstack CLI (python-searchlightclient) --------------------------------------------------


def openstack_all(calls: dict[str, tuple[str, tuple[str, ...]]],
                  workers: int = 2) -> dict[str, subprocess.CompletedProcess]:
    """Run several ``openstack`` commands, two at a time (each costs ~2 s of CPU at start-up):
    ``{label: (user, args)}`` -> ``{label: CompletedProcess}``; fail if any exits non-zero."""

    def run(user: str, args: tuple[str, ...]) -> subprocess.CompletedProcess:
        name, password, project = kl.USERS[user]
        return kl.openstack(*args, user=name, password=password, project=project)

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {label: pool.submit(run, user, args) for label, (user, args) in calls.items()}
        done = {label: f.result() for label, f in futures.items()}
    failed = [f"{label} ({' '.join(calls[label][1])}) exited {p.returncode}:\n{p.stdout[-1500:]}"
              f"\n{p.stderr[-1500:]}" for label, p in done.items() if p.returncode != 0]
    if failed:
        pytest.fail("openstack CLI failed:\n" + "\n".join(failed))
    return done

