"""Noninterference of tenant isolation (issue #11) through the API, run on every engine by
tests/conformance/test_noninterference_api.py.

The property: the same request, as the same scoped caller, against two deployments whose data
differ ONLY in other projects' stacks, gets a byte-identical answer (status, content type and body)
apart from the value of ``took``. Any difference means the caller's answer depends on stacks they
may not see: a leak (a BM25 statistic, a term-enumeration cap, an order, a count, a message ...).

How the two deployments are made (``build_pair``):

* one deterministic script of Heat events (``build_script``): the caller projects' stacks
  (p-alpha, p-beta: trees with nested stacks, an ``OS::Heat::Stack`` link, hidden parameters,
  files, updates, in-progress states, deletions) are in BOTH deployments, with the same ids,
  documents, versions and revision times; other projects' stacks differ: deployment A has a few,
  deployment B several times as many, built to collide with the callers' data (the same names,
  words, parameter values, resource types, tags, owners; ids sharing long prefixes with the
  callers' ids, sorting between them), with tombstones and history of their own, and words of
  their own;
* each deployment runs the product's write path: ``Indexer.apply_events`` (a fake Heat source
  whose reads happen at the script's times) → ``documents.build`` → ``Store.apply`` with
  ``links.resolve`` → revisions → ``Projector`` → the engine; and the real WSGI app
  (``build_app``) over it, with the history service over the same store. Clocks are fixed:
  versions and revision times come from the script, ``indexed_at`` is one fixed moment; the two stores share their installation secret (file
  digests in diffs are keyed by it). ``check_same_caller_records`` proves that the callers'
  records (documents, versions, tombstones, revisions) are identical in both stores;
* caps that are only reachable with large data are lowered for the test (``scaled_caps``), so
  that a cap counted over every project (not only the caller's) shows with a small corpus.

Callers (all scoped: the property is about what "other projects" may change):
``alpha`` (member of p-alpha), ``beta`` (member of p-beta, the same user's second project),
``alpha+beta`` (one view over both projects, what the CLI's repeated ``--project`` gives; reached
through the API by a test authorizer, ``MultiProjectAuthorizer``), ``alpha-admin`` (a cloud admin
with a token in p-alpha, without ``all_projects``: sees admin-only fields, still one project). A
cloud admin asking for ``all_projects`` is the contrast: other projects exist for them, and their
answers must differ (``contrast``): that proves the two deployments really differ.

Requests (``cases``): POST /v1/search (every DSL query type, query strings, sorts incl. ``_score``,
from/size, ``_source``, highlight, aggregations, roll-up, ``under``, ``version``, ``all_projects``),
``search_after`` cursors (the cursor of deployment A's first page, then the same next-page request
to both), GET /v1/search/facets, /v1/search/stacks/{id} (own, deleted, other projects' in A or B,
unknown ids), /history (and ?revision=N), /diff (?from=&to=), /v1/search/uses?value=,
/v1/search/changes?field=&since=&until=. Values come from the data of both deployments.

One *case* is one request sent to both deployments and compared; a search_after example is two
cases (the first page, then the next). The runner does not stop at the first difference: it runs
every case and fails with each distinct leak (grouped by route and the parts of the answer that
differ), its smallest reproducer and both answers. ``HEATSEEKER_NONINTERFERENCE_REPORT=<file>``
also writes them as JSON.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import re
import string
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import webob
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from heatseeker import config
from heatseeker.api.app import App, build_app
from heatseeker.api.auth import Authorizer, Caller
from heatseeker.engines.conformance import field_values
from heatseeker.heat.client import StackSnapshot
from heatseeker.heat.events import StackEvent
from heatseeker.history.service import History
from heatseeker.indexer import Indexer
from heatseeker.projection import Projector
from heatseeker.query.visibility import Visibility
from heatseeker.record import Store
from heatseeker.searcher import Searcher

# -- the data -------------------------------------------------------------------------------------

ALPHA, BETA = "p-alpha", "p-beta"
CALLER_PROJECTS = (ALPHA, BETA)
OTHER_PROJECTS = ("p-gamma", "p-delta", "p-epsilon", "p-zeta")
SEED = 11  # issue #11

WORDS = ["web", "db", "cache", "shop", "k8s", "mail", "queue", "search", "edge", "api", "batch"]
ADJECTIVES = ["prod", "staging", "dev", "blue", "green", "canary"]
IMAGES = ["cirros-0.6.2", "fedora-coreos-39", "ubuntu-22.04", "nginx:1.25", "debian-12",
          "rocky-9"]  # fmt: skip
FLAVORS = ["m1.tiny", "m1.small", "m1.medium", "m1.large", "c4.xlarge"]
ZONES = ["az1", "az2", "az3"]
NETS = ["net1", "net10", "private", "public", "mgmt"]
TAGS = ["prod", "dev", "team-a", "team-b", "pci", "gold"]
USERS = ["alice", "bob", "carol"]
RTYPES = ["OS::Nova::Server", "OS::Neutron::Net", "OS::Neutron::Port", "OS::Cinder::Volume",
          "OS::Heat::RandomString", "OS::Swift::Container"]  # fmt: skip
# words that only other projects' stacks hold (deployment B's or A's)
OTHER_ONLY_WORDS = ["zebrafinch", "quokka", "narwhal", "axolotl"]

DAY_US = 86_400 * 1_000_000


def _today_us() -> int:
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(today.timestamp()) * 1_000_000


def _iso(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Step:
    """One Heat event in the script: the stack's new state in Heat (None: deleted) and the
    notification, in the deployments listed in ``where``."""

    time: int
    seq: int
    stack_id: str
    name: str
    project: str
    action: str  # CREATE, UPDATE, DELETE
    phase: str  # start, end
    heat: dict | None  # the stack as Heat shows it after the step
    where: frozenset[str]
    user: str = "alice"


@dataclass
class Script:
    base_us: int
    steps: list[Step]
    stacks: dict[str, str]  # id -> project (every stack of the script)
    where: dict[str, frozenset[str]]  # id -> deployments holding it
    deleted: set[str]


class _Gen:
    """Builds the stacks of one deployment set (both, A only or B only) into the script."""

    def __init__(self, rng: random.Random, base_us: int, steps: list[Step],
                 stacks: dict[str, str], where: dict[str, frozenset[str]], deleted: set[str]):
        self.rng = rng
        self.base_us = base_us
        self.steps = steps
        self.stacks = stacks
        self.where = where
        self.deleted = deleted

    def uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def suffix(self) -> str:
        return "".join(self.rng.choice(string.ascii_lowercase + string.digits) for _ in range(12))

    def step(self, t: int, sid: str, name: str, project: str, action: str, phase: str,
             heat: dict | None, where: frozenset[str], user: str) -> None:
        self.steps.append(Step(t, len(self.steps), sid, name, project, action, phase,
                               heat, where, user))

    # a stack as Heat shows it
    def heat_stack(self, sid: str, name: str, project: str, parent: str | None, *,
                   params: dict, tags: list[str], description: str, status: str,
                   resources: list[dict], created: int, updated: int | None, owner: str,
                   hidden: dict[str, str], files: dict[str, str], registry: dict[str, str],
                   defaults: dict[str, str], outputs: list[dict]) -> dict:
        tpl_params: dict[str, dict] = {k: {"type": "string"} for k in params}
        for k, default in hidden.items():
            tpl_params[k] = {"type": "string", "hidden": True, "default": default}
        tpl_resources: dict[str, dict] = {}
        for r in resources:
            props: dict[str, Any] = {}
            if r["resource_type"] == "OS::Nova::Server":
                props = {"image": {"get_param": "image"}, "flavor": {"get_param": "flavor"}}
            tpl_resources[r["resource_name"]] = {"type": r["resource_type"], "properties": props}
        return {
            "show": {
                "id": sid, "stack_name": name, "parent": parent, "stack_status": status,
                "stack_status_reason": f"Stack {status.split('_')[0]} completed successfully"
                if status.endswith("COMPLETE") else f"Stack {status} for {name}",
                "creation_time": _iso(created), "updated_time": _iso(updated) if updated else None,
                "deletion_time": None, "description": description, "tags": tags or None,
                "parameters": {"OS::project_id": project, "OS::stack_id": sid,
                               "OS::stack_name": name, **params,
                               **{k: "******" for k in hidden}},
                "outputs": outputs,
                "stack_owner": owner, "stack_user_project_id": f"sup-{owner}",
            },
            "template": {"heat_template_version": "2021-04-16", "description": description,
                         "parameters": tpl_params, "resources": tpl_resources},
            "environment": {"parameters": {}, "parameter_defaults": dict(defaults),
                            "resource_registry": dict(registry)},
            "files": dict(files),
            "resources": resources,
        }

    def content(self, word: str, other_words: bool) -> dict:
        rng = self.rng
        adj = rng.choice(ADJECTIVES)
        extra = f" {rng.choice(OTHER_ONLY_WORDS)}" if other_words and rng.random() < 0.5 else ""
        image = rng.choice(IMAGES)
        params = {"image": image, "flavor": rng.choice(FLAVORS), "zone": rng.choice(ZONES),
                  "net": rng.choice(NETS), "replicas": rng.choice([1, 2, 3, 10])}
        if rng.random() < 0.3:
            params["extra"] = f"{rng.choice(WORDS)}-{rng.choice(ADJECTIVES)}{extra}"
        return {
            "params": params,
            "tags": sorted(set(rng.sample(TAGS, rng.randint(0, 3)))),
            "description": f"{adj.capitalize()} {word} stack serving {rng.choice(WORDS)} "
                           f"on {image}{extra}",
            "owner": rng.choice(USERS),
            "hidden": {"db_password": f"S3cret-{rng.choice(WORDS)}-{rng.randint(100, 999)}"}
            if rng.random() < 0.3 else {},
            "files": {"box.yaml": f"heat_template_version: 2021-04-16\n# {rng.choice(WORDS)}\n"}
            if rng.random() < 0.25 else {},
            "registry": {"My::Box": "box.yaml"} if rng.random() < 0.25 else {},
            "defaults": {"ntp": rng.choice(["pool.ntp.org", "10.0.0.1"])}
            if rng.random() < 0.3 else {},
        }

    def vary(self, content: dict) -> dict:
        rng = self.rng
        new = json.loads(json.dumps(content))
        what = rng.choice(["image", "flavor", "tags", "description", "files"])
        if what == "image":
            new["params"]["image"] = rng.choice(IMAGES)
        elif what == "flavor":
            new["params"]["flavor"] = rng.choice(FLAVORS)
        elif what == "tags":
            new["tags"] = sorted(set(rng.sample(TAGS, rng.randint(0, 3))))
        elif what == "description":
            new["description"] = content["description"] + f" ({rng.choice(ADJECTIVES)})"
        else:
            new["files"] = {"box.yaml": f"heat_template_version: 2021-04-16\n# v{rng.randint(1, 9)}\n"}
        return new

    def tree(self, project: str, where: frozenset[str], start: int, *, root_name: str | None = None,
             ids: list[str] | None = None, other_words: bool = False,
             template: list[dict] | None = None) -> list[dict]:
        """One root with nested stacks (and maybe an OS::Heat::Stack link), created, updated,
        perhaps deleted. ``ids``/``template``: a clone of another tree (the same names and
        contents, other ids). Returns the tree's plan (for clones)."""
        rng = self.rng
        plan: list[dict] = []
        if template is None:
            word = root_name or rng.choice(WORDS)
            n_children = rng.choice([0, 1, 2, 2, 3])
            plan.append({"name": word, "parent": None, "content": self.content(word, other_words),
                         "res": None, "link": False})
            for i in range(n_children):
                res = rng.choice(["group", "app", "backend", "workers"]) + str(i)
                parent_i = 0 if i == 0 or rng.random() < 0.6 else rng.randrange(len(plan))
                pname = plan[parent_i]["name"]
                plan.append({"name": f"{pname}-{res}-{self.suffix()}", "parent": parent_i,
                             "content": self.content(word, other_words), "res": res,
                             "link": False})
            if rng.random() < 0.3:
                plan.append({"name": f"{word}-app-{self.suffix()}", "parent": 0,
                             "content": self.content(word, other_words), "res": "app",
                             "link": True})
            updates = [rng.randrange(len(plan)) for _ in range(rng.randint(0, 3))]
            delete = rng.random() < 0.2
            in_progress = rng.random() < 0.3
            for p in plan:
                p["updates"] = [self.vary(p["content"]) for _ in range(updates.count(plan.index(p)))]
            plan[0]["delete"] = delete
            plan[0]["in_progress"] = in_progress
        else:
            plan = json.loads(json.dumps(template))
        sids = ids or [self.uuid() for _ in plan]
        for sid in sids:
            self.stacks[sid] = project
            self.where[sid] = where
        t = start

        def resources_of(i: int) -> list[dict]:
            out = []
            for j, p in enumerate(plan):
                if p["parent"] == i:
                    r = {"resource_name": p["res"], "resource_status": "CREATE_COMPLETE",
                         "resource_status_reason": "state changed",
                         "physical_resource_id": sids[j], "links": []}
                    if p["link"]:
                        r["resource_type"] = "OS::Heat::Stack"
                    else:
                        r["resource_type"] = "OS::Heat::ResourceGroup"
                        r["links"] = [{"rel": "nested",
                                       "href": f"http://heat/v1/{project}/stacks/x/{sids[j]}"}]
                    out.append(r)
            k = int(sids[i][:2], 16) % len(RTYPES)
            for n, rtype in enumerate((RTYPES[k], RTYPES[(k + 3) % len(RTYPES)])):
                out.append({"resource_name": ["server", "net", "port", "vol"][n + k % 3],
                            "resource_type": rtype, "resource_status": "CREATE_COMPLETE",
                            "resource_status_reason": "state changed",
                            "physical_resource_id": f"{sids[i][:8]}-phys-{n}", "links": []})
            return out

        created: dict[int, int] = {}

        def heat_of(i: int, content: dict, status: str, now: int) -> dict:
            p = plan[i]
            parent = None if p["parent"] is None or p["link"] else sids[p["parent"]]
            outputs = [{"output_key": "url", "output_value": f"http://{p['name']}.example/"
                        f"{content['params']['image']}", "description": "the entry point"}]
            return self.heat_stack(
                sids[i], p["name"], project, parent, params=content["params"],
                tags=content["tags"], description=content["description"], status=status,
                resources=resources_of(i), created=created[i],
                updated=None if now == created[i] else now, owner=content["owner"],
                hidden=content["hidden"], files=content["files"], registry=content["registry"],
                defaults=content["defaults"], outputs=outputs)

        current: dict[int, dict] = {}
        for i, p in enumerate(plan):
            t += rng.randint(1, 600) * 1_000_000 + rng.randint(0, 999_999)
            created[i] = t
            current[i] = p["content"]
            user = p["content"]["owner"]
            self.step(t, sids[i], p["name"], project, "CREATE", "end",
                      heat_of(i, p["content"], "CREATE_COMPLETE", t), where, user)
        for i, p in enumerate(plan):
            for new in p.get("updates", []):
                t += rng.randint(60, 6 * 3600) * 1_000_000 + rng.randint(0, 999_999)
                if plan[0].get("in_progress"):
                    self.step(t, sids[i], p["name"], project, "UPDATE", "start",
                              heat_of(i, current[i], "UPDATE_IN_PROGRESS", t), where,
                              new["owner"])
                    t += rng.randint(1, 120) * 1_000_000
                current[i] = new
                self.step(t, sids[i], p["name"], project, "UPDATE", "end",
                          heat_of(i, new, "UPDATE_COMPLETE", t), where, new["owner"])
        if plan[0].get("delete"):
            for i in reversed(range(len(plan))):
                t += rng.randint(1, 30) * 1_000_000
                self.step(t, sids[i], plan[i]["name"], project, "DELETE", "end", None, where,
                          current[i]["owner"])
                self.deleted.add(sids[i])
        return plan


