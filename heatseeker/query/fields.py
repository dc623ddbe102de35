"""The fields a query can name, and their types: the contract between documents, queries and engines.

Three kinds of field:

* **typed fields** at the top of a stack document (``status``, ``updated_at``, ``depth`` …), each
  with one type below;
* **dynamic paths** inside the free-form parts of a stack (``parameters.image``,
  ``resources.type``, ``template.resources.server.properties.flavor`` …): every scalar leaf is
  indexed as an exact value under its dotted path (list items share their list's path). A key that
  itself contains a dot is reachable by the same dotted path: ``{"a.b": 1}`` and ``{"a": {"b": 1}}``
  both answer ``parameters.a.b:1``. Values are compared as text (``count:3`` matches the number 3 and
  the string "3"), and only their first ``MAX_VALUE_CHARS`` characters are indexed as exact values
  (all of a value still reaches full text);
* ``FULLTEXT``: everything a stack holds, analysed into words; the target of bare words.

A name that is none of these is the one mistake every way of naming a field can make (the DSL, the
query string, sort, highlight and aggregation keys, configuration): ``resolve`` raises
``UnknownField``, whose message is written here only, says where, suggests the closest name and
lists the known ones.
"""

from __future__ import annotations

import difflib

from heatseeker.query.errors import QueryError, shown

KEYWORD = "keyword"  # exact value, sortable, aggregatable
TEXT = "text"  # analysed words; the field also has an exact form for term/sort/aggregations
DATE = "date"
INT = "int"

FIELDS: dict[str, str] = {
    "id": KEYWORD,
    "name": TEXT,
    "project_id": KEYWORD,
    "region": KEYWORD,
    "status": KEYWORD,
    "action": KEYWORD,
    "state": KEYWORD,
    "status_reason": TEXT,
    "description": TEXT,
    "tags": KEYWORD,
    "parent_id": KEYWORD,
    "root_id": KEYWORD,
    "ancestors": KEYWORD,
    "path": KEYWORD,
    "parent_resource": KEYWORD,
    "stack_owner": KEYWORD,
    "stack_user_project_id": KEYWORD,
    "resource_types": KEYWORD,
    "template_version": KEYWORD,
    "fingerprint": KEYWORD,
    "template_fingerprint": KEYWORD,
    "registry_types": KEYWORD,
    "registry_map": KEYWORD,
    "created_by": KEYWORD,
    "link": KEYWORD,
    "files": KEYWORD,
    "created_at": DATE,
    "updated_at": DATE,
    "deleted_at": DATE,
    "indexed_at": DATE,
    "depth": INT,
    "version": INT,
}

# Top-level fields that hold a list of values (a sort on one orders by its least or greatest value,
# so search_after cannot page through it)
LIST_FIELDS = frozenset(
    {"tags", "ancestors", "path", "resource_types", "files", "registry_types", "registry_map"}
)

# Top-level document keys whose insides are reachable as dynamic paths.
DYNAMIC_ROOTS = ("parameters", "outputs", "resources", "template", "environment")

FULLTEXT = "_all"

# Typed fields whose values engines keep out of FULLTEXT: identifiers, times and numbers are
# asked for by field, and a field that is not in the full text can be made admin-only safely
# (a bare word can never reveal it).
FULLTEXT_EXCLUDED = frozenset(
    {
        "id", "project_id", "region", "parent_id", "root_id", "ancestors", "fingerprint",
        "template_fingerprint", "created_by", "stack_owner",
        "stack_user_project_id", "created_at", "updated_at", "deleted_at", "indexed_at", "depth",
        "version",
    }
)

# Fields only a cloud admin sees (the API's default for [api] admin_only_fields): each must be a
# typed field in FULLTEXT_EXCLUDED.
ADMIN_ONLY_DEFAULT = ("stack_owner", "stack_user_project_id")

MAX_VALUE_CHARS = 256

# Engines index a dynamic leaf as the single exact term ``path + KV_SEP + value`` (the same idea as
# OpenSearch's flat_object); the separator cannot occur in a key (flatten() replaces it).
KV_SEP = "\x1f"

# Aliases users know from Searchlight / Elasticsearch.
ALIASES = {"name.raw": "name", "_id": "id"}


class UnknownField(QueryError):
    """A field name that is neither a typed field nor a path under a dynamic root.

    ``where`` says where the name was written (a JSON path, or a character offset whose
    ``position`` tools can point at); ``advice`` is what the grammar adds (how to search for
    the text instead).
    """

    def __init__(
        self,
        name: str,
        where: str | None = None,
        *,
        position: int | None = None,
        advice: str = "",
    ):
        at = f" at {where}" if where is not None else ""
        close = suggest(name)
        hint = f" (did you mean {shown(close)}?)" if close else ""
        tail = f" {advice}" if advice else ""
        super().__init__(
            f"unknown field {shown(name)}{at}{hint}; known fields: {', '.join(sorted(FIELDS))}, "
            f"or a path under {', '.join(r + '.' for r in DYNAMIC_ROOTS)}{tail}",
            position,
        )
        self.field = name


def suggest(name: str) -> str | None:
    """The known name a mistyped one is closest to: a field or alias, or the same path under the
    closest dynamic root (``paramters.image`` → ``parameters.image``); None when nothing is close."""
    close = difflib.get_close_matches(name, [*FIELDS, *ALIASES], n=1, cutoff=0.75)
    if close:
        return close[0]
    root, dot, rest = name.partition(".")
    roots = difflib.get_close_matches(root, DYNAMIC_ROOTS, n=1, cutoff=0.7)
    if roots and dot and rest:
        return f"{roots[0]}.{rest}"
    return None


def resolve(name: str, where: str | None = None) -> tuple[str, str]:
    """Return ``(canonical name, kind)``; kind is a type above or ``"dynamic"``.

    Raises UnknownField (saying ``where``) for anything else.
    """
    found = lookup(name)
    if found is None:
        raise UnknownField(name, where)
    return found


def lookup(name: str) -> tuple[str, str] | None:
    """``resolve`` without the error: None for a name that is not a field (cheap to ask)."""
    name = ALIASES.get(name, name)
    if name in FIELDS:
        return name, FIELDS[name]
    root, _, rest = name.partition(".")
    if root in DYNAMIC_ROOTS and rest:
        return name, "dynamic"
    return None


def is_sortable(name: str) -> bool:
    name = ALIASES.get(name, name)
    return name in FIELDS


def flatten(value, prefix: str):
    """Yield ``(dotted path, text value)`` for every scalar leaf under ``prefix``.

    Used by every engine to index dynamic paths the same way.
    """
    if isinstance(value, dict):
        for key, child in value.items():
            key = str(key).replace(KV_SEP, " ")
            yield from flatten(child, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, (list, tuple)):
        for child in value:
            yield from flatten(child, prefix)
    elif value is None:
        yield prefix, "null"
    elif isinstance(value, bool):
        yield prefix, "true" if value else "false"
    else:
        yield prefix, str(value)[:MAX_VALUE_CHARS]


def scalar_text(value) -> str:
    """The text form under which a dynamic value is indexed and compared."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)[:MAX_VALUE_CHARS]
