"""What one caller may see — the projects and the fields — applied to everything they ask.

``Visibility.query()`` wraps every query tree before it reaches an engine (tenant scope from
``scope.py``, plus admin-only fields neutralised); ``source()`` strips admin-only fields from what
is returned (so highlights, computed on the stripped source, cannot show them either);
``check_field()`` refuses aggregations and sorts on them. The searcher applies all three; nothing
else talks to an engine on a caller's behalf.

Admin-only fields must be typed fields kept out of the full text (``fields.FULLTEXT_EXCLUDED``):
then a bare word can never reveal them, and a field query on them matches nothing for a
non-admin (``NOT field:x`` therefore matches everything): "role fishing" learns nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from heatseeker.query import fields as F
from heatseeker.query import tree as t
from heatseeker.query.errors import QueryError
from heatseeker.query.scope import scope

# What an answer shows besides documents that gives an admin-only field away: a stack's first
# revision is made by its owner, so a revision's acting user is the stack_owner of revision 1.
REVEALED_BY = {"stack_owner": ("user_id", "user_name")}
# Features that group or filter by a field whose values they would so reveal.
NEEDS = {"roll up": "root_id", "search under a stack": "ancestors"}


class HiddenField(QueryError):
    """A caller asked to sort or aggregate on a field they may not see."""


def check_admin_only(names) -> frozenset[str]:
    """Validate a configured list of admin-only fields."""
    out = set()
    for name in names:
        canonical, _ = F.resolve(name)
        if canonical not in F.FULLTEXT_EXCLUDED:
            raise ValueError(
                f"admin-only field {name!r} is searchable as full text, so it could be revealed; "
                f"choose among {', '.join(sorted(F.FULLTEXT_EXCLUDED - {'id', 'project_id'}))}"
            )
        if canonical in ("id", "project_id"):
            raise ValueError(f"{name!r} cannot be admin-only: every answer carries it")
        out.add(canonical)
    return frozenset(out)


@dataclass(frozen=True)
class Visibility:
    projects: frozenset[str] | None  # None: every project (a cloud admin asking for all)
    hidden_fields: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def everything(cls) -> Visibility:
        return cls(None, frozenset())

    def _hidden(self, name: str | None) -> bool:
        if not name or not self.hidden_fields:
            return False
        name = F.ALIASES.get(name, name)
        return any(name == h or name.startswith(h + ".") for h in self.hidden_fields)

    def _strip(self, node: t.Node) -> t.Node:
        if isinstance(node, t.Bool):
            return replace(
                node,
                must=tuple(self._strip(c) for c in node.must),
                should=tuple(self._strip(c) for c in node.should),
                must_not=tuple(self._strip(c) for c in node.must_not),
                filter=tuple(self._strip(c) for c in node.filter),
            )
        if self._hidden(getattr(node, "field", None)):
            return t.MatchNone()
        return node

    def query(self, node: t.Node) -> t.Node:
        return scope(self._strip(node), self.projects)

    def check_field(self, name: str, what: str) -> None:
        if self._hidden(name):
            raise HiddenField(f"cannot {what} on {name!r}: it is visible to cloud admins only")

    def check_feature(self, feature: str) -> None:
        """Refuse a feature (``NEEDS``) built on a field the caller may not see."""
        self.check_field(NEEDS[feature], feature)

    def row(self, row: dict) -> dict:
        """An answer row that is not a document (a history revision): without what would give an
        admin-only field away (``REVEALED_BY``)."""
        gone = {k for h in self.hidden_fields for k in REVEALED_BY.get(h, ())}
        return {k: v for k, v in row.items() if k not in gone} if gone else row

    def source(self, doc: dict) -> dict:
        if not self.hidden_fields:
            return doc
        return {k: v for k, v in doc.items() if k not in self.hidden_fields}