def _clone_id(rng: random.Random, sid: str) -> str:
    """An id sharing a long prefix with ``sid`` (the last 1-4 hex digits differ)."""
    cut = rng.randint(1, 4)
    while True:
        tail = "".join(rng.choice("0123456789abcdef") for _ in range(cut))
        if tail != sid[-cut:]:
            return sid[:-cut] + tail


def build_script(seed: int = SEED, *, others_a: int = 4, others_b: int = 48,
                 clone_share: float = 0.9) -> Script:
    """The Heat events of both deployments, in time order (see the module docstring)."""
    base = _today_us() - 12 * DAY_US
    steps: list[Step] = []
    stacks: dict[str, str] = {}
    where: dict[str, frozenset[str]] = {}
    deleted: set[str] = set()
    both, only_a, only_b = frozenset("AB"), frozenset("A"), frozenset("B")
    callers = _Gen(random.Random(seed), base, steps, stacks, where, deleted)
    plans: list[tuple[list[dict], list[str], int]] = []
    for project, n in ((ALPHA, 9), (BETA, 6)):
        for k in range(n):
            start = base + callers.rng.randint(0, 9 * DAY_US)
            first = len(steps)
            plan = callers.tree(project, both, start, root_name=WORDS[k % len(WORDS)])
            ids = list(dict.fromkeys(s.stack_id for s in steps[first:]))
            plans.append((plan, ids, start))
    # deployment A: a few other stacks of its own
    gen_a = _Gen(random.Random(seed * 1000 + 1), base, steps, stacks, where, deleted)
    for k in range(others_a):
        gen_a.tree(OTHER_PROJECTS[k % len(OTHER_PROJECTS)], only_a,
                   base + gen_a.rng.randint(0, 9 * DAY_US), other_words=True)
    # deployment B: many more, colliding with the callers' data
    gen_b = _Gen(random.Random(seed * 1000 + 2), base, steps, stacks, where, deleted)
    for k in range(others_b):
        gen_b.tree(OTHER_PROJECTS[k % len(OTHER_PROJECTS)], only_b,
                   base + gen_b.rng.randint(0, 9 * DAY_US), other_words=True)
    for plan, ids, _start in plans:
        for _copy in range(2):
            if gen_b.rng.random() < clone_share:
                project = gen_b.rng.choice(OTHER_PROJECTS)
                gen_b.tree(project, only_b, base + gen_b.rng.randint(0, 9 * DAY_US),
                           ids=[_clone_id(gen_b.rng, sid) for sid in ids], template=plan)
    steps.sort(key=lambda s: (s.time, s.seq))
    return Script(base, steps, stacks, where, deleted)


