"""Which places of a stack hold a secret, decided by the templates' structure (never by value).

Pure: no I/O, nothing of heatseeker imported. A taint analysis over one template (HOT or CFN):

* **sources**: the parameters that are secret (marked ``hidden``/``NoEcho``, listed in the
  environment's ``encrypted_param_names``, hidden by name in a nested template, or made secret by the
  parent: ``Inherited``), and the attributes where Heat puts live credentials (``CREDENTIALS``: a
  wait condition handle's token and ``curl_cli``, signed or temporary URLs, a key pair's private
  key, …; ``CREDENTIAL_REFS``: the resource types whose reference id is itself a credential);
* **propagation** through every intrinsic function: ``get_param``/``Ref`` of a secret parameter,
  ``get_attr``/``Fn::GetAtt`` of a credential attribute, of a resource whose properties draw on a
  secret, or of a nested stack's output that is secret (the nested template is analysed with the
  secret properties as its secret parameters, found in the stack's files); any other function
  (``str_replace``, ``list_join``, ``yaql``, ``if``, ``map_merge``, ``repeat``, …) is secret when one
  of its arguments is. A function heatseeker does not know, a parameter or resource named by an
  expression, or a nested template it cannot find is *unknown*: the place is secret, and counted;
* **results** (``Analysis``): the secret outputs; for each nested resource (provider template,
  ``OS::Heat::Stack``, ``AWS::CloudFormation::Stack``, groups) what its nested stack inherits (the
  child's secret parameter names, or, for a group, the secret properties of every member, since
  the template Heat generates for a group carries resolved values); the literal property values
  that feed a hidden parameter of a nested template (a group's generated template); and the
  ``parameter_defaults`` names that are secret for every stack below.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

MASK = "******"

TEMPLATE_VERSION_KEYS = ("heat_template_version", "AWSTemplateFormatVersion",
                         "HeatTemplateFormatVersion")
_PARAM_SECTIONS = ("parameters", "Parameters")
_HIDDEN_FLAGS = ("hidden", "NoEcho")
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MAX_NESTING = 8  # nested templates followed inside one analysis (Heat's default limit is 5)

# (resource type → attributes) where Heat puts live credentials (heat/engine/resources/…)
CREDENTIALS: dict[str, frozenset[str]] = {
    "OS::Heat::WaitConditionHandle": frozenset({"token", "curl_cli", "signal"}),
    "OS::Heat::SwiftSignalHandle": frozenset({"token", "endpoint", "curl_cli"}),
    "OS::Heat::ScalingPolicy": frozenset({"alarm_url"}),  # an EC2-signed URL
    "AWS::AutoScaling::ScalingPolicy": frozenset({"AlarmUrl"}),
    "OS::Heat::HARestarter": frozenset({"AlarmUrl"}),
    "OS::Mistral::Workflow": frozenset({"alarm_url"}),
    "AWS::IAM::AccessKey": frozenset({"SecretAccessKey"}),
    "OS::Nova::KeyPair": frozenset({"private_key"}),
    "OS::Nova::Server": frozenset({"os_collect_config", "console_urls"}),
    "OS::Heat::DeployedServer": frozenset({"os_collect_config"}),
    "OS::Zaqar::SignedQueueURL": frozenset({"signature", "query_str"}),
    "OS::Barbican::Secret": frozenset({"decrypted_payload"}),
    # Heat: "useful for configuring passwords and secrets on services"
    "OS::Heat::RandomString": frozenset({"value"}),
}
# resource types whose reference (get_resource / Ref) is a credential
CREDENTIAL_REFS = frozenset({
    "AWS::CloudFormation::WaitConditionHandle",  # an EC2-signed URL
    "OS::Heat::SwiftSignalHandle",  # a Swift temporary URL
    "AWS::AutoScaling::ScalingPolicy",  # an EC2-signed URL
    "OS::Heat::RandomString",  # the generated value
})
_ALL_ATTRIBUTES = ("show", None)  # get_attr: [r, show] / [r] answer every attribute

# functions that refer to nothing by name: secret when one of their arguments is
_PURE_FUNCTIONS = frozenset({
    "list_join", "str_replace", "str_replace_strict", "str_replace_vstrict", "str_split",
    "repeat", "digest", "map_merge", "map_replace", "yaql", "if", "equals", "not", "and", "or",
    "contains", "filter", "make_url", "list_concat", "list_concat_unique", "get_file",
    "resource_facade", "Fn::Select", "Fn::Join", "Fn::Split", "Fn::Replace", "Fn::Base64",
    "Fn::MemberListToMap", "Fn::ResourceFacade", "Fn::GetAZs", "Fn::FindInMap", "Fn::If",
    "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Fn::Sub", "Condition",
})
_NAMING_FUNCTIONS = frozenset({"get_param", "get_resource", "get_attr", "Ref", "Fn::GetAtt"})
# a one-key mapping with another key is a plain map (Heat parses only the functions it registers),
# except a CFN-looking ``Fn::…`` heatseeker does not know: unknown
_UNKNOWN_FUNCTION = re.compile(r"^Fn::[A-Za-z0-9]+$")

_GROUPS = {  # group type → the property holding the member definition
    "OS::Heat::ResourceGroup": "resource_def",
    "OS::Heat::AutoScalingGroup": "resource",
}
CHAIN = "OS::Heat::ResourceChain"  # members of several types sharing resource_properties
_DEPLOYMENT_GROUPS = frozenset({"OS::Heat::SoftwareDeploymentGroup",
                                "OS::Heat::StructuredDeploymentGroup"})
_GROUP_MEMBER_REFS = frozenset({"refs", "refs_map", "removed_rsrc_list", "current_size"})


@dataclass(frozen=True)
class Inherited:
    """What a stack inherits from its parent (``Analysis.inherited_by``, stored with the parent's
    record as ``Summary``)."""

    params: frozenset[str] = frozenset()  # the stack's own parameters that are secret
    members: frozenset[str] = frozenset()  # a group's stack: secret properties of every member
    defaults: frozenset[str] = frozenset()  # parameter_defaults names that are secret
    everything: bool = False  # the parent is unknown: every value it may have passed is secret

    @classmethod
    def from_summary(cls, summary: Mapping | None, resource: str | None) -> Inherited:
        if not isinstance(summary, Mapping):
            return cls()
        child = (summary.get("children") or {}).get(resource or "") or {}
        return cls(
            params=frozenset(child.get("params") or ()),
            members=frozenset(child.get("members") or ()),
            defaults=frozenset(summary.get("defaults") or ()),
        )


UNKNOWN_PARENT = Inherited(everything=True)
NOTHING = Inherited()


# -- templates ---------------------------------------------------------------------------------


def truthy(flag: Any) -> bool:
    return flag is True or (isinstance(flag, str) and flag.strip().lower() == "true")


def param_defs(template: Any) -> Iterator[tuple[str, dict]]:
    if not isinstance(template, Mapping):
        return
    for section in _PARAM_SECTIONS:
        params = template.get(section)
        if isinstance(params, Mapping):
            for name, definition in params.items():
                if isinstance(definition, Mapping):
                    yield str(name), dict(definition)


def hidden_in(template: Any) -> frozenset[str]:
    """Parameters marked hidden (HOT ``hidden``, CFN ``NoEcho``) in one template."""
    return frozenset(
        name for name, d in param_defs(template) if any(truthy(d.get(f)) for f in _HIDDEN_FLAGS)
    )


def looks_like_template(value: Any) -> bool:
    return isinstance(value, str) and any(k in value for k in TEMPLATE_VERSION_KEYS)


def load_yaml(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 (a safe loader)
    except Exception:  # unparsable (or pathological) content: not a template
        return None


_CACHE_SIZE = 2048
_parsed: OrderedDict[bytes, Any] = OrderedDict()
_lock = threading.Lock()


def parse_file(content: Any) -> Any:
    """A file's content parsed as YAML (JSON is YAML), cached by digest: every nested stack of a
    tree carries the same files. Treat the answer as read-only."""
    if not isinstance(content, str):
        return None
    digest = hashlib.sha256(content.encode("utf-8", "surrogatepass")).digest()
    with _lock:
        if digest in _parsed:
            _parsed.move_to_end(digest)
            return _parsed[digest]
    value = load_yaml(content)
    with _lock:
        _parsed[digest] = value
        while len(_parsed) > _CACHE_SIZE:
            _parsed.popitem(last=False)
    return value


def _section(template: Mapping, *names: str) -> dict:
    for name in names:
        value = template.get(name)
        if isinstance(value, Mapping):
            return dict(value)
    return {}


def resources_of(template: Any) -> dict[str, Any]:
    if not isinstance(template, Mapping):
        return {}
    return {str(k): v for k, v in _section(template, "resources", "Resources").items()
            if isinstance(v, Mapping)}


def rtype(definition: Mapping) -> Any:
    return definition.get("type", definition.get("Type"))


def properties(definition: Mapping) -> dict:
    props = definition.get("properties", definition.get("Properties"))
    return dict(props) if isinstance(props, Mapping) else {}


def is_function(value: Any) -> bool:
    """A one-key mapping whose key is (or looks like) an intrinsic function."""
    if not isinstance(value, Mapping) or len(value) != 1:
        return False
    key = next(iter(value))
    return isinstance(key, str) and (key in _PURE_FUNCTIONS or key in _NAMING_FUNCTIONS)


def is_literal(value: Any) -> bool:
    """A value with no intrinsic function anywhere in it."""
    if isinstance(value, Mapping):
        return not is_function(value) and all(is_literal(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(is_literal(v) for v in value)
    return True


# -- the context: what resolves a resource type to a nested template ----------------------------


@dataclass
class Context:
    """The environment and files one stack's templates are read with."""

    files: Mapping[str, Any] = field(default_factory=dict)
    registry: Mapping[str, Any] = field(default_factory=dict)
    parse: Callable[[Any], Any] = parse_file

    def template(self, name: str) -> Any:
        content = self.files.get(name)
        if content is None:
            return None
        return content if isinstance(content, Mapping) else self.parse(content)

    def resolve(self, resource_type: Any, resource_name: str) -> tuple[str, Any]:
        """``("builtin", type)``, ``("template", parsed template)`` or ``("unknown", None)``."""
        if not isinstance(resource_type, str):
            return "unknown", None
        current = resource_type
        per_resource = self.registry.get("resources")
        if isinstance(per_resource, Mapping):
            mine = per_resource.get(resource_name)
            if isinstance(mine, Mapping) and isinstance(mine.get(current), str):
                current = mine[current]
        for _ in range(8):
            if current in self.files:
                found = self.template(current)
                return ("template", found) if isinstance(found, Mapping) else ("unknown", None)
            mapped = self.registry.get(current)
            if isinstance(mapped, str) and mapped != current:
                current = mapped
                continue
            if current.startswith(("OS::", "AWS::")) and not current.endswith(
                (".yaml", ".yml", ".template", ".json")
            ):
                return "builtin", current
            return "unknown", None
        return "unknown", None


