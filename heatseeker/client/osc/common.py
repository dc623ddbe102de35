"""What every ``openstack stack …`` command of heatseeker shares: the client, ``--all-projects``,
a stack named by name or id, and the columns whose table form differs from their JSON form.

Columns are cliff ``FormattableColumn``s so that one row serves both readers: a table (or
``-f value``) shows a path as ``root / child`` and a list one item per line, while ``-f json`` /
``-f yaml`` get the API's own values (a list of names, ``{"path", "match", "value"}`` objects, an
old value that is a mapping) that a script can use without parsing text. Column names are
fixed strings, the keys of ``-f json``: they are the scripting contract, so they change only on
purpose.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from cliff.columns import FormattableColumn
from osc_lib.command import command

from heatseeker.client.client import Client


class LinesColumn(FormattableColumn[list]):
    """A list shown one item per line; JSON: the list (empty, never null, when there is none)."""

    def human_readable(self) -> str:
        return "\n".join(str(v) for v in (self._value or []))

    def machine_readable(self) -> list:
        return list(self._value or [])


class PathColumn(LinesColumn):
    """A stack's path (names from its root down): ``a / b / c``; JSON: the list."""

    def human_readable(self) -> str:
        return " / ".join(str(p) for p in (self._value or []))


class ValueColumn(FormattableColumn[Any]):
    """Any JSON value: a string as it is, anything else as compact JSON; JSON: the value."""

    def human_readable(self) -> str:
        value = self._value
        if isinstance(value, str):
            return value
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


class MatchesColumn(LinesColumn):
    """A roll-up's matching stacks: their paths, one per line; JSON: ``{"id", "path", "depth"}``."""

    def human_readable(self) -> str:
        return "\n".join(" / ".join(m.get("path") or [m.get("id", "")]) for m in self._value or [])

    def machine_readable(self) -> list:
        return [{"id": m.get("id"), "path": m.get("path"), "depth": m.get("depth")}
                for m in self._value or []]


class WhereColumn(LinesColumn):
    """Where a value is used: one place per line (``(within: …)`` when inside a longer string);
    JSON: ``{"path", "match", "value"}``."""

    def human_readable(self) -> str:
        return "\n".join(w["path"] + (f"  (within: {w['value']})" if w.get("match") == "within"
                                      else "") for w in self._value or [])


class OptionsColumn(LinesColumn):
    """A facet's values with their counts, one per line: ``CREATE_COMPLETE (3)``; JSON:
    ``{"key", "doc_count"}``."""

    def human_readable(self) -> str:
        return "\n".join(f"{o.get('key')} ({o.get('doc_count')})" for o in self._value or [])


def add_all_projects(parser: argparse.ArgumentParser, what: str = "stacks") -> None:
    parser.add_argument(
        "--all-projects", action="store_true", default=False,
        help=f"{what} of every project (cloud admins only; others get a 403 from the API)")


def add_long(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--long", action="store_true", default=False,
                        help="more columns (see the list of columns below)")


def columns_help(default: Sequence[str], long: Sequence[str] = (),
                 all_projects: Sequence[str] = ()) -> str:
    text = "Columns: " + ", ".join(default)
    if long:
        text += "; with --long also " + ", ".join(long)
    if all_projects:
        text += "; with --all-projects also " + ", ".join(all_projects)
    return text + ". -f json/yaml give lists and objects where a table shows lines."


def rows(items: Iterable[Mapping[str, Any]], columns: Sequence[tuple[str, Any]]
         ) -> list[tuple[Any, ...]]:
    """One tuple per item: each column is ``(name, getter)``, a getter being a key of the item or
    a function of it."""
    out = []
    for item in items:
        out.append(tuple(get(item) if callable(get) else item.get(get) for _, get in columns))
    return out


class HeatseekerLister(command.Lister):
    """An ``openstack stack …`` lister talking to heatseeker through ``client_manager``."""

    columns_text = ""  # the columns, after the options in --help

    def get_epilog(self) -> str:
        return "\n".join(t for t in (self.columns_text, super().get_epilog()) if t)

    @property
    def client(self) -> Client:
        return cast(Any, self.app.client_manager).heatseeker

    def note(self, text: str) -> None:
        """A remark for the reader (stderr: ``-f json`` on stdout stays parseable)."""
        self.app.stderr.write(text.rstrip("\n") + "\n")

    def stack_id(self, name_or_id: str, all_projects: bool) -> str:
        """A stack named by name or id, as heatseeker sees it for the caller."""
        return str(self.client.find_stack(name_or_id, all_projects=all_projects)["id"])
