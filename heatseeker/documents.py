"""THE DOCUMENT: Heat's answers for one stack → one normalised, JSON-serialisable dict.

Pure functions: no I/O and no heatclient here; ``build`` takes any object with the attributes of
``heatseeker.heat.client.StackSnapshot`` (``show``, ``template``, ``environment``, ``files``,
``resources``).

Secrets never reach the index, and what is masked is decided by structure, never by value
(heatseeker/secrets.py): a parameter is secret when it is marked hidden (HOT ``hidden: true``, CFN
``NoEcho``) in the stack's template, in a template written inline in it or in any template among
the stack's files (``parameter_defaults`` flow into nested templates by name), when it is listed in
``encrypted_param_names``, or when the parent made it secret (``inherited``: its value was drawn
from a secret up the tree). Masked: those parameters (in ``parameters`` and the environment), the
defaults of hidden parameters (the API's template endpoint returns them unmasked), the secret
``parameter_defaults`` names, the outputs whose expression draws on a secret parameter or on an
attribute where Heat puts a credential, and the literal property values that feed a secret (a
group's generated template). The only by-value step: reasons and output errors lose the values of
the places masked here. File contents are never indexed: only their names.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from heatseeker import secrets
from heatseeker.secrets import Inherited

# The rules that turn Heat's answers into a document, masking included. Bump it when documents
# already in a record would be wrong under the new rules (2: secrets by structure, where version 1
# left values a hidden parameter passed down in clear): the record then says its documents must be
# read again from Heat (`heatseeker sync --full`), and `heatseeker-status upgrade check` fails until
# they are. A change of the index's layout is the engines' own SCHEMA_VERSION (`heatseeker reindex`).
#
# Adding a typed field to the document:
#   1. build_all: its key (a `_..._fields` step when it takes more than a line);
#   2. query/fields.py FIELDS (its type; LIST_FIELDS, FULLTEXT_EXCLUDED, ADMIN_ONLY_DEFAULT as
#      they apply); api/facets.py and api/openapi.yaml to show it; tests/unit/test_documents.py
#      DOC_KEYS and the conformance corpus;
#   3. each engine's SCHEMA_VERSION (engines build their schema from FIELDS): the old index is
#      refused until `heatseeker reindex` (exit 3);
#   4. RULES_VERSION here: the stored documents lack the field until `heatseeker sync --full`
#      reads every stack again (reindex only re-projects the record, it never asks Heat);
#   5. diff.view only if the history should see the field change (it changes digests: each
#      stack's next write is then a revision).
RULES_VERSION = 2
MASK = secrets.MASK

# Parameters Heat adds to every stack; they duplicate id, name and project_id.
PSEUDO_PARAMETERS = frozenset({"OS::stack_id", "OS::stack_name", "OS::project_id"})

TEMPLATE_VERSION_KEYS = (
    "heat_template_version",
    "AWSTemplateFormatVersion",
    "HeatTemplateFormatVersion",
)
_PARAM_SECTIONS = ("parameters", "Parameters")  # HOT, CFN
_HIDDEN_FLAGS = ("hidden", "NoEcho")
_DEFAULT_KEYS = ("default", "Default")

# In a reason, the value of a secret place is replaced wherever it occurs when at least
# SUBSTRING_MIN long, and as a whole word when at least TOKEN_MIN long (shorter ones would mangle
# unrelated text).
TOKEN_MIN = 3
SUBSTRING_MIN = 8

_MAX_EMBEDDED_DEPTH = 4


# -- status and time -------------------------------------------------------------------------------


def split_status(status: str) -> tuple[str, str]:
    """``"UPDATE_IN_PROGRESS"`` → ``("UPDATE", "IN_PROGRESS")`` (split on the first ``_``)."""
    action, _, state = (status or "").partition("_")
    return action, state


def iso(value: Any) -> str | None:
    """An ISO 8601 UTC string ``YYYY-MM-DDTHH:MM:SSZ`` for a Heat time, or None."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- JSON safety -------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """A JSON-serialisable deep copy: dates/bytes/other objects become strings, keys strings."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {_key(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(v) for v in value]
        if isinstance(value, set | frozenset):
            items.sort(key=lambda v: json.dumps(v, sort_keys=True))
        return items
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool) or key is None:
        return json.dumps(key)
    if isinstance(key, dt.date):
        return key.isoformat()
    return str(key)


