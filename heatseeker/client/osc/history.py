"""``openstack stack history``, ``openstack stack diff`` and ``openstack stack changes``.

Heat forgets a stack's previous templates and, once deleted, the stack; heatseeker keeps its
revisions (README, "History and diffs"). These commands are listers so that ``-f json`` gives
one object per revision or per change; old and new values keep their JSON type there (a
property may be a mapping), while a table shows them as compact JSON. What a diff compared
(which two revisions) is said on stderr, where it does not disturb ``-f json``.
"""

from __future__ import annotations

import argparse
from typing import Any

from osc_lib import exceptions
from osc_lib.cli import parseractions

from heatseeker.client.osc import common

_HISTORY = ["Revision", "At", "Stack Status", "User", "Request ID", "Changed"]
_HISTORY_LONG = ["Action", "User ID", "Project"]
_CHANGE = ["Path", "Kind", "Old", "New"]
_CHANGES = ["At", "Stack ID", "Stack Name", "Revision", "Path", "Kind", "Old", "New"]
_CHANGES_LONG = ["Previous Revision", "Stack Status", "User", "Request ID", "Project"]
_GETTERS: dict[str, Any] = {
    "Revision": "revision", "Previous Revision": "previous_revision", "At": "at",
    "Stack Status": "status", "Action": "action", "User ID": "user_id",
    "User": lambda r: r.get("user_name") or r.get("user_id"), "Request ID": "request_id",
    "Project": "project_id", "Changed": lambda r: common.LinesColumn(r.get("changed")),
    "Stack ID": "stack_id", "Stack Name": "name", "Path": "path", "Kind": "kind",
    "Old": lambda c: common.ValueColumn(c.get("old")),
    "New": lambda c: common.ValueColumn(c.get("new")),
}


def _stack_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("stack", metavar="<stack>",
                        help="the stack, by name or ID (a deleted stack: by ID)")


class StackHistory(common.HeatseekerLister):
    """The revisions heatseeker kept of a stack, oldest first, with what each changed.

    A revision is kept each time the stack's template, environment, files, parameters, outputs,
    resource set, description or tags change; a deleted stack keeps its last revisions.
    """

    columns_text = common.columns_help(_HISTORY, _HISTORY_LONG)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _stack_arg(parser)
        common.add_all_projects(parser, "find the stack among those")
        common.add_long(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        args = parsed_args
        sid = self.stack_id(args.stack, args.all_projects)
        body = self.client.history(sid, all_projects=args.all_projects)
        if body.get("deleted"):
            self.note(f"note: stack {body.get('name')} ({sid}) was deleted; heatseeker keeps "
                      "its history")
        columns = _HISTORY + (_HISTORY_LONG if args.long else [])
        return columns, common.rows(body.get("revisions") or [],
                                    [(c, _GETTERS[c]) for c in columns])


class StackDiff(common.HeatseekerLister):
    """What changed in a stack between two revisions (a semantic diff, by path).

    Default: the revision before the latest and the latest; <rev-a> alone: from <rev-a> to the
    latest. Paths read as the query string names fields: parameters.image,
    resources.server.properties.flavor, outputs.url, environment.resource_registry.<type>, …
    """

    columns_text = common.columns_help(_CHANGE) + " Kind is added, removed or changed."

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _stack_arg(parser)
        parser.add_argument("rev_a", metavar="<rev-a>", nargs="?", type=int,
                            help="the revision to compare from")
        parser.add_argument("rev_b", metavar="<rev-b>", nargs="?", type=int,
                            help="the revision to compare to (default: the latest)")
        common.add_all_projects(parser, "find the stack among those")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        args = parsed_args
        for rev in (args.rev_a, args.rev_b):
            if rev is not None and rev < 1:
                raise exceptions.CommandError(f"a revision is a number from 1, not {rev}")
        sid = self.stack_id(args.stack, args.all_projects)
        body = self.client.diff(sid, args.rev_a, args.rev_b, all_projects=args.all_projects)
        a, b = body.get("from") or {}, body.get("to") or {}
        self.note(f"{body.get('name')} ({sid}): revision {a.get('revision')} "
                  f"({a.get('status')}, {a.get('at')}) -> {b.get('revision')} "
                  f"({b.get('status')}, {b.get('at')}): {len(body.get('changes') or [])} "
                  "change(s)")
        return _CHANGE, common.rows(body.get("changes") or [],
                                    [(c, _GETTERS[c]) for c in _CHANGE])


class StackChanges(common.HeatseekerLister):
    """Which stacks changed a field, when, and from what to what, oldest first.

    <field> is named as in the query string: parameters.image,
    template.resources.server.properties.flavor (or resources.server.properties.flavor),
    environment.resource_registry, outputs.url, files, description, tags; none: every change.
    Times use the query string's date math: 7d (= now-7d), now-1h, 2026-11-25, now/d.
    Deleted stacks are included.
    """

    columns_text = common.columns_help(_CHANGES, _CHANGES_LONG)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("field", metavar="<field>", nargs="?", default=None,
                            help="the field (default: any)")
        parser.add_argument("--since", metavar="<time>", help="changes at or after (e.g. 7d)")
        parser.add_argument("--until", metavar="<time>", help="changes at or before")
        parser.add_argument("--include-created", action="store_true", default=False,
                            help="count a stack's first revision as the field being added")
        parser.add_argument("--limit", metavar="<limit>", type=int,
                            action=parseractions.NonNegativeAction,
                            help="at most this many changes (1 to 1000; default 1000)")
        common.add_all_projects(parser, "changes of the stacks")
        common.add_long(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        args = parsed_args
        body = self.client.changes(args.field, since=args.since, until=args.until,
                                   include_created=args.include_created, limit=args.limit,
                                   all_projects=args.all_projects)
        if body.get("truncated"):
            self.note(f"note: more than {len(body.get('changes') or [])} changes matched; "
                      "narrow --since/--until or raise --limit")
        columns = _CHANGES + (_CHANGES_LONG if args.long else [])
        return columns, common.rows(body.get("changes") or [],
                                    [(c, _GETTERS[c]) for c in columns])
