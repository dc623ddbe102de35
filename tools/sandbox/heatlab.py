"""Helpers to drive the heatseeker Heat sandbox (tools/sandbox) from Python.

Works with the Heat venv's python ($HEATSEEKER_SANDBOX/heat-venv) or the
project's .venv: both have python-heatclient, keystoneauth1 and kombu.

Heat runs in ``noauth`` mode: the project is whatever the ``X-Auth-Project``
header says, the role is always ``admin``, and the sandbox policy makes only
project ``admin`` a cloud admin (see policy.yaml). Tests import this module as
``tools.sandbox.heatlab`` (with the repo root on sys.path) or put this folder
on sys.path and ``import heatlab``.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from heatclient import client as heat_client
from heatclient import exc
from heatclient.common import template_utils
from keystoneauth1 import noauth, session

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
HEAT_URL = os.environ.get("HEATSEEKER_HEAT_URL", "http://127.0.0.1:8004/v1")
AMQP_URL = os.environ.get("HEATSEEKER_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
ADMIN = "admin"

# The Keystone mode (keystone-heat.sh): a second Heat behind the sandbox Keystone, found in the
# catalog (service type orchestration, region RegionOne); RPC and notifications on its own vhost.
KEYSTONE_URL = os.environ.get("HEATSEEKER_KEYSTONE_URL", "http://127.0.0.1:5000/v3").rstrip("/")
KEYSTONE_HEAT_VHOST = "heat_keystone"
KEYSTONE_HEAT_AMQP_URL = os.environ.get(
    "HEATSEEKER_KEYSTONE_HEAT_AMQP_URL", f"amqp://guest:guest@127.0.0.1:5672/{KEYSTONE_HEAT_VHOST}"
)
KEYSTONE_HEAT_TRANSPORT_URL = KEYSTONE_HEAT_AMQP_URL.replace("amqp://", "rabbit://", 1)
# A second region of the same Keystone (keystone-heat.sh with KEYSTONE_HEAT_REGION=RegionTwo and
# KEYSTONE_HEAT_PORT=8024): its own heat-api, database and vhost, in the catalog as RegionTwo.
REGION_TWO = "RegionTwo"
REGION_TWO_PORT = 8024
REGION_TWO_VHOST = "heat_keystone_regiontwo"
REGION_TWO_AMQP_URL = f"amqp://guest:guest@127.0.0.1:5672/{REGION_TWO_VHOST}"
REGION_TWO_TRANSPORT_URL = REGION_TWO_AMQP_URL.replace("amqp://", "rabbit://", 1)

# web-prod's hidden parameter db_password: the value given at create time must
# never show anywhere; the template's default is returned unmasked by Heat's
# GET .../template (real Heat behaviour).
HIDDEN_VALUE = "HIDDEN-VALUE-alpha-7f3a"
HIDDEN_DEFAULT = "s3cr3t-default-pw"


class SandboxError(RuntimeError):
    """A stack did not reach the wanted state."""


def hc_for(project: str = ADMIN, user: str | None = None):
    """A python-heatclient v1 Client acting as `project` (noauth headers)."""
    url = f"{HEAT_URL}/{project}"
    sess = session.Session(
        auth=noauth.NoAuth(endpoint=url),
        additional_headers={"X-Auth-Project": project, "X-Auth-User": user or f"{project}-user"},
    )
    return heat_client.Client("1", session=sess, endpoint_override=url)


def keystone_session(user: str, password: str, project: str) -> session.Session:
    """A keystoneauth1 session of `user` scoped to `project` (names, domain Default) on the
    sandbox Keystone."""
    from keystoneauth1.identity import v3

    return session.Session(
        auth=v3.Password(
            auth_url=KEYSTONE_URL,
            username=user,
            password=password,
            project_name=project,
            user_domain_name="Default",
            project_domain_name="Default",
        )
    )


def hc_keystone(user: str, password: str, project: str, interface: str = "public",
                region: str = "RegionOne"):
    """A python-heatclient v1 Client of the Keystone-mode Heat, as `user` in `project`: the
    endpoint comes from the catalog (orchestration, `interface`, `region`), none is given."""
    return heat_client.Client(
        "1",
        session=keystone_session(user, password, project),
        service_type="orchestration",
        interface=interface,
        region_name=region,
    )


def template_path(name: str | os.PathLike) -> Path:
    """A template file: absolute paths as they are, others under templates/."""
    p = Path(name)
    return p if p.is_absolute() else TEMPLATES / p


def contents(template: str | os.PathLike, env: str | os.PathLike | None = None):
    """(template, files, environment) ready for stacks.create/update.

    Provider templates referenced by the template or the environment's
    resource_registry are read into `files` (keys are file:// URLs).
    """
    files, tpl = template_utils.get_template_contents(str(template_path(template)))
    environment: dict[str, Any] = {}
    if env:
        env_files, environment = template_utils.process_multiple_environments_and_files(
            [str(template_path(env))]
        )
        files.update(env_files)
    return tpl, files, environment


def _status(hc, sid: str) -> tuple[str, str]:
    st = hc.stacks.get(sid, resolve_outputs=False)
    return st.stack_status, st.stack_status_reason


def wait_status(hc, sid: str, want: str | Iterable[str], timeout: float = 180, poll: float = 0.5):
    """Wait until stack `sid` has status `want` (one status or several); return it.

    Raises SandboxError when the stack reaches a *_FAILED status that is not
    wanted, or on timeout.
    """
    wanted = {want} if isinstance(want, str) else set(want)
    deadline = time.monotonic() + timeout
    status, reason = "?", ""
    while time.monotonic() < deadline:
        status, reason = _status(hc, sid)
        if status in wanted:
            return status
        if status.endswith("_FAILED"):
            raise SandboxError(f"stack {sid}: {status} ({reason}), wanted {sorted(wanted)}")
        time.sleep(poll)
    raise SandboxError(f"stack {sid}: still {status} after {timeout}s, wanted {sorted(wanted)}")


def wait_deleted(hc, sid: str, timeout: float = 180, poll: float = 0.5) -> None:
    """Wait until stack `sid` is gone (404, or DELETE_COMPLETE: a GET by id of
    a deleted stack still answers until the database is purged)."""
    deadline = time.monotonic() + timeout
    status = "?"
    while time.monotonic() < deadline:
        try:
            status, reason = _status(hc, sid)
        except exc.HTTPNotFound:
            return
        if status == "DELETE_COMPLETE":
            return
        if status == "DELETE_FAILED":
            raise SandboxError(f"stack {sid}: DELETE_FAILED ({reason})")
        time.sleep(poll)
    raise SandboxError(f"stack {sid}: still {status} after {timeout}s, wanted deleted")


def create(
    hc,
    name: str,
    template: str | os.PathLike,
    env: str | os.PathLike | None = None,
    parameters: dict[str, Any] | None = None,
    tags: str | Iterable[str] | None = None,
    wait: bool = True,
    timeout: float = 300,
) -> str:
    """Create stack `name` from a template under templates/; return its id.

    With wait=True (default) wait for CREATE_COMPLETE (SandboxError otherwise).
    """
    tpl, files, environment = contents(template, env)
    fields: dict[str, Any] = {
        "stack_name": name,
        "template": tpl,
        "files": files,
        "environment": environment,
        "parameters": parameters or {},
    }
    if tags:
        fields["tags"] = tags if isinstance(tags, str) else ",".join(tags)
    sid = hc.stacks.create(**fields)["stack"]["id"]
    if wait:
        wait_status(hc, sid, "CREATE_COMPLETE", timeout=timeout)
    return sid


def find(hc, name: str):
    """The (not deleted) stack called `name` in the client's project, or None."""
    for st in hc.stacks.list(filters={"name": name}):
        if st.stack_name == name:
            return st
    return None


def delete(hc, sid: str, wait: bool = True, timeout: float = 180) -> None:
    try:
        hc.stacks.delete(sid)
    except exc.HTTPNotFound:
        return
    if wait:
        wait_deleted(hc, sid, timeout=timeout)


def descendants(admin, root_id: str) -> list:
    """Every nested stack under `root_id` (admin global listing, show_nested)."""
    stacks = list(admin.stacks.list(global_tenant=True, show_nested=True))
    children: dict[str, list] = {}
    for st in stacks:
        parent = getattr(st, "parent", None)
        if parent:
            children.setdefault(parent, []).append(st)
    out, todo = [], [root_id]
    while todo:
        for st in children.get(todo.pop(), []):
            out.append(st)
            todo.append(st.id)
    return out


def decode_notification(body: Any) -> Any:
    """The oslo message dict of an AMQP body {"oslo.version", "oslo.message": "<json>"}."""
    if isinstance(body, (bytes, str)):
        body = json.loads(body)
    if isinstance(body, dict) and "oslo.message" in body:
        return json.loads(body["oslo.message"])
    return body


class NotificationTap:
    """A private queue bound to Heat's notifications (exchange ``heat``, topic,
    routing key ``notifications.#``). Bind it BEFORE acting on stacks::

        with NotificationTap() as tap:
            ... create / update / delete ...
            msgs = tap.drain()          # decoded oslo message dicts, in order

    The queue is auto-deleted when the connection closes. A RabbitMQ restart
    drops it: open a new tap afterwards.
    """

    def __init__(self, url: str = AMQP_URL, routing_key: str = "notifications.#"):
        self.url = url
        self.routing_key = routing_key
        self.messages: list[dict] = []
        self._conn = None
        self._queue = None

    def __enter__(self) -> NotificationTap:
        from kombu import Connection, Exchange, Queue

        self._conn = Connection(self.url)
        # same flags as oslo.messaging's declaration (not durable, not auto-deleted)
        exchange = Exchange("heat", type="topic", durable=False)
        self._queue = Queue(
            "heatseeker-tap-" + uuid.uuid4().hex[:12],
            exchange=exchange,
            routing_key=self.routing_key,
            durable=False,
            auto_delete=True,
        )
        self._queue(self._conn.channel()).declare()
        return self

    def drain(self, idle: float = 1.0, max_wait: float = 60.0) -> list[dict]:
        """Collect messages until none came for `idle` s; return all so far."""
        assert self._conn is not None, "use NotificationTap as a context manager"

        def on_message(body, message):
            self.messages.append(decode_notification(body))
            message.ack()

        deadline = time.monotonic() + max_wait
        with self._conn.Consumer([self._queue], callbacks=[on_message], accept=["json"]):
            while time.monotonic() < deadline:
                try:
                    self._conn.drain_events(timeout=idle)
                except TimeoutError:  # socket.timeout: nothing for `idle` s
                    break
        return self.messages

    def __exit__(self, *exc_info) -> None:
        if self._conn is not None:
            self._conn.release()
            self._conn = None
