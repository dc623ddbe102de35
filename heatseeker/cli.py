"""``heatseeker`` command line: sync | listen | serve | search | show | uses | reindex | status |
history | diff | changes | db (upgrade | version | copy).

Exit codes: 0 success; 1 a runtime failure (Heat, the broker or the index could not be used);
2 bad usage or a bad query; 3 the index needs ``heatseeker reindex``; 4 not found.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
import warnings
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from oslo_config import cfg
from oslo_log import log as oslo_logging

from heatseeker import config
from heatseeker.engines import names as engine_names
from heatseeker.engines import open_engine
from heatseeker.engines.base import EngineError, SchemaMismatch, WriterBusy
from heatseeker.query import tree as t
from heatseeker.query.errors import QueryError
from heatseeker.query.fields import is_sortable
from heatseeker.query.querystring import parse as parse_query
from heatseeker.query.visibility import Visibility
from heatseeker.record import RecordError

if TYPE_CHECKING:
    from heatseeker.record import Store

LOG = logging.getLogger("heatseeker")

# oslo.messaging imports eventlet's deprecation warning; it says nothing to heatseeker's users
warnings.filterwarnings("ignore", message=r"(?s).*[Ee]ventlet")


class UsageError(Exception):
    pass


class NotFound(Exception):
    pass


# -- progress --------------------------------------------------------------------------------------


class Progress:
    """A bar on a terminal, a log line every few seconds otherwise."""

    def __init__(self, stream=None, every: float = 5.0):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = every
        self._last = 0.0
        self._label = ""

    def __call__(self, done: int, total: int, label: str) -> None:
        now = time.monotonic()
        if self.tty:
            if total:
                width = 30
                filled = int(width * done / max(total, 1))
                bar = "#" * filled + "-" * (width - filled)
                self.stream.write(f"\r{label}: [{bar}] {done}/{total}")
            else:
                self.stream.write(f"\r{label}: {done}")
            self.stream.flush()
            self._label = label
            return
        if now - self._last >= self.every or (total and done >= total):
            self._last = now
            LOG.info("%s: %d%s", label, done, f"/{total}" if total else "")

    def done(self) -> None:
        if self.tty and self._label:
            self.stream.write("\n")
            self.stream.flush()


# -- set-up ---------------------------------------------------------------------------------------


def load_conf(args) -> cfg.ConfigOpts:
    conf = config.new_conf()
    oslo_logging.register_options(conf)
    argv = []
    for f in args.config_file or []:
        argv += ["--config-file", f]
    if args.debug:
        argv.append("--debug")
    try:
        conf(argv, project="heatseeker", default_config_files=[] if args.config_file else None)
    except cfg.ConfigFilesNotFoundError as exc:
        raise UsageError(str(exc)) from exc
    oslo_logging.set_defaults(
        default_log_levels=oslo_logging.get_default_log_levels()
        + ["oslo_messaging=WARNING", "keystoneauth=WARNING", "stevedore=WARNING", "kombu=WARNING",
           "alembic=WARNING"]
    )
    oslo_logging.setup(conf, "heatseeker")
    if not args.debug and args.command in ("search", "show", "status", "history", "diff",
                                             "changes"):
        logging.getLogger().setLevel(logging.WARNING)
    return conf


def open_store(conf, *, create: bool = False) -> Store:
    """The record; only a writer (``create``) may make the embedded one."""
    from heatseeker.record import Store  # SQLAlchemy only for a command that opens the record

    return Store.from_conf(conf, create=create)


def heat_source(conf):
    from heatseeker.heat.client import HeatSource

    return HeatSource.from_conf(conf)


_KEYSTONE_ID = re.compile(r"^[0-9a-f]{32}$")


def resolve_projects(conf, values: list[str]) -> list[str]:
    """``--project`` takes a project's name or id. With a Keystone-backed Heat (``[heat]
    auth_type`` other than ``none``) stacks belong to Keystone project ids: a name is looked up in
    Keystone with ``[heat]``'s credentials, and a project Keystone does not know is an error (exit
    4), not an empty answer. A noauth Heat's projects are plain strings, used as given."""
    auth_type = conf.heat.auth_type
    if not values or not auth_type or auth_type == "none":
        return values
    from heatseeker.heat.client import HeatUnavailable

    source = heat_source(conf)
    out: list[str] = []
    for value in values:
        try:
            found = source.projects(value)
        except HeatUnavailable as exc:
            if _KEYSTONE_ID.match(value):  # an id needs no lookup to be searched for
                print(f"heatseeker: warning: project {value} not checked: {exc}", file=sys.stderr)
                out.append(value)
                continue
            raise
        if not found:
            raise NotFound(f"no project {value!r} in Keystone (looked up as a name and as an id "
                           "with the [heat] credentials): give --project a project's name or id")
        if len(found) > 1:
            choices = ", ".join(f"{p.get('id')} (domain {p.get('domain_id')})" for p in found)
            raise UsageError(f"project name {value!r} is ambiguous in Keystone: {choices}; "
                             "give --project the id")
        out.append(found[0]["id"])
    return out