# -- a deployment -----------------------------------------------------------------------------------


class ScriptedHeat:
    """The Heat API as the script has it at the current step (the HeatSource interface)."""

    def __init__(self) -> None:
        self.stacks: dict[str, dict] = {}
        self.now = 0

    def read(self, sid: str) -> StackSnapshot | None:
        s = self.stacks.get(sid)
        if s is None:
            return None
        return StackSnapshot(show=dict(s["show"]), template=s["template"],
                             environment=s["environment"], files=s["files"],
                             resources=s["resources"], read_at=self.now)

    def know_names(self, names):  # HeatSource's hint for its shows (no effect here)
        self.names = dict(names)

    def read_many(self, ids, priority=None):
        for sid in ids:
            yield sid, self.read(sid)

    def show(self, sid: str) -> dict | None:
        s = self.stacks.get(sid)
        return dict(s["show"]) if s else None

    def list_stacks(self):  # not used: the script drives notifications only
        return iter(())


FIXED_NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class _FixedDatetime(dt.datetime):
    @classmethod
    def now(cls, tz=None):  # type: ignore[override]
        return FIXED_NOW.astimezone(tz) if tz is not None else FIXED_NOW.replace(tzinfo=None)


@contextlib.contextmanager
def fixed_indexed_at() -> Iterator[None]:
    """Documents built while loading say they were indexed at one fixed moment: ``indexed_at``
    is ``documents``' wall clock otherwise, and the two deployments are loaded seconds apart.
    (The clock of ``heatseeker.documents`` is replaced, whatever function builds documents.)"""
    import types

    import pytest

    from heatseeker import documents

    clock = types.SimpleNamespace(**{k: getattr(dt, k) for k in dir(dt) if not k.startswith("__")})
    clock.datetime = _FixedDatetime
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(documents, "dt", clock)
        yield


MULTI = "p-alpha+p-beta"  # the token project that MultiProjectAuthorizer reads as both projects


class MultiProjectAuthorizer(Authorizer):
    """The app's authorizer, but a token "scoped" to ``MULTI`` sees p-alpha and p-beta (the view
    ``heatseeker search --project p-alpha --project p-beta`` has; a Keystone token names one
    project, so the API has no other way to ask for it)."""

    def visibility(self, caller: Caller, all_projects: bool) -> Visibility:
        view = super().visibility(caller, all_projects)
        if caller.project_id == MULTI and view.projects is not None:
            return Visibility(frozenset(CALLER_PROJECTS), view.hidden_fields)
        return view


