"""``openstack stack search``, ``openstack stack search facets`` and ``openstack stack uses``.

A plain search is sorted by fields (``--sort``, default the stack name, ties by id) and paged
with the API's ``search_after`` cursor, so ``--marker`` is what OpenStack users know from
``openstack stack list``: the id of the last stack of the previous page, and walking every page
is not bound by the API's result window. A roll-up orders root stacks by their best match, which
has no cursor: it pages by ``--offset``. Without ``--limit`` every match is listed, as
``openstack stack list`` lists every stack.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from osc_lib import exceptions
from osc_lib.cli import parseractions

from heatseeker.client.osc import common

_SEARCH = ["ID", "Stack Name", "Path", "Stack Status", "Updated Time"]
_SEARCH_LONG = ["Parent", "Root ID", "Depth", "Tags", "Created Time"]
_ROLLUP = ["ID", "Stack Name", "Stack Status", "Updated Time", "Matched", "Matches"]
_GETTERS: dict[str, Any] = {
    "ID": "id", "Stack Name": "name", "Project": "project_id", "Stack Status": "status",
    "Updated Time": "updated_at", "Created Time": "created_at", "Parent": "parent_id",
    "Root ID": "root_id", "Depth": "depth",
    "Path": lambda s: common.PathColumn(s.get("path")),
    "Tags": lambda s: common.LinesColumn(s.get("tags")),
    "Matched": "matched",
    "Matches": lambda s: common.MatchesColumn(s.get("matches")),
}
_SOURCE = {"ID": "id", "Stack Name": "name", "Project": "project_id", "Stack Status": "status",
           "Updated Time": "updated_at", "Created Time": "created_at", "Parent": "parent_id",
           "Root ID": "root_id", "Depth": "depth", "Path": "path", "Tags": "tags"}


def _with_project(columns: list[str], all_projects: bool) -> list[str]:
    """heatclient's ``stack list --all-projects`` shows the project after the name: so here."""
    return columns[:2] + ["Project"] + columns[2:] if all_projects else columns


def _sort_keys(values: list[str] | None) -> list[str]:
    keys = [k.strip() for v in values or [] for k in v.split(",") if k.strip()]
    return keys or ["name"]


class SearchStacks(common.HeatseekerLister):
    """Search stacks, nested ones included, with heatseeker.

    <query> is heatseeker's query string (several words narrow the search: AND by default), e.g.
    'parameters.image:cirros-0.6.2', 'resources.type:OS::Nova::Server AND status:*FAILED',
    'name:web*'; with --dsl it is a JSON query of the Elasticsearch DSL subset the API takes.
    No <query>: every stack. A <query> that starts with '-' or is the word 'facets' goes after
    '--'.
    """

    columns_text = (common.columns_help(_SEARCH, _SEARCH_LONG, ["Project"])
               + " With --rollup: " + ", ".join(_ROLLUP) + ".")

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("query", metavar="<query>", nargs="?", default=None,
                            help="the query string (or, with --dsl, a JSON DSL query)")
        parser.add_argument("--dsl", action="store_true", default=False,
                            help="<query> is a JSON query of the DSL, e.g. "
                                 "'{\"term\": {\"parameters.image\": \"cirros-0.6.2\"}}'")
        parser.add_argument("--rollup", action="store_true", default=False,
                            help="answer with root stacks, each with its matching stacks "
                                 "(Matched: how many; Matches: their paths)")
        parser.add_argument("--under", metavar="<stack>",
                            help="only this stack (name or ID) and its nested stacks")
        common.add_all_projects(parser, "search the stacks")
        parser.add_argument("--sort", metavar="<key>[:<direction>]", action="append",
                            help="sort by these fields, comma-separated, each asc or desc "
                                 "(default: name; ties by ID), e.g. updated_at:desc,name; "
                                 "not with --rollup")
        parser.add_argument("--limit", metavar="<limit>", type=int,
                            action=parseractions.NonNegativeAction,
                            help="list at most this many stacks (root stacks with --rollup); "
                                 "default: all")
        parser.add_argument("--marker", metavar="<stack-id>",
                            help="start after this stack, the last ID of the previous page "
                                 "(with the same --sort); not with --rollup")
        parser.add_argument("--offset", metavar="<offset>", type=int,
                            action=parseractions.NonNegativeAction,
                            help="with --rollup: skip this many root stacks")
        common.add_long(parser)
        return parser

    def _query(self, args: argparse.Namespace) -> Any:
        if not args.dsl:
            return args.query
        if args.query is None:
            raise exceptions.CommandError("--dsl needs a <query>: a JSON object")
        try:
            query = json.loads(args.query)
        except ValueError as exc:
            raise exceptions.CommandError(f"--dsl: <query> is not JSON: {exc}") from None
        if not isinstance(query, dict):
            raise exceptions.CommandError("--dsl: <query> must be a JSON object, e.g. "
                                          "'{\"match_all\": {}}'")
        return query

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        args = parsed_args
        query = self._query(args)
        if args.rollup and (args.marker or args.sort):
            raise exceptions.CommandError(
                "--rollup orders root stacks by their best match and pages with --offset: "
                "--marker and --sort do not apply")
        if not args.rollup and args.offset:
            raise exceptions.CommandError("--offset pages a --rollup; a search pages with "
                                          "--marker (the last ID of the previous page)")
        under = self.stack_id(args.under, args.all_projects) if args.under else None
        if args.rollup:
            columns = _with_project(_ROLLUP, args.all_projects)
            source = [_SOURCE[c] for c in columns if c in _SOURCE]
            roots = []
            for hit in self.client.iter_roots(query, limit=args.limit, offset=args.offset or 0,
                                              under=under, all_projects=args.all_projects,
                                              source=source):
                roots.append(dict(hit.get("_source") or {}, id=hit["_id"],
                                  matched=hit.get("matched"), matches=hit.get("matches")))
                if len(hit.get("matches") or []) < (hit.get("matched") or 0):
                    self.note(f"note: root {hit['_id']}: {hit['matched']} stacks matched, "
                              f"{len(hit['matches'])} listed (at most 1,000 per page)")
            return columns, common.rows(roots, [(c, _GETTERS[c]) for c in columns])

        columns = _with_project(_SEARCH + (_SEARCH_LONG if args.long else []), args.all_projects)
        sort = _sort_keys(args.sort)
        cursor = (self.client.cursor(args.marker, sort, all_projects=args.all_projects)
                  if args.marker else None)
        stacks = [dict(h.get("_source") or {}, id=h["_id"]) for h in self.client.iter_search(
            query, sort=sort, limit=args.limit, search_after=cursor, under=under,
            all_projects=args.all_projects, source=[_SOURCE[c] for c in columns])]
        return columns, common.rows(stacks, [(c, _GETTERS[c]) for c in columns])