def scope_of(args) -> frozenset[str] | None:
    if getattr(args, "all_projects", False):
        return None
    if args.project:
        return frozenset(args.project)
    raise UsageError("say whose stacks to search: --project PROJECT (a name or an id, repeatable) "
                     "or --all-projects")


# -- commands -------------------------------------------------------------------------------------


def cmd_sync(conf, args) -> int:
    from heatseeker.engines import check_hosts
    from heatseeker.heat.client import HeatError, HeatSource
    from heatseeker.indexer import Indexer
    from heatseeker.projection import try_projector

    check_hosts(conf)  # tantivy serves one host: refused with a record on a server
    store = open_store(conf, create=True)
    sources = HeatSource.for_regions(conf)
    reports, failed = [], False
    for source in sources:  # one region after the other; a region that fails stops only itself
        progress = Progress()
        indexer = Indexer(store, source)
        try:
            report = indexer.reconcile(full=args.full, progress=progress)
        except HeatError as exc:
            progress.done()
            indexer.region_unavailable(exc)
            if len(sources) == 1:
                raise
            print(f"heatseeker: region {source.region}: {exc}", file=sys.stderr)
            failed = True
            continue
        progress.done()
        indexer.region_read()
        reports.append((source.region, report))
    projector = try_projector(store, lambda: open_engine(conf))
    projected = "index updated"
    if projector is None:
        projected = "the running listener projects the changes into the index"
    else:
        projector.engine.close()
    for region, report in reports:
        where = f" in region {region}" if len(sources) > 1 else ""
        print(
            f"synced {report.listed} stacks{where} in {report.seconds:.1f}s: {report.added} added, "
            f"{report.refreshed} refreshed, {report.unchanged} unchanged, "
            f"{report.tombstoned} tombstoned; {projected}"
        )
        for err in report.errors[:20]:
            print(f"error: {err}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


def cmd_listen(conf, args) -> int:
    from heatseeker import listener

    return listener.run(conf)


def _parse_sort(specs: list[str]) -> tuple[t.SortKey, ...]:
    keys = []
    for spec in specs:
        name, _, direction = spec.partition(":")
        if direction not in ("", "asc", "desc"):
            raise UsageError(f"bad sort direction {direction!r} in {spec!r}: use asc or desc")
        if not is_sortable(name):
            raise UsageError(f"cannot sort on {name!r}: sort on a top-level field such as name, "
                             "updated_at, status, depth")
        keys.append(t.SortKey(name, direction == "desc"))
    return tuple(keys)


def cmd_search(conf, args) -> int:
    from heatseeker.api import responses  # the API's answers, so --json reads like the API
    from heatseeker.searcher import Searcher, total_bound

    if args.exact_total and args.rollup != "root":
        print("--exact-total counts the root stacks of a --rollup root; a search's total is "
              "always exact", file=sys.stderr)
        return 2
    view = Visibility(scope_of(args))  # the operator's CLI: every field, the projects asked for
    started = time.monotonic()
    node = parse_query(" ".join(args.query))
    fields = args.fields.split(",") if args.fields else None
    engine = open_engine(conf, read_only=True)
    searcher = Searcher(engine)
    if args.rollup == "root":
        rolled = searcher.search_roots(node, view=view, offset=args.offset,
                                       limit=args.limit, fields=fields, subtree=args.under,
                                       track_total=total_bound(True if args.exact_total else None))
        body = responses.rollup(rolled, view)
        body["took"] = int((time.monotonic() - started) * 1000)
        if args.json:
            print(json.dumps(body, indent=2, ensure_ascii=False))
            return 0
        at_least = "at least " if rolled.total_relation == "gte" else ""
        print(f"{at_least}{rolled.total} root stack(s) ({rolled.matched_stacks} matching stacks)")
        for r in rolled.roots:
            src = r.source or {}
            print(f"{r.root_id}  {src.get('name', '?'):30}  {src.get('status', '?'):20}  "
                  f"{src.get('region', '?'):12}  {src.get('project_id', '?')}")
            for m in r.matches:
                print(f"    {' / '.join(m.path)}")
            if r.matched > len(r.matches):
                print(f"    … {r.matched - len(r.matches)} more matching stack(s) in this tree")
        return 0
    res = searcher.search(node, view=view, sort=_parse_sort(args.sort or []),
                          offset=args.offset, limit=args.limit, fields=fields,
                          subtree=args.under)
    body = responses.search(res, versions=True)
    body["took"] = int((time.monotonic() - started) * 1000)
    if args.json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return 0
    print(f"{res.total} stack(s)")
    for h in res.hits:
        src = h.source
        path = " / ".join(src.get("path") or [src.get("name", "?")])
        print(f"{h.id}  {src.get('status', '?'):20}  {src.get('region', '?'):12}  "
              f"{src.get('project_id', '?'):12}  {path}")
    return 0


def _print_tree(node: dict, indent: int = 0, linked: frozenset[str] = frozenset()) -> None:
    s = node["stack"]
    via = f"  [{s['parent_resource']}]" if s.get("parent_resource") and indent else ""
    if indent and (s.get("link") or s.get("id") in linked):
        via += f"  (link: {s.get('link') or 'OS::Heat::Stack'})"
    print(f"{'  ' * indent}{s.get('name')}  {s.get('status')}  {s.get('id')}{via}")
    for child in node["children"]:
        _print_tree(child, indent + 1, linked)


def cmd_show(conf, args) -> int:
    from heatseeker.searcher import Searcher

    view = Visibility(frozenset(args.project) if args.project else None)
    searcher = Searcher(open_engine(conf, read_only=True))
    node = searcher.stack_tree(args.id, view=view)
    if node is None:
        raise NotFound(f"no stack {args.id} in the index")
    if args.json:
        print(json.dumps(node, indent=2, ensure_ascii=False, sort_keys=True))
        return 0
    doc = node["stack"]
    for key in ("id", "name", "project_id", "status", "status_reason", "created_at", "updated_at",
                "description", "tags", "path", "template_version", "resource_types", "fingerprint"):
        value = doc.get(key)
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        print(f"{key:16} {value}")
    linked = _show_links(searcher, doc, view)
    if doc.get("parameters"):
        print("parameters:")
        for k, v in sorted(doc["parameters"].items()):
            print(f"  {k} = {v}")
    if doc.get("outputs"):
        print("outputs:")
        for o in doc["outputs"]:
            shown = json.dumps(o.get("value"), ensure_ascii=False)
            print(f"  {o.get('key')} = {shown[:200]}" + (f"  (error: {o['error']})" if o.get("error") else ""))
    print("tree:")
    _print_tree(node, 1, linked)
    return 0


def _show_links(searcher, doc: dict, view: Visibility) -> frozenset[str]:
    """``show``'s lines about the template, the registry and links (heatseeker/links.py); returns
    the ids of the linked stacks in the tree below ``doc``."""
    fp = doc.get("template_fingerprint")
    if fp:
        same = searcher.count(t.Term("template_fingerprint", fp), view=view)
        print(f"{'template_fp':16} {fp}  ({same} stack(s) from this template: "
              f"search template_fingerprint:{fp})")
    if doc.get("registry_map"):
        print(f"{'registry':16} {', '.join(doc['registry_map'])}")
    if doc.get("created_by"):
        print(f"{'created_by':16} {doc['created_by']}  (link: {doc.get('link')}, "
              f"resource {doc.get('parent_resource')})")
    found = searcher.search(t.Term("link", "OS::Heat::Stack"), view=view, limit=10_000,
                            fields=["id"], subtree=doc["id"])
    return frozenset(h.id for h in found.hits)


def cmd_uses(conf, args) -> int:
    """Every stack that uses a value (heatseeker/uses.py), grouped by root stack."""
    from heatseeker.searcher import Searcher
    from heatseeker.uses import find_uses

    view = Visibility(scope_of(args))
    searcher = Searcher(open_engine(conf, read_only=True))
    answer = find_uses(searcher, args.value, view=view, exact=args.exact, subtree=args.under)
    body = answer.as_dict()
    if args.json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return 0
    print(f"{body['total']} stack(s) in {len(body['roots'])} root stack(s) use {args.value!r}"
          + ("  (stopped early: more candidates than examined)" if body["truncated"] else ""))
    stacks = {s["id"]: s for s in body["stacks"]}
    for root in body["roots"]:
        first = stacks[root["stacks"][0]]
        print(f"\n{root['name']}  {root['root_id']}  project {first.get('project_id')}")
        for sid in root["stacks"]:
            s = stacks[sid]
            link = f"  (link: {s['link']})" if s.get("link") else ""
            print(f"  {' / '.join(map(str, s.get('path') or [s.get('name')]))}  {sid}  "
                  f"{s.get('status')}{link}")
            for place in s["where"]:
                kind = "" if place["match"] == "exact" else f"  ({place['match']}: {place['value']})"
                print(f"      {place['path']}{kind}")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value


def cmd_reindex(conf, args) -> int:
    from heatseeker.engines import check_hosts
    from heatseeker.projection import Projector

    target = getattr(args, "to", None)
    if target:
        conf.set_override("backend", target, group="engine")
    check_hosts(conf)  # tantivy serves one host: refused with a record on a server
    store = open_store(conf)
    engine = open_engine(conf)
    progress = Progress()
    started = time.monotonic()
    n = Projector(store, engine).rebuild(progress=progress, workers=getattr(args, "workers", None))
    progress.done()
    engine.close()
    where = f" into the {target} engine" if target else ""
    print(f"reindexed {n} stacks and tombstones from the store{where} in "
          f"{time.monotonic() - started:.1f}s")
    return 0


def cmd_serve(conf, args) -> int:
    import waitress

    from heatseeker.api.app import build_app
    from heatseeker.api.auth import is_loopback
    from heatseeker.ui import with_ui

    host, port = conf.api.bind_host, conf.api.bind_port
    if conf.api.auth_strategy == "trusted-headers":
        if not is_loopback(host) and not conf.api.allow_trusted_headers_anywhere:
            raise UsageError(
                f"refusing auth_strategy = trusted-headers on {host}: anybody who reaches the port "
                "could claim any identity. Bind to 127.0.0.1, use auth_strategy = keystone, or "
                "set [api] allow_trusted_headers_anywhere = true (never in production)")
        LOG.warning("auth_strategy = trusted-headers: for development and tests only")
    else:
        from heatseeker.heat.keystone import admin_project_caveat

        caveat = admin_project_caveat(conf)
        if caveat:
            LOG.warning(caveat)
            print(f"warning: {caveat}", file=sys.stderr, flush=True)
    app = with_ui(conf, build_app(conf))  # the web UI under /ui when [ui] enabled
    LOG.info("search API on http://%s:%d (auth: %s)", host, port, conf.api.auth_strategy)
    print(f"heatseeker search API on http://{host}:{port}/ (auth: {conf.api.auth_strategy})",
          flush=True)
    waitress.serve(app, host=host, port=port, threads=conf.api.threads, ident="heatseeker",
                   _quiet=True)
    return 0


def _regions_status(conf, store) -> dict:
    """Each configured region (and the stacks not labelled yet, under ""): its live stacks, its
    last sync, and since when and why it is behind (its Heat could not be read)."""
    from heatseeker.config import regions
    from heatseeker.indexer import LAST_SYNC, REGION_STATE

    stacks = store.regions()
    out: dict = {}
    for region in [*regions(conf), *(r for r in stacks if r not in regions(conf))]:
        state = store.get_meta(REGION_STATE + region) or {} if region else {}
        out[region] = {"stacks": stacks.get(region, 0),
                       "last_sync": store.get_meta(LAST_SYNC + region) if region else None,
                       **({"behind_since": state["behind_since"], "error": state.get("error")}
                          if state.get("behind_since") else {})}
    return out


def cmd_status(conf, args) -> int:
    from heatseeker.listener import queue_depth

    store = open_store(conf)
    counts = store.counts()
    out: dict = {"store": counts, "regions": _regions_status(conf, store)}
    try:
        engine = open_engine(conf, read_only=True)
        health = engine.health()
        checkpoint = engine.checkpoint()
        engine.close()
    except EngineError as exc:
        health, checkpoint = {"ok": False, "error": str(exc)}, 0
    out["index"] = health
    out["backlog"] = {
        "unprojected_changes": max(0, counts["sequence"] - checkpoint),
        "queued_notifications": queue_depth(conf),
    }
    last = store.get_meta("last_event")
    if last:
        last = dict(last, timestamp=datetime.fromtimestamp(last["timestamp_us"] / 1e6, UTC).isoformat())
    out["last_event"] = last
    out["last_sync"] = store.get_meta("last_sync")
    out["history"] = store.history_size()
    # places masked because the templates' structure could not be followed (heatseeker/secrets.py)
    out["secrets_unfollowed"] = store.secret_unknowns()
    from heatseeker.heat.keystone import admin_project_caveat
    from heatseeker.indexer import DOCUMENTS_VERSION, stale_documents

    out["keystone_caveat"] = admin_project_caveat(conf)
    out["stale_documents"] = stale_documents(store.get_meta(DOCUMENTS_VERSION), counts["stacks"])
    out["recent_dead_letters"] = [
        {k: d[k] for k in ("message_id", "reason")} for d in store.dead_letters(5)
    ]
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return 0
    print(f"stacks: {counts['stacks']} live, {counts['tombstones']} tombstones, "
          f"{counts['projects']} projects")
    for region, state in out["regions"].items():
        if not region:
            print(f"region not labelled: {state['stacks']} stacks recorded before regions (run "
                  "heatseeker db upgrade)")
            continue
        synced = state.get("last_sync")
        when = (datetime.fromtimestamp(synced["finished_at"], UTC).isoformat(timespec="seconds")
                if synced else "never")
        behind = (f"BEHIND since {datetime.fromtimestamp(state['behind_since'], UTC).isoformat(timespec='seconds')}"
                  f": {state.get('error')}" if state.get("behind_since") else "its Heat answers")
        print(f"region {region}: {state['stacks']} stacks, last sync {when}, {behind}")
    print(f"index: {'ok' if health.get('ok') else 'NOT OK'} ({health.get('engine', '?')}, "
          f"{health.get('documents', '?')} documents)" + (f": {health['error']}" if health.get("error") else ""))
    q = out["backlog"]["queued_notifications"]
    print(f"backlog: {out['backlog']['unprojected_changes']} changes not yet in the index, "
          f"{'unknown' if q is None else q} notifications queued")
    print(f"last event: {last['event_type'] + ' ' + last['stack_id'] + ' at ' + last['timestamp'] if last else 'none'}")
    print(f"dead letters: {counts['dead_letters']}")
    if out["stale_documents"]:
        print(f"documents: {out['stale_documents']}")
    if out["keystone_caveat"]:
        print(f"keystone: {out['keystone_caveat']}")
    unfollowed = out["secrets_unfollowed"]
    print(f"secrets: {unfollowed['places']} places masked where the template's structure could not "
          f"be followed (unknown function or nested template), in {unfollowed['stacks']} stacks")
    hist = out["history"]
    print(f"history: {hist['revisions']} revisions, {hist['body_bytes'] / 2**20:.1f} MB"
          + ("" if conf.history.enabled else " (disabled: [history] enabled = false)"))
    return 0


# -- history and diffs ------------------------------------------------------------------------------


def _history_service(conf):
    from heatseeker.history.service import History

    return History(open_store(conf))


def _value(value, width: int = 60) -> str:
    if isinstance(value, dict) and isinstance(value.get("type"), str):  # a resource: its type first
        rest = {k: v for k, v in value.items() if k != "type"}
        return value["type"] + (" " + _value(rest, width) if rest else "")
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= width else text[: width - 1] + "…"


def _print_changes(changes: list[dict]) -> None:
    marks = {"added": "+", "removed": "-", "changed": "~"}
    for c in changes:
        if c["kind"] == "added":
            what = _value(c["new"])
        elif c["kind"] == "removed":
            what = _value(c["old"])
        else:
            what = f"{_value(c['old'], 40)} → {_value(c['new'], 40)}"
        print(f"  {marks[c['kind']]} {c['path']}: {what}")


def cmd_history(conf, args) -> int:
    from heatseeker.history.service import RevisionNotFound

    view = Visibility(frozenset(args.project) if args.project else None)
    try:
        body = _history_service(conf).history(args.id, view, args.revision)
    except RevisionNotFound as exc:
        raise NotFound(str(exc)) from None
    if body is None:
        raise NotFound(f"no history for stack {args.id}")
    if args.revision is not None and not args.json:
        print(json.dumps(body["document"], indent=2, ensure_ascii=False, sort_keys=True))
        return 0
    if args.json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return 0
    gone = "  (deleted)" if body["deleted"] else ""
    print(f"{body['name']}  {body['stack_id']}  project {body['project_id']}{gone}")
    print(f"{'REV':>4}  {'AT (UTC)':19}  {'STATUS':20}  {'USER':12}  {'REQUEST':44}  CHANGED")
    for r in body["revisions"]:
        changed = ", ".join(r["changed"][:4]) + (f" (+{len(r['changed']) - 4})" if len(r["changed"]) > 4 else "")
        print(f"{r['revision']:>4}  {r['at'][:19].replace('T', ' ')}  {r['status'] or '?':20}  "
              f"{(r['user_name'] or r['user_id'] or '-')[:12]:12}  {r['request_id'] or '-':44}  "
              f"{changed if r['revision'] != body['revisions'][0]['revision'] else '(first kept)'}")
        if r.get("gap"):
            print(f"{'':>4}  {_gap_line(r['gap'])}")
    return 0


def _gap_line(gap: dict) -> str:
    """A history gap (history/service.py ``gaps``) in one line."""
    what = ", ".join(f"{u['status'] or u['action']} at {u['at'][:19].replace('T', ' ')}"
                     f"{' (' + u['request_id'] + ')' if u.get('request_id') else ''}"
                     for u in gap["unobserved"])
    return f"GAP: never observed before this revision: {what}"


def cmd_diff(conf, args) -> int:
    from heatseeker.history.service import RevisionNotFound

    view = Visibility(frozenset(args.project) if args.project else None)
    if args.rev_b is not None and args.rev_a is None:
        raise UsageError("give REV_A before REV_B")
    rev_from, rev_to = args.rev_a, args.rev_b  # REV_A alone: from REV_A to the latest
    try:
        body = _history_service(conf).diff(args.id, view, rev_from, rev_to)
    except RevisionNotFound as exc:
        raise NotFound(str(exc)) from None
    if body is None:
        raise NotFound(f"no history for stack {args.id}")
    if args.json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return 0
    a, b = body["from"], body["to"]
    print(f"{body['name']}  {body['stack_id']}: revision {a['revision']} ({a['status']}, {a['at'][:19]}Z)"
          f" → {b['revision']} ({b['status']}, {b['at'][:19]}Z)")
    for gap in body.get("gaps", []):
        print(f"  {_gap_line(gap)} (revision {gap['revision']})")
    if not body["changes"]:
        print("  no changes")
    _print_changes(body["changes"])
    return 0


def cmd_changes(conf, args) -> int:
    view = Visibility(frozenset(args.project) if args.project else None)
    body = _history_service(conf).changes(
        args.field, view, since=args.since, until=args.until, include_created=args.include_created,
        limit=args.limit)
    if args.json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return 0
    span = f"since {body['since'][:19]}Z" if body["since"] else "ever"
    if body["until"]:
        span += f" until {body['until'][:19]}Z"
    print(f"{body['total']} change(s) of {body['field']} {span}"
          + (" (truncated: narrow the range)" if body["truncated"] else ""))
    for c in body["changes"]:
        print(f"{c['at'][:19].replace('T', ' ')}  {c['stack_id']}  {c['name'] or '?'}  "
              f"rev {c['previous_revision']}→{c['revision']}  {c['status']}  "
              f"by {c['user_name'] or c['user_id'] or '-'}")
        _print_changes([c])
    return 0


def _add_history_commands(sub) -> None:
    s = sub.add_parser("history", help="a stack's revisions: when its template, environment, files, "
                       "parameters, outputs or resources changed, by whom")
    s.add_argument("id")
    s.add_argument("--project", action="append", metavar="PROJECT_ID",
                   help="only if the stack belongs to this project (repeatable)")
    s.add_argument("--revision", type=int, metavar="REV",
                   help="print that revision's document (masked) as it was")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_history)

    s = sub.add_parser("diff", help="what changed in a stack between two revisions "
                       "(default: the one before the latest, and the latest)")
    s.add_argument("id")
    s.add_argument("rev_a", nargs="?", type=int, metavar="REV_A")
    s.add_argument("rev_b", nargs="?", type=int, metavar="REV_B")
    s.add_argument("--project", action="append", metavar="PROJECT_ID")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_diff)

    s = sub.add_parser("changes", help="which stacks changed a field, when, from what to what "
                       "(e.g. changes parameters.image --since 7d)")
    s.add_argument("field", help="as the query string names it: parameters.image, "
                   "template.resources.server.properties.flavor, environment.resource_registry, …")
    s.add_argument("--since", metavar="WHEN", help="date math: 7d (= now-7d), now-1h, 2026-11-25")
    s.add_argument("--until", metavar="WHEN")
    s.add_argument("--project", action="append", metavar="PROJECT_ID")
    s.add_argument("--include-created", action="store_true",
                   help="count a stack's first revision as the field being added")
    s.add_argument("--limit", type=int, default=1000)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_changes)