# -- the analysis ----------------------------------------------------------------------------------


@dataclass
class Analysis:
    secret_params: frozenset[str]
    outputs: frozenset[str] = frozenset()  # secret outputs
    children: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)
    # resource → property names whose literal value must be masked in this template
    literals: dict[str, frozenset[str]] = field(default_factory=dict)
    unknown: int = 0  # places secret only because the structure could not be followed

    def inherited_by(self, resource: str, defaults: frozenset[str]) -> Inherited:
        child = self.children.get(resource) or {}
        return Inherited(params=child.get("params", frozenset()),
                         members=child.get("members", frozenset()), defaults=defaults)


class _Analyser:
    def __init__(self, template: Mapping, secret: frozenset[str], members: frozenset[str],
                 ctx: Context, depth: int):
        self.template = template
        self.secret = secret
        self.members = members
        self.all_members = "*" in members  # the parent is unknown: every property
        self.ctx = ctx
        self.depth = depth
        self.params = {name for name, _ in param_defs(template)}
        self.resources = resources_of(template)
        self.tainted_props: dict[str, set[str]] = {}
        self.unknowns: set[int] = set()
        self._node: Any = None
        self._nested: dict[tuple, Analysis | None] = {}

    def _member(self, prop: str) -> bool:
        return self.all_members or prop in self.members

    # expressions ---------------------------------------------------------------------------

    def taint(self, expr: Any) -> bool:
        if isinstance(expr, Mapping):
            if len(expr) == 1:
                key, arg = next(iter(expr.items()))
                if key in _PURE_FUNCTIONS or key in _NAMING_FUNCTIONS:
                    self._node = expr
                    return self._function(key, arg)
                if isinstance(key, str) and _UNKNOWN_FUNCTION.match(key):
                    self._node = expr
                    return self._unknown()
            return any(self.taint(v) for v in expr.values())
        if isinstance(expr, list | tuple):
            return any(self.taint(v) for v in expr)
        return False

    def _unknown(self) -> bool:
        """The structure cannot be followed here: secret, and counted (once per place)."""
        self.unknowns.add(id(self._node))
        return True

    def _function(self, name: str, arg: Any) -> bool:
        if name == "get_param":
            target = arg[0] if isinstance(arg, list) and arg else arg
            rest = arg[1:] if isinstance(arg, list) else []
            if not isinstance(target, str):
                return self._unknown() if self.secret else self.taint(arg)
            return target in self.secret or any(self.taint(v) for v in rest)
        if name == "Ref":
            if not isinstance(arg, str):
                return self._unknown() if self.secret else self.taint(arg)
            if arg in self.resources:
                return self._ref(arg)
            return arg in self.secret
        if name == "get_resource":
            if not isinstance(arg, str):
                return self._unknown()
            return self._ref(arg)
        if name in ("get_attr", "Fn::GetAtt"):
            if not isinstance(arg, list) or not arg or not isinstance(arg[0], str):
                return self._unknown()
            path = list(arg[1:])
            if name == "Fn::GetAtt" and len(path) == 1 and isinstance(path[0], str):
                path = path[0].split(".")
            if any(not isinstance(p, str | int) for p in path):
                node = self._node
                if any(self.taint(p) for p in path):
                    return True
                self._node = node
                return self._unknown()
            return self._attribute(arg[0], [str(p) for p in path])
        if name in _PURE_FUNCTIONS:
            return self.taint(arg)
        return self._unknown()  # a function heatseeker does not know

    def _ref(self, resource: str) -> bool:
        definition = self.resources.get(resource)
        if definition is None:
            return False
        kind, found = self.ctx.resolve(rtype(definition), resource)
        return kind == "builtin" and found in CREDENTIAL_REFS

    def _attribute(self, resource: str, path: list[str]) -> bool:
        definition = self.resources.get(resource)
        if definition is None:
            return False  # Heat refuses such a template
        kind, found = self.ctx.resolve(rtype(definition), resource)
        attr = path[0] if path else None
        if kind == "unknown":
            return self._unknown()
        if kind == "template":
            nested = self._nested_analysis(resource, found, self._child_secret(resource, found))
            if nested is None:
                return self._unknown()
            return _output_taint(nested, attr, path[1:])
        assert isinstance(found, str)
        if self.tainted_props.get(resource) and found not in ("OS::Heat::Stack", CHAIN, *_GROUPS):
            return True  # a resource whose properties draw on a secret
        if found in CREDENTIALS and (attr in _ALL_ATTRIBUTES or attr in CREDENTIALS[found]):
            return True
        if found == "OS::Heat::Stack":
            inline = self._inline(resource)
            if inline is None:
                return self._unknown()
            nested = self._nested_analysis(resource, inline, self._child_secret(resource, inline))
            if nested is None:
                return self._unknown()
            if attr == "outputs":
                return _output_taint(nested, path[1] if len(path) > 1 else None, [])
            return attr in _ALL_ATTRIBUTES and bool(nested.outputs)
        if found in _GROUPS or found in _DEPLOYMENT_GROUPS or found == CHAIN:
            return self._group_attribute(resource, found, path)
        return False

    def _members(self, resource: str, group: str) -> list[dict] | None:
        """The member definitions ``{type, properties}`` of a group (a chain has several)."""
        props = properties(self.resources[resource])
        if group == CHAIN:
            types = props.get("resources")
            shared = props.get("resource_properties")
            if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
                return None
            return [{"type": t, "properties": shared if isinstance(shared, Mapping) else {}}
                    for t in types]
        member = props.get(_GROUPS[group])
        return [dict(member)] if isinstance(member, Mapping) else None

    def _group_attribute(self, resource: str, group: str, path: list[str]) -> bool:
        if group in _DEPLOYMENT_GROUPS:
            return False  # deploy_stdouts etc.: not credentials (secret inputs taint the props)
        members = self._members(resource, group)
        if members is None:
            return self._unknown()
        attr: str | None = path[0] if path else None
        rest = path[1:]
        ref_only = attr in _GROUP_MEMBER_REFS
        if attr == "attributes" or attr in ("outputs", "outputs_list"):
            attr, rest = (rest[0], rest[1:]) if rest else (None, [])
        elif attr and attr.startswith("resource."):
            parts = attr.split(".", 2)
            if len(parts) == 3:
                attr = parts[2]
            else:
                attr, rest = (rest[0], rest[1:]) if rest else (None, [])
                ref_only = attr is None  # the member's reference
        node = self._node
        for member in members:
            self._node = node
            kind, found = self.ctx.resolve(rtype(member), resource)
            if ref_only:
                if kind == "builtin" and found in CREDENTIAL_REFS:
                    return True
                continue
            if kind == "unknown":
                return self._unknown()
            if kind == "builtin":
                if found in CREDENTIALS and (attr in _ALL_ATTRIBUTES or attr in CREDENTIALS[found]):
                    return True
                continue
            tainted = {p for p, v in properties(member).items() if self.taint(v)}
            nested = self._nested_analysis(resource, found, frozenset(tainted) | hidden_in(found))
            if nested is None:
                self._node = node
                return self._unknown()
            if _output_taint(nested, attr, rest):
                return True
        return False

    # nested templates ------------------------------------------------------------------------

    def _inline(self, resource: str) -> Mapping | None:
        tpl = properties(self.resources[resource]).get("template")
        if isinstance(tpl, Mapping) and list(tpl) == ["get_file"]:
            found = self.ctx.template(tpl["get_file"]) if isinstance(tpl["get_file"], str) else None
            return found if isinstance(found, Mapping) else None
        if isinstance(tpl, Mapping):
            return tpl
        parsed = load_yaml(tpl) if looks_like_template(tpl) else None
        return parsed if isinstance(parsed, Mapping) else None

    def _passed(self, resource: str) -> dict:
        """The values a nested resource passes to its stack's parameters."""
        definition = self.resources[resource]
        kind, found = self.ctx.resolve(rtype(definition), resource)
        props = properties(definition)
        if kind == "builtin" and found == "OS::Heat::Stack":
            passed = props.get("parameters")
        elif kind == "builtin" and found == "AWS::CloudFormation::Stack":
            passed = props.get("Parameters")
        else:
            passed = props
        return dict(passed) if isinstance(passed, Mapping) else {}

    def _child_secret(self, resource: str, child: Mapping) -> frozenset[str]:
        passed = self._passed(resource)
        tainted = {p for p, v in passed.items() if self.taint(v)}
        tainted |= {p for p in passed if self._member(p)}
        return frozenset(tainted) | hidden_in(child)

    def _nested_analysis(self, resource: str, child: Mapping, secret: frozenset[str]
                         ) -> Analysis | None:
        if self.depth >= _MAX_NESTING:
            return None
        key = (resource, secret)
        if key not in self._nested:
            self._nested[key] = analyse(child, secret, ctx=self.ctx, depth=self.depth + 1)
        return self._nested[key]

    # the whole template ----------------------------------------------------------------------

    def run(self) -> Analysis:
        self._taint_properties()
        outputs = self._secret_outputs()
        children: dict[str, dict[str, frozenset[str]]] = {}
        literals: dict[str, frozenset[str]] = {}
        for name, definition in self.resources.items():
            child, literal = self._inherits(name, definition)
            if child is not None and any(child.values()):
                children[name] = child
            if literal is not None:
                literals[name] = literal
        return Analysis(secret_params=self.secret, outputs=outputs,
                        children=children, literals=literals, unknown=len(self.unknowns))

    def _taint_properties(self) -> None:
        """Each resource's tainted properties: a fixpoint (get_attr of one resource inside
        another)."""
        for _ in range(len(self.resources) + 1):
            changed = False
            for name, definition in self.resources.items():
                props = properties(definition)
                found = {p for p, v in props.items() if self._member(p) or self.taint(v)}
                if found != self.tainted_props.get(name, set()):
                    self.tainted_props[name] = found
                    changed = True
            if not changed:
                break

    def _secret_outputs(self) -> frozenset[str]:
        outputs = set()
        for name, definition in _section(self.template, "outputs", "Outputs").items():
            if isinstance(definition, Mapping):
                value = definition.get("value", definition.get("Value"))
                if self.taint(value):
                    outputs.add(str(name))
        return frozenset(outputs)

    def _inherits(self, name: str, definition: Any
                ) -> tuple[dict[str, frozenset[str]] | None, frozenset[str] | None]:
        """What the stack a resource nests inherits (``{"params"|"members": names}``), and the
        properties it passes a secret to as a literal value (None: nothing to say)."""
        kind, found = self.ctx.resolve(rtype(definition), name)
        props = properties(definition)
        tainted = frozenset(self.tainted_props.get(name, ()))
        if kind == "template":
            return self._provider(found, props, tainted)
        if kind == "builtin":
            nests, child = self._builtin_child(name, found, props, tainted)
            if nests:
                return child, None
        if self.members and tainted:
            # a member of a group's generated template: its secret (resolved) properties
            return None, frozenset(p for p in tainted if self._member(p))
        return None, None

    def _provider(self, found: Any, props: Mapping, tainted: frozenset[str]
                  ) -> tuple[dict[str, frozenset[str]], frozenset[str] | None]:
        hidden_child = hidden_in(found)
        literal = frozenset(p for p, v in props.items()
                            if (p in hidden_child or self._member(p)) and is_literal(v))
        return {"params": frozenset(p for p in props if p in tainted)}, (literal or None)

    def _builtin_child(self, name: str, found: Any, props: Mapping, tainted: frozenset[str]
                       ) -> tuple[bool, dict[str, frozenset[str]] | None]:
        """``(True, what its stack inherits)`` for a built-in type that nests stacks."""
        if found in ("OS::Heat::Stack", "AWS::CloudFormation::Stack"):
            passed = self._passed(name)
            return True, {"params": frozenset(p for p, v in passed.items() if self.taint(v))}
        if found in _GROUPS:
            member = props.get(_GROUPS[found])
            return True, {"members": self._tainted_keys(properties(member)
                                                        if isinstance(member, Mapping) else {})}
        if found == CHAIN:
            shared = props.get("resource_properties")
            return True, {"members": self._tainted_keys(shared if isinstance(shared, Mapping)
                                                        else {})}
        if found in _DEPLOYMENT_GROUPS:
            return True, {"members": tainted - {"servers"}}
        if found == "AWS::AutoScaling::AutoScalingGroup":
            return True, self._launch_configuration(props)
        return False, None

    def _tainted_keys(self, values: Mapping) -> frozenset[str]:
        return frozenset(p for p, v in values.items() if self.taint(v))

    def _launch_configuration(self, props: Mapping) -> dict[str, frozenset[str]] | None:
        lc = props.get("LaunchConfigurationName")
        lc_name = lc.get("Ref") if isinstance(lc, Mapping) else None
        if isinstance(lc_name, str):
            return {"members": frozenset(self.tainted_props.get(lc_name, ()))}
        if lc is None:
            return None
        self._node = lc
        self._unknown()
        return {"members": frozenset({"*"})}