# -- hidden parameters ---------------------------------------------------------------------------


def _load_yaml(text: Any) -> Any:
    return secrets.load_yaml(text)


def _embedded(value: Any, depth: int = 0) -> Iterator[dict]:
    """Templates written inline as strings (e.g. ``OS::Heat::Stack``'s ``template`` property)."""
    if depth >= _MAX_EMBEDDED_DEPTH:
        return
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, str) and secrets.looks_like_template(item):
            parsed = _load_yaml(item)
            if isinstance(parsed, dict):
                yield parsed
                yield from _embedded(parsed, depth + 1)


def _hidden_with_embedded(doc: Any) -> frozenset[str]:
    if not isinstance(doc, Mapping):
        return frozenset()
    names: set[str] = set()
    for part in [doc, *_embedded(doc)]:
        names |= secrets.hidden_in(part)
    return frozenset(names)


_CACHE_SIZE = 2048
_cache: OrderedDict[bytes, tuple[Any, frozenset[str]]] = OrderedDict()
_cache_lock = threading.Lock()


def _file(content: Any) -> tuple[Any, frozenset[str]]:
    """One file parsed (YAML; unparsable → None) and the parameters hidden in it (and in the
    templates written inline in it). Cached by content digest: every nested stack of a tree carries
    the same files. The parsed value is shared: read-only."""
    if not isinstance(content, str):
        return None, frozenset()
    digest = hashlib.sha256(content.encode("utf-8", "surrogatepass")).digest()
    with _cache_lock:
        hit = _cache.get(digest)
        if hit is not None:
            _cache.move_to_end(digest)
            return hit
    parsed = _load_yaml(content)
    entry = (parsed, _hidden_with_embedded(parsed))
    with _cache_lock:
        _cache[digest] = entry
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return entry


def _parsed_file(content: Any) -> Any:
    return _file(content)[0]


def hidden_names(template: dict, environment: dict, files: Mapping[str, str]) -> set[str]:
    """Names of the parameters declared secret: hidden in the stack's template, in a template
    written inline in it or in any template among the stack's files (an environment's
    ``parameter_defaults`` flow into nested templates by name), or listed in the environment's
    ``encrypted_param_names``."""
    names = set(_hidden_with_embedded(template))
    for content in (files or {}).values():
        names |= _file(content)[1]
    if isinstance(environment, Mapping):
        encrypted = environment.get("encrypted_param_names")
        if isinstance(encrypted, list | tuple):
            names |= {_key(n) for n in encrypted if n is not None}
    return names