# -- the record's database (heatseeker/record/migrate.py) -----------------------------------------


def cmd_db(conf, args) -> int:
    from heatseeker.record import database, migrate

    def engine(url: str, *, make: bool):
        path = database.sqlite_path(url)
        if path is not None and not make and not os.path.isfile(path):
            raise NotFound(f"no record at {path}")
        if path is not None:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        return database.open_engine(url, conf, wait=True)

    url = args.connection or database.url_of(conf)
    if args.db_command == "upgrade":
        before, after = migrate.upgrade(engine(url, make=True))
        print(f"record {database.redact(url)}: schema revision {before or 'none'} → {after}")
        labelled = _label_region(conf, url)
        if labelled:
            print(f"labelled {labelled} stacks recorded before regions with region "
                  f"{_region(conf)} (from [heat] region_name): run heatseeker reindex")
        return 0
    if args.db_command == "version":
        have, want = migrate.version(engine(url, make=False))
        print(f"record {database.redact(url)}: schema revision {have or 'none'} (this heatseeker "
              f"needs {want}{'' if have == want else ': run heatseeker db upgrade'})")
        return 0 if have == want else 1
    source = args.source or database.url_of(conf)
    counts = migrate.copy(engine(source, make=False), engine(args.target, make=True))
    print(f"copied {database.redact(source)} → {database.redact(args.target)}: "
          + ", ".join(f"{n} {table}" for table, n in counts.items()))
    print("now set [database] connection to the target, and start heatseeker again")
    return 0


