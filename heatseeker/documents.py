"""THE DOCUMENT: Heat's answers for one stack → one normalised, JSON-serialisable dict.

Pure functions: no I/O and no heatclient here; ``build`` takes any object with the attributes of
``heatseeker.heat.client.StackSnapshot`` (``show``, ``template``, ``environment``, ``files``,
``resources``).

Secrets never reach the index. A parameter is *hidden* when it is marked hidden (HOT ``hidden:
true``, CFN ``NoEcho``) in the stack's template or in any template among the stack's files (an
environment's ``parameter_defaults`` flow into nested templates, whose hidden parameters the API does
not mask at the parent), or listed in the environment's ``encrypted_param_names``. Hidden parameters
are masked by name in the parameters, in the template's defaults (the API's template endpoint
returns them unmasked) and in the environment. As a second line of defence, the values those hidden
parameters are known to hold (template defaults, environment values) are scrubbed from every
free-form part of the document (outputs, inline templates, reasons …). File contents are never
indexed: only their names.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

SCHEMA_VERSION = 1
MASK = "******"

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
_ENV_SECTIONS = ("parameters", "parameter_defaults")

# A known secret value is replaced wherever it is a whole value when at least this long, and
# wherever it occurs inside a longer string when at least SUBSTRING_MIN long (shorter ones would
# mangle unrelated text).
EXACT_MIN = 4
SUBSTRING_MIN = 8

_MAX_EMBEDDED_DEPTH = 4
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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


# -- hidden parameters -----------------------------------------------------------------------------


def _truthy(flag: Any) -> bool:
    return flag is True or (isinstance(flag, str) and flag.strip().lower() == "true")


def _param_defs(template: Any) -> Iterator[tuple[str, dict]]:
    if not isinstance(template, Mapping):
        return
    for section in _PARAM_SECTIONS:
        params = template.get(section)
        if isinstance(params, Mapping):
            for name, definition in params.items():
                if isinstance(definition, Mapping):
                    yield _key(name), dict(definition)


def _template_hidden(template: Any) -> set[str]:
    return {
        name
        for name, definition in _param_defs(template)
        if any(_truthy(definition.get(flag)) for flag in _HIDDEN_FLAGS)
    }


def _looks_like_template(text: str) -> bool:
    return any(k in text for k in TEMPLATE_VERSION_KEYS)


def _load_yaml(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 (a safe loader)
    except Exception:  # unparsable (or pathological) content: not a template
        return None


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
        elif isinstance(item, str) and _looks_like_template(item):
            parsed = _load_yaml(item)
            if isinstance(parsed, dict):
                yield parsed
                yield from _embedded(parsed, depth + 1)


@dataclass(frozen=True)
class _Summary:
    """What one template / environment / file tells about hidden parameters (small, cacheable)."""

    hidden: frozenset[str]  # parameters marked hidden
    defaults: tuple[tuple[str, tuple[str, ...]], ...]  # parameter → leaves of its default
    env_values: tuple[tuple[str, tuple[str, ...]], ...]  # key in parameters/parameter_defaults
    # (at any depth) → leaves of its value


_EMPTY = _Summary(frozenset(), (), ())


def _summarise(doc: Any) -> _Summary:
    """Summarise a template/environment dict and the templates written inline in it."""
    if not isinstance(doc, Mapping):
        return _EMPTY
    hidden: set[str] = set()
    defaults: list[tuple[str, tuple[str, ...]]] = []
    env_values: list[tuple[str, tuple[str, ...]]] = []
    for part in [doc, *_embedded(doc)]:
        for name, definition in _param_defs(part):
            if any(_truthy(definition.get(flag)) for flag in _HIDDEN_FLAGS):
                hidden.add(name)
            for k in _DEFAULT_KEYS:
                if k in definition:
                    defaults.append((name, tuple(_leaves(definition[k]))))
        if any(k in part for k in TEMPLATE_VERSION_KEYS):
            continue  # a template: its "parameters" are definitions, not values
        for section in _ENV_SECTIONS:
            env_values.extend(_keyed_leaves(part.get(section)))
    return _Summary(frozenset(hidden), tuple(defaults), tuple(env_values))


_CACHE_SIZE = 2048
_cache: OrderedDict[bytes, _Summary] = OrderedDict()
_cache_lock = threading.Lock()


def _file_summary(content: Any) -> _Summary:
    """Summary of one file (parsed as YAML; unparsable → nothing). Cached by content digest:
    every nested stack of a tree carries the same files."""
    if not isinstance(content, str):
        return _EMPTY
    digest = hashlib.sha256(content.encode("utf-8", "surrogatepass")).digest()
    with _cache_lock:
        hit = _cache.get(digest)
        if hit is not None:
            _cache.move_to_end(digest)
            return hit
    summary = _summarise(_load_yaml(content))
    with _cache_lock:
        _cache[digest] = summary
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return summary


def _summaries(template: Any, environment: Any, files: Mapping[str, str] | None) -> list[_Summary]:
    return [
        _summarise(template),
        _summarise(environment),
        *(_file_summary(c) for c in (files or {}).values()),
    ]


def _hidden_in(summaries: Iterable[_Summary], environment: Any) -> set[str]:
    names: set[str] = set()
    for summary in summaries:
        names |= summary.hidden
    if isinstance(environment, Mapping):
        encrypted = environment.get("encrypted_param_names")
        if isinstance(encrypted, list | tuple):
            names |= {_key(n) for n in encrypted if n is not None}
    return names


def hidden_names(template: dict, environment: dict, files: Mapping[str, str]) -> set[str]:
    """Names of the parameters whose values must never be indexed (see the module docstring)."""
    return _hidden_in(_summaries(template, environment, files), environment)


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


def _keyed_leaves(value: Any) -> Iterator[tuple[str, tuple[str, ...]]]:
    """``(key, leaves of its value)`` for every key at any depth (environment parameter maps)."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield _key(k), tuple(_leaves(v))
            yield from _keyed_leaves(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _keyed_leaves(v)


def _secret_values(summaries: Iterable[_Summary], hidden: set[str]) -> set[str]:
    """The values hidden parameters are known to hold: their defaults and environment values."""
    found: set[str] = set()
    for summary in summaries:
        for name, leaves in (*summary.defaults, *summary.env_values):
            if name in hidden:
                found.update(leaves)
    return {s for s in found if len(s) >= EXACT_MIN and s != MASK}


# -- masking ---------------------------------------------------------------------------------------


def _mask_keys(value: Any, hidden: set[str]) -> Any:
    """Replace the value of every hidden key, at any depth."""
    if isinstance(value, dict):
        return {k: MASK if k in hidden else _mask_keys(v, hidden) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_keys(v, hidden) for v in value]
    return value


def _mask_template(template: dict, hidden: set[str]) -> dict:
    for section in _PARAM_SECTIONS:
        params = template.get(section)
        if not isinstance(params, dict):
            continue
        for name, definition in params.items():
            if not isinstance(definition, dict):
                continue
            if name in hidden or any(_truthy(definition.get(f)) for f in _HIDDEN_FLAGS):
                for k in _DEFAULT_KEYS:
                    if k in definition:
                        definition[k] = MASK
    return template


class _Scrubber:
    def __init__(self, secrets: set[str]):
        self.exact = secrets
        self.inner = sorted((s for s in secrets if len(s) >= SUBSTRING_MIN), key=len, reverse=True)

    def __call__(self, value: Any) -> Any:
        if not self.exact:
            return value
        return self._scrub(value)

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self._scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._scrub(v) for v in value]
        if isinstance(value, str):
            if value in self.exact:
                return MASK
            for secret in self.inner:
                if secret in value:
                    value = value.replace(secret, MASK)
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return MASK if str(value) in self.exact else value
        return value


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