SECRET = "6e6f6e696e74657266657265e6ce" * 2  # both installations share one (file digests)


@dataclass
class Deployment:
    name: str
    store: Store
    engine: Any
    app: Any

    def call(self, method: str, path: str, body: Any, headers: dict[str, str]) -> webob.Response:
        req = webob.Request.blank(path, method=method)
        if body is not None:
            req.body = json.dumps(body).encode()
            req.content_type = "application/json"
        req.headers.update(headers)
        return req.get_response(self.app)


def make_conf():
    conf = config.new_conf()
    conf([], default_config_files=[])
    conf.set_override("auth_strategy", "trusted-headers", group="api")
    return conf


def _event(step: Step) -> StackEvent:
    state = {"end": f"{step.action}_COMPLETE", "start": f"{step.action}_IN_PROGRESS"}[step.phase]
    return StackEvent(
        stack_id=step.stack_id, stack_name=step.name, kind="stack", action=step.action,
        phase=step.phase, state=state, status_reason=f"Stack {step.action} {step.phase}",
        timestamp=step.time, message_id=f"m-{step.seq}", request_id=f"req-{step.seq:05d}",
        acting_project=step.project, user=step.user, description=None, tags=None,
        updated_at=None, user_id=f"u-{step.user}",
    )


def load(name: str, script: Script, data_dir: str, engine: Any) -> Deployment:
    """Run the script's steps of deployment ``name`` through the product's write path."""
    store = Store(os.path.join(data_dir, "state.sqlite"))
    store.set_meta(secret_key=SECRET)
    heat = ScriptedHeat()
    indexer = Indexer(store, heat)  # type: ignore[arg-type]  # the HeatSource interface
    with fixed_indexed_at():
        for step in script.steps:
            if name not in step.where:
                continue
            if step.heat is None:
                heat.stacks.pop(step.stack_id, None)
            else:
                heat.stacks[step.stack_id] = step.heat
            heat.now = step.time
            indexer.apply_events([_event(step)])
    Projector(store, engine).run_once()
    app = build_app(make_conf(), Searcher(engine), History(store))
    inner = app
    while not isinstance(inner, App):  # the web UI's mount → PublicFirst → App
        inner = inner.api if hasattr(inner, "api") else inner.app
    inner.authorizer = MultiProjectAuthorizer(inner.authorizer.enforcer,
                                              inner.authorizer.admin_only_fields)
    return Deployment(name, store, engine, app)


def caller_records(store: Store) -> dict:
    """The callers' records: live documents, tombstones, versions and revisions."""
    out: dict = {"stacks": {}, "revisions": {}}
    for rec in store.iter_all():
        project = rec.project_id or (rec.doc or {}).get("project_id")
        revs = store.revisions(rec.id, with_docs=True)
        owner = revs[-1].project_id if revs else project
        if owner in CALLER_PROJECTS:
            out["stacks"][rec.id] = (rec.version, rec.deleted, rec.doc)
            out["revisions"][rec.id] = [
                (r.rev, r.at_us, r.project_id, r.action, r.status, r.user_id, r.user_name,
                 r.request_id, r.digest, r.doc, r.file_digests) for r in revs]
    return out


def check_same_caller_records(a: Deployment, b: Deployment) -> None:
    ra, rb = caller_records(a.store), caller_records(b.store)
    assert ra["stacks"].keys() == rb["stacks"].keys()
    for sid in ra["stacks"]:
        assert ra["stacks"][sid] == rb["stacks"][sid], f"caller stack {sid} differs in the stores"
        assert ra["revisions"][sid] == rb["revisions"][sid], f"history of {sid} differs"
    assert len(ra["stacks"]) >= 40


@contextlib.contextmanager
def scaled_caps(engine_caps: Sequence[tuple[Any, str, Any]] = ()) -> Iterator[None]:
    """Lower the caps a small corpus cannot reach, so that a cap counted over every project
    (rather than over what the caller may see) changes an answer here. Values sit between what
    the callers' data needs and what deployment B's whole data holds. ``engine_caps``: the
    engine's own, ``(module, name, value)`` (its conformance class's ``small_caps``)."""
    import pytest

    from heatseeker import searcher, uses

    caps = [
        (searcher, "ROLLUP_MAX_MATCHES", 6),  # matches listed under a page of roots
        (searcher, "TREE_MAX_STACKS", 3),  # descendants a stack tree reads
        (uses, "PAGE", 7),  # candidates per page of a reverse lookup (cursors)
        *engine_caps,
    ]
    with pytest.MonkeyPatch.context() as mp:
        for module, name, value in caps:
            mp.setattr(module, name, value)  # raises if a cap is gone: then drop it here
        yield


# -- the vocabulary of the generated requests --------------------------------------------------------


KEYWORD_FIELDS = ["status", "action", "state", "tags", "id", "parent_id", "root_id", "ancestors",
                  "path", "parent_resource", "resource_types", "template_version", "files",
                  "registry_types", "registry_map", "created_by", "link", "fingerprint",
                  "template_fingerprint", "project_id", "stack_owner", "stack_user_project_id"]  # fmt: skip
TEXT_FIELDS = ["name", "description", "status_reason"]
DYNAMIC_FIELDS = ["parameters.image", "parameters.flavor", "parameters.zone", "parameters.net",
                  "parameters.replicas", "parameters.extra", "parameters.db_password",
                  "resources.type", "resources.name", "resources.physical_resource_id",
                  "outputs.value", "outputs.key", "template.resources.server.properties.image",
                  "environment.parameter_defaults.ntp", "environment.resource_registry.My::Box"]  # fmt: skip
DATE_FIELDS = ["created_at", "updated_at", "indexed_at", "deleted_at"]
INT_FIELDS = ["depth", "version"]
ALL_FIELDS = KEYWORD_FIELDS + TEXT_FIELDS + DYNAMIC_FIELDS + DATE_FIELDS + INT_FIELDS
SORT_FIELDS = ["name", "status", "depth", "created_at", "updated_at", "id", "version", "parent_id",
               "root_id", "parent_resource", "description", "stack_owner", "project_id"]  # fmt: skip
AGG_FIELDS = ["status", "tags", "name", "resource_types", "project_id", "parent_id", "root_id",
              "path", "files", "stack_owner", "description", "template_version"]  # fmt: skip
HIGHLIGHT_FIELDS = ["*", "_all", "name", "description", "status_reason", "parameters.image",
                    "parameters.*", "tags", "stack_owner", "stack*", "outputs.value"]  # fmt: skip
CHANGE_FIELDS = ["", "parameters.image", "parameters.flavor", "parameters", "tags", "description",
                 "files", "files.box.yaml", "resources", "outputs.url", "template",
                 "environment.parameter_defaults.ntp"]  # fmt: skip


@dataclass
class Vocabulary:
    values: dict[str, list[Any]]
    words: list[str]
    caller_ids: list[str]
    deleted_caller_ids: list[str]
    other_ids: list[str]
    other_ids_a: list[str]  # other projects' stacks of deployment A only
    other_ids_b: list[str]  # ... of deployment B only
    unknown_ids: list[str]
    dates: list[str]