def _region(conf) -> str:
    from heatseeker.heat.client import DEFAULT_REGION

    return conf.heat.region_name or DEFAULT_REGION


def _label_region(conf, url: str) -> int:
    """After an upgrade to migration 0004: the stacks recorded before regions are this
    installation's one region's (``Store.label_region``; no Heat read)."""
    from heatseeker.record import Store

    store = Store(url, create=False)
    try:
        return store.label_region(_region(conf))
    finally:
        store.close()


def _add_db_commands(sub) -> None:
    s = sub.add_parser("db", help="the record's database: upgrade its schema, show its version, "
                       "copy it to another database")
    dbs = s.add_subparsers(dest="db_command", required=True)
    d = dbs.add_parser("upgrade", help="make or upgrade the record's schema (Alembic): after "
                       "installing or upgrading heatseeker, before starting it")
    d.add_argument("--connection", metavar="URL", help="this database instead of [database] "
                   "connection")
    d = dbs.add_parser("version", help="the record's schema revision, and the one this "
                       "heatseeker needs (exit 1 if they differ)")
    d.add_argument("--connection", metavar="URL", help="this database instead of [database] "
                   "connection")
    d = dbs.add_parser("copy", help="copy the record into another, empty database (stop "
                       "listeners and syncs first), e.g. from SQLite onto MariaDB")
    d.add_argument("--from", dest="source", metavar="URL",
                   help="the record to copy (default: [database] connection)")
    d.add_argument("--to", dest="target", metavar="URL", required=True,
                   help="the database to copy into, e.g. mysql+pymysql://user:pass@host/heatseeker")
    d.set_defaults(connection=None)
    s.set_defaults(func=cmd_db)