class SearchFacets(common.HeatseekerLister):
    """The facets of the stacks you may see, with each value's count (heatseeker).

    One row per searchable field; Options lists its most frequent values, e.g.
    'CREATE_COMPLETE (12)' for status.
    """

    columns_text = common.columns_help(["Name", "Type", "Options"])

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        common.add_all_projects(parser, "count the stacks")
        parser.add_argument("--limit-terms", metavar="<count>", type=int,
                            action=parseractions.NonNegativeAction, default=None,
                            help="at most this many values per field (0: all, the default)")
        parser.add_argument("--no-options", action="store_true", default=False,
                            help="the fields only, without their values")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        args = parsed_args
        body = self.client.facets(all_projects=args.all_projects, exclude_options=args.no_options,
                                  limit_terms=args.limit_terms)
        columns = ["Name", "Type", "Options"]
        return columns, common.rows(body.get("facets") or [], [
            ("Name", "name"), ("Type", "type"),
            ("Options", lambda f: common.OptionsColumn(f.get("options")))])


class StackUses(common.HeatseekerLister):
    """Every stack that uses a value, and where (heatseeker's reverse lookup).

    <value> is an image, a network, a flavor, a key pair, a physical resource ID, any string. It
    matches a whole value (case matters); one of 8 or more characters also matches inside a
    longer string when not glued to letters or digits (shown as '(within: …)'), unless --exact.
    Hidden values are never matched.
    """

    columns_text = common.columns_help(["ID", "Stack Name", "Path", "Stack Status", "Where"],
                                  all_projects=["Project"])

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("value", metavar="<value>", help="the value to look for")
        parser.add_argument("--exact", action="store_true", default=False,
                            help="whole values only (not inside longer strings)")
        parser.add_argument("--under", metavar="<stack>",
                            help="only this stack (name or ID) and its nested stacks")
        common.add_all_projects(parser, "look in the stacks")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        args = parsed_args
        under = self.stack_id(args.under, args.all_projects) if args.under else None
        body = self.client.uses(args.value, exact=args.exact, under=under,
                                all_projects=args.all_projects)
        if body.get("truncated"):
            self.note(f"note: more than {body.get('candidates')} candidate stacks; some may be "
                      "missing (narrow with --under)")
        columns = _with_project(["ID", "Stack Name", "Path", "Stack Status", "Where"],
                                args.all_projects)
        getters = dict(_GETTERS, Where=lambda s: common.WhereColumn(s.get("where")))
        return columns, common.rows(body.get("stacks") or [], [(c, getters[c]) for c in columns])