def _output_taint(nested: Analysis, attr: str | None, rest: list[str]) -> bool:
    if attr in _ALL_ATTRIBUTES:
        return bool(nested.outputs)
    if attr == "outputs":  # OS::Heat::Stack-like: [r, outputs, name]
        return _output_taint(nested, rest[0] if rest else None, rest[1:])
    return attr in nested.outputs


def analyse(template: Any, secret: Iterable[str], *, members: Iterable[str] = (),
            ctx: Context | None = None, depth: int = 0) -> Analysis:
    """The analysis of one template whose ``secret`` parameters are secret (see the module
    docstring). ``members``: for a group's generated template, the properties every member holds
    a secret in."""
    secret = frozenset(secret)
    if not isinstance(template, Mapping):
        return Analysis(secret_params=secret)
    return _Analyser(template, secret, frozenset(members), ctx or Context(), depth).run()


# -- the summary a stack's record keeps for its children ------------------------------------------


def summary(analysis: Analysis, defaults: Iterable[str], unknown: int = 0) -> dict:
    """JSON-serialisable: what each nested resource's stack inherits (names only, never values)."""
    return {
        "children": {
            name: {k: sorted(v) for k, v in child.items() if v}
            for name, child in sorted(analysis.children.items())
        },
        "defaults": sorted(set(defaults)),
        "unknown": unknown,
    }