# -- parser ---------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="heatseeker", description="Search inside OpenStack Heat stacks.")
    p.add_argument("--config-file", action="append", metavar="PATH",
                   help="oslo.config file (repeatable); default: the usual OpenStack locations")
    p.add_argument("--debug", action="store_true", help="log debug output")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("sync", help="index every project's stacks from the Heat API (also a reconcile)")
    s.add_argument("--full", action="store_true", help="re-read every stack, not only changed ones")
    s.set_defaults(func=cmd_sync)

    s = sub.add_parser("listen", help="keep the index live from Heat's notifications")
    s.set_defaults(func=cmd_listen)

    s = sub.add_parser("search", help="search stacks with the query-string syntax")
    s.add_argument("query", nargs="*", help='e.g. parameters.image:cirros AND NOT status:CREATE_FAILED')
    g = s.add_mutually_exclusive_group()
    g.add_argument("--project", action="append", metavar="PROJECT",
                   help="a project's name or id (repeatable); names are looked up in Keystone")
    g.add_argument("--all-projects", action="store_true")
    s.add_argument("--json", action="store_true", help="print the body Searchlight's POST /v1/search returns")
    s.add_argument("--limit", type=int, default=20)
    s.add_argument("--offset", type=int, default=0)
    s.add_argument("--sort", action="append", metavar="FIELD[:asc|desc]")
    s.add_argument("--fields", metavar="F1,F2", help="only these fields of each stack")
    s.add_argument("--under", metavar="STACK_ID", help="only this stack and its nested stacks")
    s.add_argument("--rollup", choices=["root"], help="answer with root stacks and the matching paths")
    s.add_argument("--exact-total", action="store_true",
                   help="with --rollup: count every root stack (by default the total is exact up to "
                        "10,000, then 'at least 10,000')")
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("serve", help="the Searchlight-compatible search API ([api] options)")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("show", help="one stack's document and its nested tree")
    s.add_argument("id")
    s.add_argument("--project", action="append", metavar="PROJECT_ID")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_show)

    s = sub.add_parser("uses", help="every stack that uses a value (image, network, id, any string)")
    s.add_argument("value", help="e.g. an image name or id, a network, a flavor, a physical id")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--project", action="append", metavar="PROJECT_ID")
    g.add_argument("--all-projects", action="store_true")
    s.add_argument("--exact", action="store_true",
                   help="whole values only (by default a value of 8+ characters also matches "
                   "inside a longer string, e.g. an id in a URL)")
    s.add_argument("--under", metavar="STACK_ID", help="only this stack and its nested stacks")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_uses)

    s = sub.add_parser("reindex", help="rebuild the search index from heatseeker's store (no Heat calls)")
    s.add_argument(
        "--to", choices=engine_names(),
        help="build the index of this engine instead of [engine] backend (moving an installation: "
        "reindex --to opensearch, then set [engine] backend = opensearch and restart)")
    s.add_argument(
        "--workers", type=_positive_int, metavar="N",
        help="processes that read and prepare the documents (embedded engine; default: one per "
        "core from 5,000 stacks, else none; 1: this process alone)")
    s.set_defaults(func=cmd_reindex)

    s = sub.add_parser("status", help="counts, last event seen, backlog")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)

    _add_history_commands(sub)
    _add_db_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "limit", 0) < 0 or getattr(args, "offset", 0) < 0:
        parser.error("--limit and --offset must be >= 0")
    try:
        conf = load_conf(args)
        if getattr(args, "project", None):
            args.project = resolve_projects(conf, args.project)
        return args.func(conf, args)
    except (UsageError, QueryError) as exc:  # fields.UnknownField is a QueryError
        print(f"heatseeker: {exc}", file=sys.stderr)
        return 2
    except SchemaMismatch as exc:
        print(f"heatseeker: {exc}", file=sys.stderr)
        return 3
    except NotFound as exc:
        print(f"heatseeker: {exc}", file=sys.stderr)
        return 4
    except WriterBusy as exc:
        print(f"heatseeker: {exc} (is a listener already running?)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - a clear one-line error, the traceback with --debug
        from heatseeker.heat.client import HeatError
        from heatseeker.projection import ProjectionError

        if isinstance(exc, HeatError | EngineError | RecordError | ProjectionError):
            print(f"heatseeker: {exc}", file=sys.stderr)
            return 1
        LOG.debug("unexpected error", exc_info=True)
        print(f"heatseeker: unexpected error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        if getattr(args, "debug", False):
            raise
        return 1


if __name__ == "__main__":
    sys.exit(main())