def vocabulary(script: Script, a: Deployment, b: Deployment) -> Vocabulary:
    docs = []
    for dep in (a, b):
        for rec in dep.store.iter_all():
            if rec.doc is not None:
                docs.append(rec.doc)
        for sid in script.deleted & set(dep.store.get_many(list(script.stacks))):
            last = dep.store.revision(sid)
            if last is not None and last.doc is not None:
                docs.append(last.doc)
    values: dict[str, list[Any]] = {}
    for f in ALL_FIELDS:
        seen: dict[Any, None] = {}
        for doc in docs:
            for v in field_values(doc, f):
                seen[v.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(v, dt.datetime) else v] = None
        values[f] = sorted(seen, key=str)[:200] or ["x"]
    words = sorted({w.lower() for doc in docs for w in re.findall(r"[^\W_]+", json.dumps(
        {k: doc.get(k) for k in ("name", "description", "status_reason", "tags", "parameters")}))
        if not w.isdigit() and len(w) > 1})
    caller_ids = sorted(s for s, p in script.stacks.items() if p in CALLER_PROJECTS)
    return Vocabulary(
        values=values,
        words=words,
        caller_ids=[s for s in caller_ids if s not in script.deleted],
        deleted_caller_ids=[s for s in caller_ids if s in script.deleted],
        other_ids=sorted(s for s, p in script.stacks.items() if p not in CALLER_PROJECTS),
        other_ids_a=sorted(s for s, w in script.where.items() if w == frozenset("A")),
        other_ids_b=sorted(s for s, w in script.where.items() if w == frozenset("B")),
        unknown_ids=["no-such-stack", "00000000-0000-0000-0000-000000000000",
                     caller_ids[0][:-1] + "x"],
        dates=sorted({_iso(script.base_us + k * DAY_US // 2) for k in range(0, 26, 3)}),
    )


# -- request strategies ---------------------------------------------------------------------------

CALLERS: dict[str, dict[str, str]] = {
    "alpha": {"X-Project-Id": ALPHA, "X-Roles": "member", "X-Is-Admin-Project": "False"},
    "beta": {"X-Project-Id": BETA, "X-Roles": "reader", "X-Is-Admin-Project": "False"},
    "alpha+beta": {"X-Project-Id": MULTI, "X-Roles": "member", "X-Is-Admin-Project": "False"},
    "alpha-admin": {"X-Project-Id": ALPHA, "X-Roles": "admin,member", "X-Is-Admin-Project": "True"},
}
ADMIN_ALL = {"X-Project-Id": "p-admin", "X-Roles": "admin", "X-Is-Admin-Project": "True"}


def headers_of(caller: str) -> dict[str, str]:
    who = CALLERS.get(caller, ADMIN_ALL)
    return {"X-Identity-Status": "Confirmed", "X-User-Id": "u-alice", **who}


@dataclass
class Request:
    caller: str
    method: str
    path: str
    body: Any = None
    kind: str = ""
    page2_of: Request | None = field(default=None, repr=False)

    def show(self) -> str:
        text = f"{self.method} {self.path}  as {self.caller}"
        if self.body is not None:
            text += "\n    " + json.dumps(self.body, ensure_ascii=False, sort_keys=True)
        if self.page2_of is not None:
            text += "\n    (search_after taken from deployment A's answer to:\n    " + \
                self.page2_of.show().replace("\n", "\n    ") + ")"
        return text


def _qs_escape(text: str) -> str:
    return re.sub(r'([+\-=&|><!(){}\[\]^"~*?:\\/ ])', r"\\\1", text)


_STRATEGIES: dict[str, st.SearchStrategy] = {}


def _once(key: str, make: Callable[[], st.SearchStrategy]) -> st.SearchStrategy:
    """A strategy built once (building strategies per draw costs hypothesis most of its time)."""
    strategy = _STRATEGIES.get(key)
    if strategy is None:
        strategy = _STRATEGIES[key] = make()
    return strategy


def pick(*options: Any) -> st.SearchStrategy:
    return _once("pick" + repr(options), lambda: st.sampled_from(options))


def ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    return _once(f"ints{lo},{hi}", lambda: st.integers(lo, hi))


def lists(elements: st.SearchStrategy, **kw: Any) -> st.SearchStrategy[list]:
    return _once(f"lists{id(elements)}{sorted(kw.items())}", lambda: st.lists(elements, **kw))


BOOLS = st.booleans()


class Strategies:
    def __init__(self, vocab: Vocabulary):
        self.v = vocab
        self.ids = st.sampled_from(vocab.caller_ids + vocab.deleted_caller_ids + vocab.other_ids
                                   + vocab.unknown_ids)
        common = sorted({*WORDS, *ADJECTIVES, *TAGS, *OTHER_ONLY_WORDS, "cirros", "fedora",
                         "nginx", "stack", "serving", "on", "complete", "m1", "small", "az1",
                         "successfully", "update", "create", "app", "group0"})
        self.common = st.sampled_from(common)
        self.words = st.sampled_from(vocab.words + common) | self.common
        self.field = pick(*ALL_FIELDS)
        self._values = {f: st.sampled_from(v) for f, v in vocab.values.items()}
        self.s_leaf = self.leaf()
        self.s_scoring = self.scoring()
        self.s_query_string = self.query_string()
        self.s_field_value = self.field_value()
        self.s_query = self.query()
        self.s_search_body = {caller: self.search_body(caller) for caller in CALLERS}

    def value(self, f: str) -> st.SearchStrategy[Any]:
        return self._values[f]

    @st.composite
    def field_value(draw, self) -> tuple[str, Any]:  # noqa: N805 - hypothesis composite
        f = draw(self.field)
        return f, draw(self.value(f))

    @st.composite
    def leaf(draw, self) -> dict:  # noqa: N805
        kind = draw(pick(*
            ["term", "terms", "range", "range", "prefix", "wildcard", "exists", "match", "match",
             "match_phrase", "multi_match", "query_string", "query_string", "simple_query_string",
             "ids", "match_all", "constant_score"]))
        if kind == "match_all":
            return {"match_all": {}}
        if kind == "ids":
            return {"ids": {"values": draw(lists(self.ids, max_size=4))}}
        if kind == "exists":
            return {"exists": {"field": draw(self.field)}}
        if kind in ("match", "match_phrase"):
            f = draw(pick(*TEXT_FIELDS + ["_all", "_all", "parameters.image", "tags"]))
            text = " ".join(draw(lists(self.words, min_size=1, max_size=3)))
            if kind == "match" and draw(BOOLS):
                return {"match": {f: {"query": text,
                                      "operator": draw(pick(*["and", "or"]))}}}
            return {kind: {f: text}}
        if kind == "multi_match":
            return {"multi_match": {"query": draw(self.words), "fields": draw(lists(
                pick(*TEXT_FIELDS + ["tags", "parameters.image"]), min_size=1,
                max_size=3, unique=True))}}
        if kind == "query_string":
            return {"query_string": {"query": draw(self.s_query_string)}}
        if kind == "simple_query_string":
            words = draw(lists(self.words, min_size=1, max_size=3))
            ops = draw(lists(pick(*[" ", " | ", " +", " -"]), min_size=len(words),
                                max_size=len(words)))
            text = "".join(op + w for op, w in zip(ops, words, strict=True)).strip()
            body: dict = {"query": text}
            if draw(BOOLS):
                body["fields"] = draw(lists(pick(*TEXT_FIELDS), min_size=1,
                                               max_size=2, unique=True))
            if draw(BOOLS):
                body["default_operator"] = draw(pick(*["and", "or"]))
            return {"simple_query_string": body}
        if kind == "constant_score":
            f, value = draw(self.s_field_value)
            return {"constant_score": {"filter": {"term": {f: value}}}}
        if kind == "range":
            f = draw(pick(*ALL_FIELDS + ["id", "name", "parameters.image", "depth",
                                                   "updated_at", "created_at"] * 2))
            lo, hi = sorted([draw(self.value(f)), draw(self.value(f))], key=str)
            if f in DATE_FIELDS and draw(BOOLS):
                lo = draw(pick(*["now-30d/d", "now-7d", "now-1d/d", "now-12h/h"]))
                hi = "now"
            bounds = {}
            if draw(ints(0, 3)):
                bounds[draw(pick(*["gt", "gte"]))] = lo
            if draw(ints(0, 3)):
                bounds[draw(pick(*["lt", "lte"]))] = hi
            return {"range": {f: bounds}}
        f, value = draw(self.s_field_value)
        if kind == "term":
            return {"term": {f: value}}
        if kind == "terms":
            more = draw(lists(self.value(f), max_size=3))
            return {"terms": {f: [value, *more]}}
        text = str(value)
        cut = draw(ints(0, len(text)))
        if kind == "prefix":
            return {"prefix": {draw(pick(*[f, "_all"])) if f in TEXT_FIELDS else f:
                               text[:cut]}}
        pattern = text[:cut] + draw(pick(*["*", "?*", "*" + text[cut + 1:cut + 3]]))
        return {"wildcard": {f: pattern}}

    @st.composite
    def query_string(draw, self) -> str:  # noqa: N805
        parts: list[str] = []
        for _ in range(draw(ints(1, 3))):
            shape = draw(pick(*["word", "word", "field", "prefix", "phrase", "range",
                                          "exists", "star"]))
            if shape == "word":
                part = draw(self.words)
            elif shape == "prefix":
                w = draw(self.words)
                part = w[: max(1, len(w) // 2)] + "*"
            elif shape == "phrase":
                part = '"' + " ".join(draw(lists(self.words, min_size=1, max_size=2))) + '"'
            elif shape == "range":
                f = draw(pick(*["depth", "updated_at", "name", "id", "status"]))
                lo, hi = sorted([str(draw(self.value(f))), str(draw(self.value(f)))])
                part = f"{f}:[{_qs_escape(lo)} TO {_qs_escape(hi)}]"
            elif shape == "exists":
                part = f"_exists_:{draw(self.field)}"
            elif shape == "star":
                part = f"{draw(pick(*TEXT_FIELDS + ['status', 'tags']))}:*"
            else:
                f, value = draw(self.s_field_value)
                part = f'{f}:"{value}"' if draw(BOOLS) else f"{f}:{_qs_escape(str(value))}"
            if parts:
                parts.append(draw(pick(*["AND", "OR", "AND NOT", "OR", ""])))
            parts.append(part)
        return " ".join(p for p in parts if p)

    @st.composite
    def scoring(draw, self) -> dict:  # noqa: N805
        text = " ".join(draw(lists(self.common, min_size=1, max_size=3)))
        kind = draw(pick(*["query_string", "query_string", "match", "match_phrase",
                                     "multi_match", "simple_query_string", "bool"]))
        if kind == "query_string":
            op = draw(pick(*[None, "OR", "AND"]))
            return {"query_string": {"query": text, **({"default_operator": op} if op else {})}}
        if kind in ("match", "match_phrase"):
            return {kind: {draw(pick(*["_all", "description", "name", "status_reason"])):
                           text}}
        if kind == "multi_match":
            return {"multi_match": {"query": text, "fields": ["name", "description", "tags"]}}
        if kind == "simple_query_string":
            return {"simple_query_string": {"query": text.replace(" ", " | ")}}
        return {"bool": {"should": [{"match": {"_all": w}} for w in text.split()],
                         "filter": [draw(self.s_leaf)] if draw(BOOLS) else []}}

    def query(self) -> st.SearchStrategy[dict]:
        def bools(children):
            group = lists(children, max_size=2)
            return st.builds(
                lambda must, should, must_not, filter_, msm: {"bool": {
                    k: v for k, v in (("must", must), ("should", should), ("must_not", must_not),
                                      ("filter", filter_)) if v} | (
                    {} if msm is None else {"minimum_should_match": msm})},
                group, group, group, group, st.none() | pick(*[0, 1, 2, "50%"]))

        return st.recursive(self.s_leaf, bools, max_leaves=4)

    @st.composite
    def search_body(draw, self, caller: str) -> dict:  # noqa: N805
        body: dict = {}
        shape = draw(ints(0, 19))
        if shape < 7:  # a few words: what users type, and what scores
            body["query"] = draw(self.s_scoring)
        elif shape < 18:
            body["query"] = draw(self.s_query)
        if draw(ints(0, 3)) == 0:
            body["rollup"] = "root"
        if draw(BOOLS):
            keys = draw(lists(pick(*SORT_FIELDS + ["_score", "_score"]), min_size=1,
                                 max_size=3, unique=True))
            body["sort"] = [k if k == "_score" else {k: draw(pick(*["asc", "desc"]))}
                            for k in keys]
        if draw(ints(0, 3)) == 0:
            fields = draw(lists(pick(*AGG_FIELDS), min_size=1, max_size=2))
            aggs = {}
            for i, f in enumerate(fields):
                spec: dict = {"field": f}
                if draw(BOOLS):
                    spec["size"] = draw(ints(1, 4))
                aggs[f"a{i}"] = {"terms": spec}
            body["aggs"] = aggs
        if draw(ints(0, 3)) == 0:
            names = draw(lists(pick(*HIGHLIGHT_FIELDS), min_size=1, max_size=3))
            body["highlight"] = {"fields": {n: {} for n in names}}
            if draw(BOOLS):
                body["highlight"]["pre_tags"] = ["["]
                body["highlight"]["post_tags"] = ["]"]
        if draw(ints(0, 4)) == 0:
            body["under"] = draw(self.ids)
        if draw(BOOLS):
            body[draw(pick(*["from", "offset"]))] = draw(ints(0, 12))
        body[draw(pick(*["size", "limit"]))] = draw(ints(0, 12))
        if draw(ints(0, 2)) == 0:
            body["_source"] = draw(pick(*
                [False, True, "name", ["name", "parameters.image"], ["stack*", "id"],
                 {"exclude": ["template", "environment"]}, {"includes": ["tags", "path"]}]))
        if draw(ints(0, 5)) == 0:
            body["version"] = True
        if caller != "alpha-admin" and draw(ints(0, 15)) == 0:
            body["all_projects"] = True  # a member asking: refused by policy (the same 403)
        return body

    @st.composite
    def request(draw, self) -> Request:  # noqa: N805
        caller = draw(pick(*CALLERS))
        kind = draw(pick(*
            ["search"] * 10 + ["search_after"] * 3 + ["facets", "show", "show", "history",
                                                      "history", "diff", "uses", "uses",
                                                      "changes", "changes"]))
        q = urllib.parse.urlencode
        if kind == "search":
            return Request(caller, "POST", "/v1/search", draw(self.s_search_body[caller]), kind)
        if kind == "search_after":
            keys = draw(lists(pick(*
                [k for k in SORT_FIELDS if k not in ("description",)]), min_size=1, max_size=2,
                unique=True))
            body: dict = {"sort": [{k: draw(pick(*["asc", "desc"]))} for k in keys],
                          "limit": draw(ints(1, 6))}
            if draw(BOOLS):
                body["query"] = draw(self.s_query)
            if draw(ints(0, 3)) == 0:
                body["under"] = draw(self.ids)
            return Request(caller, "POST", "/v1/search", body, kind)
        if kind == "facets":
            params = {}
            for name in ("include_fields", "exclude_options"):
                if draw(BOOLS):
                    params[name] = draw(pick(*["true", "false"]))
            if draw(BOOLS):
                params["limit_terms"] = str(draw(ints(0, 4)))
            if caller != "alpha-admin" and draw(ints(0, 6)) == 0:
                params["all_projects"] = "true"
            return Request(caller, "GET", "/v1/search/facets" + ("?" + q(params) if params else ""),
                           None, kind)
        sid = draw(self.ids)
        if kind == "show":
            return Request(caller, "GET", f"/v1/search/stacks/{sid}", None, kind)
        if kind == "history":
            rev = draw(st.none() | ints(1, 4))
            suffix = "" if rev is None else f"?revision={rev}"
            return Request(caller, "GET", f"/v1/search/stacks/{sid}/history{suffix}", None, kind)
        if kind == "diff":
            params = {k: str(draw(ints(1, 4))) for k in ("from", "to")
                      if draw(BOOLS)}
            return Request(caller, "GET", f"/v1/search/stacks/{sid}/diff"
                           + ("?" + q(params) if params else ""), None, kind)
        if kind == "uses":
            f = draw(pick(*DYNAMIC_FIELDS + ["id", "name", "tags"]))
            value = str(draw(self.value(f)) if draw(ints(0, 3)) else draw(self.words))
            params = {"value": value}
            if draw(BOOLS):
                params["exact"] = "true"
            if draw(ints(0, 3)) == 0:
                params["under"] = draw(self.ids)
            return Request(caller, "GET", "/v1/search/uses?" + q(params), None, kind)
        params = {"field": draw(pick(*CHANGE_FIELDS))}
        # only bounds whose text is the same in two requests a moment apart (un-rounded "now-7d"
        # is echoed with the microseconds of each request: a difference that is no leak)
        bound = pick(*self.v.dates, "now/d", "now-3d/d", "now-30d/d", "now-1d/h")
        if draw(BOOLS):
            params["since"] = draw(bound)
        if draw(ints(0, 2)) == 0:
            params["until"] = draw(bound)
        if draw(BOOLS):
            params["include_created"] = "true"
        if draw(BOOLS):
            params["limit"] = str(draw(ints(1, 30)))
        return Request(caller, "GET", "/v1/search/changes?" + q(params), None, kind)


# -- comparing -------------------------------------------------------------------------------------

_TOOK = re.compile(rb'(?<!\\)"took": -?[0-9]+')


def answer_of(resp: webob.Response) -> tuple[int, str, bytes]:
    """What must be identical: the status, the content type, the body without ``took``'s value."""
    return resp.status_int, resp.content_type or "", _TOOK.sub(b'"took": 0', resp.body)


def _diff_paths(a: Any, b: Any, path: str = "") -> Iterator[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                yield f"{path}.{k}" + ("(only in B)" if k not in a else "(only in A)")
            else:
                yield from _diff_paths(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield f"{path}[](length)"
        ids_a = [x.get("_id") for x in a if isinstance(x, dict)]
        ids_b = [x.get("_id") for x in b if isinstance(x, dict)]
        if any(ids_a) and ids_a != ids_b:
            if sorted(map(str, ids_a)) == sorted(map(str, ids_b)):
                yield f"{path}[](order)"
            else:
                yield f"{path}[](ids)"
            return
        for x, y in zip(a, b, strict=False):
            yield from _diff_paths(x, y, f"{path}[]")
    elif a != b or type(a) is not type(b):
        yield path


@dataclass
class Leak:
    request: Request
    a: tuple[int, str, bytes]
    b: tuple[int, str, bytes]
    paths: list[str]

    @property
    def key(self) -> tuple:
        paths = tuple(sorted(dict.fromkeys(self.paths)))
        route = self.request.kind
        if route in ("search", "search_after") and isinstance(self.request.body, dict):
            if self.request.body.get("rollup"):
                route += "+rollup"
            if self.request.page2_of is not None:
                route += "(page 2)"
        return (route, self.a[0], self.b[0], paths)

    def size(self) -> int:
        return len(self.request.show())

    def describe(self, limit: int = 1500) -> str:
        def cut(raw: bytes) -> str:
            text = raw.decode("utf-8", "replace")
            return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"

        return (f"  request: {self.request.show()}\n"
                f"  differs at: {', '.join(list(dict.fromkeys(self.paths))[:8]) or '(status/content type)'}\n"
                f"  A ({self.a[0]}): {cut(self.a[2])}\n"
                f"  B ({self.b[0]}): {cut(self.b[2])}\n")


@dataclass
class Run:
    cases: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    nonempty: int = 0  # searches with hits
    leaks: dict[tuple, list[Leak]] = field(default_factory=dict)

    def compare(self, a: Deployment, b: Deployment, req: Request) -> tuple[int, Any]:
        """Send ``req`` to both; record a leak when the answers differ. Returns A's answer."""
        headers = headers_of(req.caller)
        started = time.monotonic()
        ra = a.call(req.method, req.path, req.body, headers)
        rb = b.call(req.method, req.path, req.body, headers)
        self.seconds[req.kind] = self.seconds.get(req.kind, 0.0) + time.monotonic() - started
        self.cases += 1
        self.by_kind[req.kind] = self.by_kind.get(req.kind, 0) + 1
        self.statuses[ra.status_int] = self.statuses.get(ra.status_int, 0) + 1
        if ra.status_int == 200 and b'"hits": [{' in ra.body:
            self.nonempty += 1
        ans_a, ans_b = answer_of(ra), answer_of(rb)
        if ans_a != ans_b:
            try:
                paths = list(_diff_paths(json.loads(ans_a[2]), json.loads(ans_b[2])))
            except ValueError:
                paths = ["(body)"]
            if ans_a[0] != ans_b[0]:
                paths.insert(0, f"(status {ans_a[0]} vs {ans_b[0]})")
            leak = Leak(req, ans_a, ans_b, paths)
            self.leaks.setdefault(leak.key, []).append(leak)
        if req.kind != "search_after" or ra.status_int != 200:
            return ra.status_int, None
        return ra.status_int, json.loads(ra.body)

    def run(self, a: Deployment, b: Deployment, req: Request) -> None:
        status, answer = self.compare(a, b, req)
        if req.kind != "search_after" or status != 200:
            return
        hits = answer["hits"]["hits"]
        if not hits or "sort" not in hits[-1]:
            return
        nxt = dict(req.body, search_after=hits[-1]["sort"])
        self.compare(a, b, Request(req.caller, "POST", "/v1/search", nxt, req.kind, page2_of=req))

    def summary(self) -> str:
        lines = [f"{self.cases} cases (one request to both deployments each): "
                 + ", ".join(f"{k} {n}" for k, n in sorted(self.by_kind.items()))
                 + "; statuses of A: " + ", ".join(f"{k}×{n}" for k, n in sorted(self.statuses.items()))
                 + f"; {self.nonempty} searches with hits; seconds: " + ", ".join(f"{k} {n:.1f}" for k, n in sorted(self.seconds.items()))]
        if self.leaks:
            total = sum(len(v) for v in self.leaks.values())
            lines.append(f"{total} cases differ, {len(self.leaks)} distinct differences "
                         "(route, statuses, first paths); the smallest reproducer of each:")
            for key, leaks in sorted(self.leaks.items(), key=lambda kv: (-len(kv[1]), str(kv[0]))):
                smallest = min(leaks, key=Leak.size)
                lines.append(f"\n* {key[0]}: {len(leaks)} case(s)\n" + smallest.describe())
        return "\n".join(lines)

    def write_report(self, path: str, engine: str) -> None:
        out = []
        for key, leaks in sorted(self.leaks.items(), key=lambda kv: (-len(kv[1]), str(kv[0]))):
            smallest = min(leaks, key=Leak.size)
            out.append({"route": key[0], "statuses": key[1:3], "paths": list(key[3]),
                        "cases": len(leaks), "request": smallest.request.show(),
                        "a": smallest.a[2].decode("utf-8", "replace"),
                        "b": smallest.b[2].decode("utf-8", "replace")})
        with open(path, "w") as f:
            json.dump({"engine": engine, "summary": self.summary().split("\n")[0],
                       "cases": self.cases, "by_kind": self.by_kind, "leaks": out}, f, indent=1, ensure_ascii=False)


def pinned(vocab: Vocabulary) -> Iterator[Request]:
    """Requests every run sends, whatever is generated: each route with an own stack (live and
    deleted), another project's stack of A only and of B only, and an unknown id; the searches
    most likely to show a statistic (scores, a cap, a cursor)."""
    own, gone = vocab.caller_ids[0], vocab.deleted_caller_ids[0]
    ids = [own, gone, vocab.other_ids_a[0], vocab.other_ids_b[0], vocab.other_ids_b[-1],
           vocab.unknown_ids[0]]
    searches: list[dict] = [
        {"query": {"match": {"_all": "shop"}}, "limit": 3},
        {"query": {"query_string": {"query": "db OR fedora OR pci"}}, "limit": 5,
         "_source": ["name"]},
        {"query": {"query_string": {"query": "shop"}}, "offset": 50, "limit": 5},
        {"query": {"query_string": {"query": "shop"}}, "sort": ["_score"], "limit": 2},
        {"query": {"query_string": {"query": "gold"}}, "sort": [{"name": "desc"}], "limit": 2},
        {"query": {"query_string": {"query": "shop"}}, "rollup": "root", "limit": 2},
        {"query": {"range": {"id": {"gt": "0"}}}, "limit": 1, "_source": False},
        {"query": {"range": {"name": {"gte": "a", "lte": "z"}}}, "limit": 1, "_source": False},
        {"query": {"prefix": {"id": own[:2]}}, "limit": 2, "_source": False},
        {"aggs": {"n": {"terms": {"field": "name", "size": 3}}}, "limit": 0},
        {"query": {"match": {"_all": "quokka"}}, "highlight": {"fields": {"*": {}}}},
        {"under": vocab.other_ids_b[0], "rollup": "root"},
    ]
    for caller in CALLERS:
        for sid in ids:
            for route in ("", "/history", "/history?revision=1", "/diff", "/diff?from=1&to=2"):
                yield Request(caller, "GET", f"/v1/search/stacks/{sid}{route}", None,
                              "show" if not route else route[1:].split("?")[0])
        for body in searches:
            yield Request(caller, "POST", "/v1/search", body, "search")
        yield Request(caller, "POST", "/v1/search", {"sort": [{"name": "asc"}], "limit": 2},
                      "search_after")
        yield Request(caller, "GET", "/v1/search/facets", None, "facets")
        yield Request(caller, "GET", "/v1/search/uses?value=cirros-0.6.2", None, "uses")
        yield Request(caller, "GET", "/v1/search/uses?value=az1", None, "uses")
        yield Request(caller, "GET", f"/v1/search/changes?field=parameters.image&since="
                      f"{vocab.dates[0]}&include_created=true", None, "changes")


def cases_wanted(default: int) -> int:
    """The number of generated requests: ``default`` (CI), scaled by
    ``HEATSEEKER_NONINTERFERENCE_SCALE`` (a factor, e.g. 0.1 while developing)."""
    scale = float(os.environ.get("HEATSEEKER_NONINTERFERENCE_SCALE", "1"))
    return max(1, int(default * scale))


def run_property(a: Deployment, b: Deployment, vocab: Vocabulary, examples: int,
                 engine: str) -> Run:
    """Generate ``examples`` requests (deterministically) and compare every answer."""
    run = Run()
    strategies = Strategies(vocab)

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(req=strategies.request())
    def check(req: Request) -> None:
        run.run(a, b, req)

    for req in pinned(vocab):
        run.run(a, b, req)
    check()
    report = os.environ.get("HEATSEEKER_NONINTERFERENCE_REPORT")
    if report:
        run.write_report(report.replace("{engine}", engine), engine)
    return run


def contrast(a: Deployment, b: Deployment) -> list[str]:
    """Requests of a cloud admin with all_projects (for whom other projects exist) whose
    answers must differ between the deployments: the two deployments really differ."""
    headers = headers_of("admin-all")
    probes: list[tuple[str, str, Any]] = [
        ("POST", "/v1/search", {"all_projects": True, "limit": 0}),
        ("POST", "/v1/search", {"all_projects": True, "query": {"match": {"_all": "quokka"}}}),
        ("GET", "/v1/search/facets?all_projects=true", None),
        ("GET", "/v1/search/changes?all_projects=true&since=now-30d/d", None),
        ("GET", "/v1/search/uses?all_projects=true&value=cirros-0.6.2", None),
    ]
    same = []
    for method, path, body in probes:
        if answer_of(a.call(method, path, body, headers)) == answer_of(b.call(method, path, body,
                                                                               headers)):
            same.append(f"{method} {path} {body}")
    return same