def _leaves(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _leaves(v)
    elif isinstance(value, str):
        yield value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield str(value)


# -- masking ---------------------------------------------------------------------------------------


class _Masker:
    """Masks places, and keeps the values it masked: the only values a reason is scrubbed of."""

    def __init__(self) -> None:
        self.values: set[str] = set()

    def mask(self, value: Any) -> str:
        self.values.update(v for v in _leaves(value) if v != MASK)
        return MASK

    def keys(self, value: Any, names: Iterable[str] | frozenset[str]) -> Any:
        """Replace the value of every key in ``names``, at any depth."""
        if isinstance(value, dict):
            return {k: self.mask(v) if k in names else self.keys(v, names)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self.keys(v, names) for v in value]
        return value

    def template(self, template: dict, hidden: set[str], literals: Mapping[str, frozenset[str]]
                 ) -> dict:
        """Hidden defaults (also in templates written inline) and the literal property values
        the analysis found secret."""
        self._defaults(template, hidden)
        for name, definition in secrets.resources_of(template).items():
            props = definition.get("properties", definition.get("Properties"))
            if isinstance(props, dict):
                for prop in literals.get(name, ()):
                    if prop in props:
                        props[prop] = self.mask(props[prop])
        return self._inline(template, 0)

    def _defaults(self, template: dict, hidden: set[str] | frozenset[str]) -> bool:
        masked = False
        for section in _PARAM_SECTIONS:
            params = template.get(section)
            if not isinstance(params, dict):
                continue
            for name, definition in params.items():
                if not isinstance(definition, dict):
                    continue
                if name in hidden or any(secrets.truthy(definition.get(f)) for f in _HIDDEN_FLAGS):
                    for k in _DEFAULT_KEYS:
                        if k in definition and definition[k] != MASK:
                            definition[k] = self.mask(definition[k])
                            masked = True
        return masked

    def _inline(self, value: Any, depth: int) -> Any:
        """A template written as a string: its hidden defaults masked (the string re-written only
        when something was masked)."""
        if isinstance(value, dict):
            return {k: self._inline(v, depth) for k, v in value.items()}
        if isinstance(value, list):
            return [self._inline(v, depth) for v in value]
        if isinstance(value, str) and depth < _MAX_EMBEDDED_DEPTH and secrets.looks_like_template(value):
            parsed = _load_yaml(value)
            if isinstance(parsed, dict):
                parsed = _jsonable(parsed)
                masked = self._defaults(parsed, frozenset())
                inner = self._inline(parsed, depth + 1)
                if masked or inner != parsed:
                    return yaml.safe_dump(inner, sort_keys=False, allow_unicode=True)
        return value


_WORD = "A-Za-z0-9_"


class _ReasonScrubber:
    """A reason (free text) with the values of the document's secret places taken out: a value of
    at least ``SUBSTRING_MIN`` characters wherever it occurs, a shorter one (of at least
    ``TOKEN_MIN``) where it is not glued to letters, digits or ``_``. Only inside reasons and
    errors: by value, but only with values of places known to be secret."""

    def __init__(self, values: Iterable[str]):
        values = sorted({v for v in values if len(v) >= TOKEN_MIN}, key=len, reverse=True)
        parts = [re.escape(v) if len(v) >= SUBSTRING_MIN
                 else f"(?<![{_WORD}]){re.escape(v)}(?![{_WORD}])" for v in values]
        self.pattern = re.compile("|".join(parts)) if parts else None

    def __call__(self, text: Any) -> Any:
        if self.pattern is None or not isinstance(text, str):
            return text
        return self.pattern.sub(MASK, text)

    def deep(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.deep(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.deep(v) for v in value]
        return self(value)


# -- the document ----------------------------------------------------------------------------------


def _template_version(template: Mapping) -> str | None:
    for key in TEMPLATE_VERSION_KEYS:
        if key in template and template[key] is not None:
            value = template[key]
            if isinstance(value, dt.datetime):
                value = value.date()
            if isinstance(value, dt.date):
                return value.strftime("%Y-%m-%d")
            return str(value)
    return None


def _template_types(template: Mapping) -> Iterator[str]:
    for section, type_key in (("resources", "type"), ("Resources", "Type")):
        resources = template.get(section)
        if isinstance(resources, Mapping):
            for definition in resources.values():
                if isinstance(definition, Mapping) and isinstance(definition.get(type_key), str):
                    yield definition[type_key]


def _nested_stack_id(links: Any) -> str | None:
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, Mapping) and link.get("rel") == "nested":
            href = link.get("href")
            if isinstance(href, str) and href.strip("/"):
                return href.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or None
    return None


def _str_or_none(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def resource(item: Mapping) -> dict:
    return {
        "name": _str_or_none(item.get("resource_name")),
        "type": _str_or_none(item.get("resource_type")),
        "status": _str_or_none(item.get("resource_status")),
        "status_reason": _str_or_none(item.get("resource_status_reason")),
        "physical_resource_id": _str_or_none(item.get("physical_resource_id")) or None,
        "nested_stack_id": _nested_stack_id(item.get("links")),
    }


def _output(item: Mapping) -> dict:
    error = item.get("output_error")
    return {
        "key": _str_or_none(item.get("output_key")),
        "value": _jsonable(item.get("output_value")),
        "description": _str_or_none(item.get("description")),
        "error": _jsonable(error) if error is not None else None,
    }


def fingerprint(template: Any) -> str:
    """sha256 hex of the canonical JSON of a (masked) template."""
    canonical = json.dumps(template, sort_keys=True, separators=(",", ":"))  # ASCII
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


# -- same template, same registry mapping ------------------------------------------------------------

# Keys that only describe: dropped from the normalised template (at the top, in parameter, output and
# parameter-group definitions; never inside resource properties, where a "description" is data).
_DESCRIBING = ("description", "Description")
_DESCRIBED_SECTIONS = ("parameters", "Parameters", "outputs", "Outputs", "parameter_groups")


def _normal_text(value: Any) -> Any:
    """Strings with line endings unified and trailing whitespace gone (per line and at the end)."""
    if isinstance(value, dict):
        return {k: _normal_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal_text(v) for v in value]
    if isinstance(value, str) and ("\n" in value or "\r" in value or value != value.rstrip()):
        lines = value.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        return "\n".join(line.rstrip() for line in lines).rstrip()
    return value


def normalised_template(template: Any) -> Any:
    """The template as its fingerprint sees it: descriptions dropped, text whitespace normalised.

    Key order and YAML formatting are already gone (a parsed template; the hash sorts keys).
    """
    if not isinstance(template, Mapping):
        return _normal_text(_jsonable(template))
    out = {k: v for k, v in _jsonable(template).items() if k not in _DESCRIBING}
    for section in _DESCRIBED_SECTIONS:
        part = out.get(section)
        if isinstance(part, dict):
            out[section] = {
                k: ({kk: vv for kk, vv in v.items() if kk not in _DESCRIBING}
                    if isinstance(v, dict) else v)
                for k, v in part.items()
            }
        elif isinstance(part, list):
            out[section] = [
                {kk: vv for kk, vv in v.items() if kk not in _DESCRIBING} if isinstance(v, dict) else v
                for v in part
            ]
    return _normal_text(out)


def template_fingerprint(template: Any) -> str:
    """sha256 hex of the normalised (masked) template: stacks deployed from the same template share
    it whatever their descriptions, the formatting of their YAML or the order of their keys (see
    ``normalised_template``). ``fingerprint`` stays the exact hash."""
    return fingerprint(normalised_template(template))


def _registry_target_names(target: str) -> list[str]:
    """A mapping's target, and its base name when it is a path or URL (heatclient turns a local
    ``box.yaml`` into ``file:///abs/path/box.yaml``): both are searchable."""
    names = [target]
    base = target.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    if base and base != target:
        names.append(base)
    return names


def registry_entries(registry: Any) -> tuple[list[str], list[str]]:
    """``(types, mappings)`` of an environment's ``resource_registry``.

    ``types``: every resource type the registry maps (globally, or for named resources under
    ``resources``); ``mappings``: ``TYPE=TARGET`` for each (and ``TYPE=BASENAME`` when the target
    is a path/URL). Sorted, without duplicates.
    """
    types: set[str] = set()
    maps: set[str] = set()

    def add(rtype: Any, target: Any) -> None:
        if not isinstance(rtype, str) or not rtype or isinstance(target, dict | list):
            return
        types.add(rtype)
        if target is None:
            return
        for name in _registry_target_names(str(target)):
            maps.add(f"{rtype}={name}")

    if isinstance(registry, Mapping):
        for key, value in registry.items():
            if key == "resources" and isinstance(value, Mapping):
                for per_resource in value.values():
                    if isinstance(per_resource, Mapping):
                        for rtype, target in per_resource.items():
                            if not str(rtype).startswith("hooks"):
                                add(rtype, target)
            else:
                add(key, value)
    return sorted(types), sorted(maps)


@dataclass(frozen=True)
class Built:
    """A document, with what its stack passes down to its nested stacks (``secrets.summary``:
    kept with the store's record, never indexed) and the scrubber of reasons (a notification's
    reason overlaid later must go through it too)."""

    doc: dict
    summary: dict
    scrub: Any  # (text) -> text


def build(
    snapshot: Any,
    *,
    project_id: str | None,
    ancestors: Sequence[tuple[str, str]],
    parent_resource: str | None,
    version: int,
    now: dt.datetime | None = None,
    inherited: Inherited | None = None,
) -> dict:
    """The stack document (see the module docstring and heatseeker/query/fields.py).

    ``ancestors``: ``(id, name)`` pairs, root first, without the stack itself. ``inherited``: what
    the parent made secret here (``secrets.Inherited``; None: nothing, as for a root stack).
    """
    return build_all(snapshot, project_id=project_id, ancestors=ancestors,
                     parent_resource=parent_resource, version=version, now=now,
                     inherited=inherited).doc


def region_of(snapshot: Any) -> str:
    """The region a snapshot was read in (``StackSnapshot.region``; the default region when the
    source did not say)."""
    from heatseeker.heat.client import DEFAULT_REGION

    region = getattr(snapshot, "region", None)
    return region if isinstance(region, str) and region else DEFAULT_REGION


def build_all(
    snapshot: Any,
    *,
    project_id: str | None,
    ancestors: Sequence[tuple[str, str]],
    parent_resource: str | None,
    version: int,
    now: dt.datetime | None = None,
    inherited: Inherited | None = None,
) -> Built:
    """``build``, with the summary for the stack's children and the reason scrubber.

    The steps: Heat's answers, each of its expected shape (``_answers``) → which places are secret
    (``_secret_places``) → each part, masked (``_Masker`` keeps the values it masked) → the reason
    scrubber of those values → the document (one key per field of ``query/fields.py``, plus the
    free-form parts).
    """
    a = _answers(snapshot)
    if project_id is None and isinstance(a.params.get("OS::project_id"), str):
        project_id = a.params["OS::project_id"]
    found = _secret_places(a, inherited or secrets.NOTHING)
    masker = _Masker()
    parameters = _masked_parameters(a, found, masker)
    outputs = _masked_outputs(a, found, masker)
    resources = sorted(
        (resource(r) for r in a.resources if isinstance(r, Mapping)),
        key=lambda r: (r["name"] or "", r["type"] or "", r["physical_resource_id"] or ""),
    )
    template = masker.template(_jsonable(a.template), found.declared, found.analysis.literals)
    environment = _masked_environment(a, found, masker)
    scrub = _ReasonScrubber(masker.values)  # after every mask: the values masked above
    registry_types, registry_map = registry_entries(environment["resource_registry"])
    stack_id = _str_or_none(a.show.get("id"))
    name = _str_or_none(a.show.get("stack_name"))
    doc = {
        "id": stack_id,
        "name": name,
        "project_id": project_id,
        # the region of the Heat that holds the stack ([heat] region_name): a stack's tree, its
        # links and its history never leave it
        "region": region_of(snapshot),
        **_status_fields(a.show, scrub),
        **_time_fields(a.show),
        "description": _str_or_none(a.show.get("description")),
        "tags": _tags(a.show.get("tags")),
        **_tree_fields(a.show, stack_id, name, ancestors, parent_resource),
        # who created the stack (a user name) and Heat's domain project for the stack's users:
        # operator details, admin-only by default in the API ([api] admin_only_fields)
        "stack_owner": _str_or_none(a.show.get("stack_owner")),
        "stack_user_project_id": _str_or_none(a.show.get("stack_user_project_id")),
        "parameters": parameters,
        "outputs": [{**o, "error": scrub.deep(o["error"])} for o in outputs],
        "resources": [{**r, "status_reason": scrub(r["status_reason"])} for r in resources],
        "resource_types": sorted(
            set(_template_types(a.template)) | {r["type"] for r in resources if r["type"]}),
        "template": template,
        "template_version": _template_version(a.template),
        "environment": environment,
        "files": sorted(str(k) for k in a.files),
        "fingerprint": fingerprint(template),
        "template_fingerprint": template_fingerprint(template),
        "registry_types": registry_types,
        "registry_map": registry_map,
        # set by heatseeker/links.py when an OS::Heat::Stack resource of another stack created this
        # one (Heat keeps no parent for it): the creator's id and the kind of link
        "created_by": None,
        "link": None,
        "indexed_at": iso(now or dt.datetime.now(dt.UTC)),
        "version": version,
    }
    return Built(doc=doc, summary=found.summary, scrub=scrub)


# -- the steps of build_all --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Answers:
    """Heat's answers for one stack (a ``StackSnapshot``), each of the shape it should have:
    anything else reads as empty."""

    show: Mapping
    template: Mapping
    environment: Mapping
    files: Mapping
    resources: Sequence
    params: Mapping  # the show's parameters
    env_params: Mapping  # the environment's parameters
    env_defaults: Mapping  # the environment's parameter_defaults


def _mapping(value: Any) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def _answers(snapshot: Any) -> _Answers:
    show = getattr(snapshot, "show", None) or {}
    env = _mapping(getattr(snapshot, "environment", None))
    return _Answers(
        show=show,
        template=_mapping(getattr(snapshot, "template", None)),
        environment=env,
        files=_mapping(getattr(snapshot, "files", None)),
        resources=getattr(snapshot, "resources", None) or [],
        params=_mapping(show.get("parameters")),
        env_params=_mapping(env.get("parameters")),
        env_defaults=_mapping(env.get("parameter_defaults")),
    )


@dataclass(frozen=True)
class _Secrets:
    """Which places of one stack are secret (heatseeker/secrets.py)."""

    declared: set[str]  # parameters declared secret here (hidden, NoEcho, encrypted_param_names)
    params: set[str]  # every secret parameter: declared, or made secret by the parent
    defaults: set[str]  # secret parameter_defaults names
    analysis: secrets.Analysis  # secret outputs, literal properties, places not followed
    summary: dict  # what the stack passes down to its children (kept with its record)


def _secret_places(a: _Answers, inherited: Inherited) -> _Secrets:
    if inherited.everything:  # the parent is unknown: whatever it may have passed is secret
        inherited = Inherited(
            params=frozenset(_passed_by_parent(a.params, a.template)),
            members=frozenset({"*"}),
            defaults=frozenset(_key(k) for k, _ in _keyed(a.env_defaults)),
        )
    declared = hidden_names(a.template, a.environment, a.files)  # type: ignore[arg-type]
    # a parameter_defaults entry the parent made secret reaches the parameters it was not passed
    from_defaults = {p for p in inherited.defaults if p not in a.env_params}
    secret_params = declared | inherited.params | from_defaults
    ctx = secrets.Context(files=a.files, registry=_mapping(a.environment.get("resource_registry")),
                          parse=_parsed_file)
    analysis = secrets.analyse(a.template, secret_params, members=inherited.members, ctx=ctx)
    secret_defaults = declared | inherited.defaults
    return _Secrets(declared=declared, params=secret_params, defaults=secret_defaults,
                    analysis=analysis,
                    summary=secrets.summary(analysis, secret_defaults, analysis.unknown))


def _passed_by_parent(raw_params: Mapping, template: Mapping) -> set[str]:
    """Parameters whose value differs from the template's default: what a parent may have passed."""
    defaults = {name: next((d[k] for k in _DEFAULT_KEYS if k in d), None)
                for name, d in secrets.param_defs(template)}
    return {name for name, value in raw_params.items()
            if name not in PSEUDO_PARAMETERS
            and (name not in defaults or defaults[name] is None or str(defaults[name]) != str(value))}


def _masked_parameters(a: _Answers, found: _Secrets, masker: _Masker) -> dict:
    return {
        name: masker.mask(value) if name in found.params else value
        for name, value in _jsonable(a.params).items()
        if name not in PSEUDO_PARAMETERS
    }


def _masked_outputs(a: _Answers, found: _Secrets, masker: _Masker) -> list[dict]:
    raw = a.show.get("outputs")
    outputs = [_output(o) for o in (raw if isinstance(raw, list) else []) if isinstance(o, Mapping)]
    # an output the template does not declare came from another action's template than the one
    # read (a show and a template read around an update's start): nothing says what it draws on
    declared = {k for section in ("outputs", "Outputs")
                for k in _mapping(a.template.get(section))}
    for o in outputs:
        if o["key"] in found.analysis.outputs or o["key"] not in declared:
            o["value"] = masker.mask(o["value"])
            if o["error"] is not None:
                o["error"] = masker.mask(o["error"])
    return outputs


def _masked_environment(a: _Answers, found: _Secrets, masker: _Masker) -> dict:
    return {
        "parameters": masker.keys(_jsonable(a.env_params), found.params),
        "parameter_defaults": masker.keys(_jsonable(a.env_defaults), found.defaults),
        "resource_registry": _jsonable(a.environment.get("resource_registry") or {}),
    }


def _status_fields(show: Mapping, scrub: _ReasonScrubber) -> dict:
    status = _str_or_none(show.get("stack_status"))
    action, state = split_status(status) if status else (None, None)
    return {"status": status, "action": action, "state": state,
            "status_reason": scrub(_str_or_none(show.get("stack_status_reason")))}


def _time_fields(show: Mapping) -> dict:
    created_at = iso(show.get("creation_time"))
    return {"created_at": created_at,
            "updated_at": iso(show.get("updated_time")) or created_at,
            "deleted_at": iso(show.get("deletion_time"))}


def _tags(tags: Any) -> list[str]:
    return [_key(t) for t in tags if t is not None] if isinstance(tags, list) else []


def _tree_fields(show: Mapping, stack_id: str | None, name: str | None,
                 ancestors: Sequence[tuple[str, str]], parent_resource: str | None) -> dict:
    """The stack's place in its tree, from Heat's parent chain (links.py rewrites these for a
    stack an OS::Heat::Stack resource created)."""
    ancestor_ids = [str(a[0]) for a in ancestors]
    return {
        "parent_id": _str_or_none(show.get("parent")) or None,
        "root_id": ancestor_ids[0] if ancestor_ids else stack_id,
        "ancestors": ancestor_ids,
        "path": [str(a[1]) for a in ancestors] + [name or ""],
        "depth": len(ancestor_ids),
        "parent_resource": parent_resource,
    }


def _keyed(value: Any) -> Iterator[tuple[str, Any]]:
    """``(key, value)`` for every key at any depth (environment parameter maps)."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield _key(k), v
            yield from _keyed(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _keyed(v)


def with_state(doc: dict, status: str, status_reason: str | None, version: int) -> dict:
    """A copy of ``doc`` with a newer status overlaid (from a notification), at ``version``."""
    new = copy.copy(doc)
    action, state = split_status(status)
    new.update(
        status=status, action=action, state=state, status_reason=status_reason, version=version
    )
    return new