def _resource(item: Mapping) -> dict:
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


# Tree fields a link (an OS::Heat::Stack resource's stack, see heatseeker/links.py) rewrites; Heat's
# own parent stays in ``parent_id`` for nested stacks. None/empty when the stack is not linked.
LINK_STACK = "OS::Heat::Stack"


def build(
    snapshot: Any,
    *,
    project_id: str | None,
    ancestors: Sequence[tuple[str, str]],
    parent_resource: str | None,
    version: int,
    now: dt.datetime | None = None,
) -> dict:
    """The stack document (see the module docstring and heatseeker/query/fields.py).

    ``ancestors``: ``(id, name)`` pairs, root first, without the stack itself.
    """
    show: Mapping = getattr(snapshot, "show", None) or {}
    raw_template = getattr(snapshot, "template", None)
    raw_template = raw_template if isinstance(raw_template, Mapping) else {}
    raw_env = getattr(snapshot, "environment", None)
    raw_env = raw_env if isinstance(raw_env, Mapping) else {}
    files = getattr(snapshot, "files", None)
    files = files if isinstance(files, Mapping) else {}
    raw_resources = getattr(snapshot, "resources", None) or []

    summaries = _summaries(raw_template, raw_env, files)
    hidden = _hidden_in(summaries, raw_env)
    scrub = _Scrubber(_secret_values(summaries, hidden))

    stack_id = _str_or_none(show.get("id"))
    name = _str_or_none(show.get("stack_name"))
    raw_params = show.get("parameters")
    raw_params = raw_params if isinstance(raw_params, Mapping) else {}
    if project_id is None and isinstance(raw_params.get("OS::project_id"), str):
        project_id = raw_params["OS::project_id"]

    status = _str_or_none(show.get("stack_status"))
    action, state = split_status(status) if status else (None, None)

    parameters = {
        name_: MASK if name_ in hidden else value
        for name_, value in _jsonable(raw_params).items()
        if name_ not in PSEUDO_PARAMETERS
    }

    raw_outputs = show.get("outputs")
    outputs = [
        _output(o)
        for o in (raw_outputs if isinstance(raw_outputs, list) else [])
        if isinstance(o, Mapping)
    ]

    resources = sorted(
        (_resource(r) for r in raw_resources if isinstance(r, Mapping)),
        key=lambda r: (r["name"] or "", r["type"] or "", r["physical_resource_id"] or ""),
    )

    template = scrub(_mask_template(_jsonable(raw_template), hidden))

    environment = {
        section: scrub(_mask_keys(_jsonable(raw_env.get(section) or {}), hidden))
        for section in _ENV_SECTIONS
    }
    environment["resource_registry"] = scrub(_jsonable(raw_env.get("resource_registry") or {}))
    registry_types, registry_map = registry_entries(environment["resource_registry"])

    resource_types = sorted(
        set(_template_types(raw_template)) | {r["type"] for r in resources if r["type"]}
    )

    tags = show.get("tags")
    ancestor_ids = [str(a[0]) for a in ancestors]
    created_at = iso(show.get("creation_time"))
    moment = now or dt.datetime.now(dt.UTC)

    return {
        "id": stack_id,
        "name": name,
        "project_id": project_id,
        "status": status,
        "action": action,
        "state": state,
        "status_reason": scrub(_str_or_none(show.get("stack_status_reason"))),
        "created_at": created_at,
        "updated_at": iso(show.get("updated_time")) or created_at,
        "deleted_at": iso(show.get("deletion_time")),
        "description": scrub(_str_or_none(show.get("description"))),
        "tags": [_key(t) for t in tags if t is not None] if isinstance(tags, list) else [],
        "parent_id": _str_or_none(show.get("parent")) or None,
        "root_id": ancestor_ids[0] if ancestor_ids else stack_id,
        "ancestors": ancestor_ids,
        "path": [str(a[1]) for a in ancestors] + [name or ""],
        "depth": len(ancestor_ids),
        "parent_resource": parent_resource,
        # who created the stack (a user name) and Heat's domain project for the stack's users:
        # operator details, admin-only by default in the API ([api] admin_only_fields)
        "stack_owner": _str_or_none(show.get("stack_owner")),
        "stack_user_project_id": _str_or_none(show.get("stack_user_project_id")),
        "parameters": scrub(parameters),
        "outputs": [
            {
                **o,
                "value": scrub(o["value"]),
                "description": scrub(o["description"]),
                "error": scrub(o["error"]),
            }
            for o in outputs
        ],
        "resources": [{**r, "status_reason": scrub(r["status_reason"])} for r in resources],
        "resource_types": resource_types,
        "template": template,
        "template_version": _template_version(raw_template),
        "environment": environment,
        "files": sorted(str(k) for k in files),
        "fingerprint": fingerprint(template),
        "template_fingerprint": template_fingerprint(template),
        "registry_types": registry_types,
        "registry_map": registry_map,
        # set by heatseeker/links.py when an OS::Heat::Stack resource of another stack created this
        # one (Heat keeps no parent for it): the creator's id and the kind of link
        "created_by": None,
        "link": None,
        "indexed_at": iso(moment),
        "version": version,
    }


def with_state(doc: dict, status: str, status_reason: str | None, version: int) -> dict:
    """A copy of ``doc`` with a newer status overlaid (from a notification), at ``version``."""
    new = copy.copy(doc)
    action, state = split_status(status)
    new.update(
        status=status, action=action, state=state, status_reason=status_reason, version=version
    )
    return new
