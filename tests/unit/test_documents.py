"""heatseeker/documents.py: Heat's answers for one stack → the document."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heatseeker import documents
from heatseeker.documents import MASK, build, hidden_names, split_status, with_state
from heatseeker.query.fields import FIELDS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "heat-27.0.1"
TEMPLATES = FIXTURES / "templates"
FILE_PREFIX = "file:///srv/heat/templates/"

DOC_KEYS = {
    "id", "name", "project_id", "region", "status", "action", "state", "status_reason",
    "created_at", "updated_at", "deleted_at", "description", "tags",
    "parent_id", "root_id", "ancestors", "path", "depth", "parent_resource", "stack_owner",
    "stack_user_project_id",
    "parameters", "outputs", "resources", "resource_types", "template", "template_version",
    "environment", "files", "fingerprint", "indexed_at", "version",
    "template_fingerprint", "registry_types", "registry_map", "created_by", "link",
}  # fmt: skip

NOW = dt.datetime(2026, 11, 25, 8, 0, 0, tzinfo=dt.UTC)


@dataclass
class Snap:
    show: dict
    template: dict = field(default_factory=dict)
    environment: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    resources: list = field(default_factory=list)
    read_at: int = 1_795_000_000_000_000


def _json(name: str):
    return json.loads((FIXTURES / "api" / name).read_text())


def _files() -> dict[str, str]:
    return {
        FILE_PREFIX + name: (TEMPLATES / name).read_text()
        for name in ("child.yaml", "env.yaml", "group_member.yaml")
    }


def _top_level(resources: list[dict]) -> list[dict]:
    # resources_nested3 was read with nested_depth=3; a snapshot holds nested_depth=0 items
    return [r for r in resources if "parent_resource" not in r]


def lab1_snapshot() -> Snap:
    return Snap(
        show=_json("show.json")["stack"],
        template=_json("template.json"),
        environment=_json("environment.json"),
        files=_files(),
        resources=_top_level(_json("resources_nested3.json")["resources"]),
    )


def _build(snap, **kw) -> dict:
    kw.setdefault("project_id", None)
    kw.setdefault("ancestors", [])
    kw.setdefault("parent_resource", None)
    kw.setdefault("version", 42)
    kw.setdefault("now", NOW)
    return build(snap, **kw)


def _dumps(doc: dict) -> str:
    return json.dumps(doc, ensure_ascii=False, allow_nan=False)


# -- from the real fixtures ---------------------------------------------------------------------


def test_lab1_document_from_fixtures():
    snap = lab1_snapshot()
    doc = _build(snap)
    assert set(doc) == DOC_KEYS
    assert doc["id"] == "bd43fa04-1c84-4d0d-9b98-f5ddc36ddc6f"
    assert doc["name"] == "lab1"
    assert doc["project_id"] == "admin"  # from OS::project_id when not given
    assert (doc["stack_owner"], doc["stack_user_project_id"]) == ("admin", "admin")
    assert (doc["status"], doc["action"], doc["state"]) == ("UPDATE_COMPLETE", "UPDATE", "COMPLETE")
    assert doc["status_reason"] == "Stack UPDATE completed successfully"
    assert doc["created_at"] == "2026-11-25T07:31:45Z"
    assert doc["updated_at"] == "2026-11-25T07:35:42Z"
    assert doc["deleted_at"] is None
    assert doc["description"] == "heatlab top-level stack (no other OpenStack service needed)"
    assert doc["tags"] == []
    assert doc["parent_id"] is None
    assert doc["root_id"] == doc["id"]
    assert doc["ancestors"] == []
    assert doc["path"] == ["lab1"]
    assert doc["depth"] == 0
    assert doc["parent_resource"] is None
    assert doc["parameters"] == {"count": "2", "greeting": "updated"}
    assert [o["key"] for o in doc["outputs"]] == [
        "value",
        "provider_secret",
        "group_secrets",
        "test_output",
    ]
    # OS::Heat::RandomString values are credentials (secrets.CREDENTIALS), followed through the
    # group's member template and the provider template it nests (three levels of get_attr)
    assert doc["outputs"][2] == {
        "key": "group_secrets",
        "value": MASK,
        "description": "No description given",
        "error": None,
    }
    by_key = {o["key"]: o["value"] for o in doc["outputs"]}
    assert by_key["value"] == by_key["provider_secret"] == MASK
    assert by_key["test_output"] != MASK  # the TestResource echoes a plain parameter
    names = [r["name"] for r in doc["resources"]]
    assert names == sorted(names) == ["group", "nothing", "provider", "rand", "test", "val"]
    by_name = {r["name"]: r for r in doc["resources"]}
    assert by_name["provider"] == {
        "name": "provider",
        "type": "My::Child",
        "status": "UPDATE_COMPLETE",
        "status_reason": "state changed",
        "physical_resource_id": "903908f0-f47e-4016-9e94-02b4842d186e",
        "nested_stack_id": "903908f0-f47e-4016-9e94-02b4842d186e",
    }
    assert by_name["group"]["nested_stack_id"] == "876fe932-010a-486e-b87c-8003efa7b07c"
    assert by_name["rand"]["nested_stack_id"] is None
    assert doc["resource_types"] == [
        "My::Child",
        "OS::Heat::None",
        "OS::Heat::RandomString",
        "OS::Heat::ResourceGroup",
        "OS::Heat::TestResource",
        "OS::Heat::Value",
    ]
    assert doc["template"] == snap.template  # nothing hidden here: kept as is
    assert doc["template_version"] == "2021-04-16"
    assert doc["environment"] == {
        "parameters": {"greeting": "updated", "count": 2},
        "parameter_defaults": {},
        "resource_registry": snap.environment["resource_registry"],
    }
    assert doc["files"] == sorted(snap.files)
    canonical = json.dumps(snap.template, sort_keys=True, separators=(",", ":"))
    assert doc["fingerprint"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert doc["indexed_at"] == "2026-11-25T08:00:00Z"
    assert doc["version"] == 42
    _dumps(doc)
    # every typed field of the query catalogue is in the document
    assert set(FIELDS) <= set(doc)


def test_heatclient_capture_document():
    cap = _json("heatclient_lab1.json")
    snap = Snap(
        show=cap["show"],
        template=cap["template"],
        environment=cap["environment"],
        files={k: (TEMPLATES / k.rsplit("/", 1)[-1]).read_text() for k in cap["files_keys"]},
        resources=_top_level(cap["resources_nested_depth_3"]),
    )
    doc = _build(snap, project_id="owner-project")
    assert doc["project_id"] == "owner-project"  # the argument wins over OS::project_id
    assert doc["updated_at"] == doc["created_at"] == "2026-11-25T07:29:15Z"  # never updated
    assert [o["key"] for o in doc["outputs"]] == [
        "group_secrets",
        "value",
        "provider_secret",
        "test_output",
    ]
    assert doc["parameters"] == {"count": "2", "greeting": "hi-from-env"}
    assert doc["files"] == cap["files_keys"]
    assert {r["name"] for r in doc["resources"]} == {
        "val",
        "rand",
        "nothing",
        "test",
        "provider",
        "group",
    }
    _dumps(doc)


def test_nested_stack_document_from_listing():
    listing = {s["id"]: s for s in _json("list_global_nested.json")["stacks"]}
    leaf = listing["745fd4e5-caa9-4851-83f2-f6ee8a10ae8f"]
    chain = []
    cursor = leaf["parent"]
    while cursor:
        chain.insert(0, (cursor, listing[cursor]["stack_name"]))
        cursor = listing[cursor]["parent"]
    show = dict(leaf, parameters={"OS::project_id": "admin", "length": "12", "label": "member1"})
    doc = _build(Snap(show=show), ancestors=chain, parent_resource="child")
    assert doc["parent_id"] == "8b39385b-c47c-4f94-93c3-95d3a6bfe9c5"
    assert doc["root_id"] == "bd43fa04-1c84-4d0d-9b98-f5ddc36ddc6f"
    assert doc["ancestors"] == [
        "bd43fa04-1c84-4d0d-9b98-f5ddc36ddc6f",
        "876fe932-010a-486e-b87c-8003efa7b07c",
        "8b39385b-c47c-4f94-93c3-95d3a6bfe9c5",
    ]
    assert doc["path"] == [
        "lab1",
        "lab1-group-lzbym3dsaojd",
        "lab1-group-lzbym3dsaojd-1-na44waidvq3i",
        "lab1-group-lzbym3dsaojd-1-na44waidvq3i-child-oxaxxoiyyuos",
    ]
    assert doc["depth"] == 3
    assert doc["parent_resource"] == "child"
    assert doc["tags"] == []  # listing says tags: null
    # an empty snapshot part gives empty (not missing) values
    assert doc["template"] == {} and doc["template_version"] is None
    assert doc["environment"] == {
        "parameters": {},
        "parameter_defaults": {},
        "resource_registry": {},
    }
    assert doc["resources"] == [] and doc["outputs"] == [] and doc["files"] == []
    _dumps(doc)


def test_build_does_not_mutate_the_snapshot():
    snap = lab1_snapshot()
    snap.template["parameters"]["greeting"]["hidden"] = True
    before = copy.deepcopy(snap)
    _build(snap)
    assert snap == before


# -- status, times ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, expected",
    [
        ("UPDATE_IN_PROGRESS", ("UPDATE", "IN_PROGRESS")),
        ("CREATE_COMPLETE", ("CREATE", "COMPLETE")),
        ("ROLLBACK_FAILED", ("ROLLBACK", "FAILED")),
        ("INIT_COMPLETE", ("INIT", "COMPLETE")),
        ("WEIRD", ("WEIRD", "")),
        ("", ("", "")),
    ],
)
def test_split_status(status, expected):
    assert split_status(status) == expected


def test_with_state_overlays_a_copy():
    doc = _build(lab1_snapshot())
    new = with_state(doc, "DELETE_IN_PROGRESS", "Stack DELETE started", 99)
    assert (new["status"], new["action"], new["state"]) == (
        "DELETE_IN_PROGRESS",
        "DELETE",
        "IN_PROGRESS",
    )
    assert new["status_reason"] == "Stack DELETE started"
    assert new["version"] == 99
    assert doc["status"] == "UPDATE_COMPLETE" and doc["version"] == 42  # original untouched
    assert {
        k: v
        for k, v in new.items()
        if k not in {"status", "action", "state", "status_reason", "version"}
    } == {
        k: v
        for k, v in doc.items()
        if k not in {"status", "action", "state", "status_reason", "version"}
    }


def test_times_are_normalised_to_utc_seconds():
    show = {
        "id": "s",
        "stack_name": "n",
        "creation_time": "2026-11-25T08:31:45.123456+01:00",
        "updated_time": None,
        "deletion_time": "2026-11-25 09:00:00",
    }
    doc = _build(Snap(show=show), now=dt.datetime(2026, 1, 2, 3, 4, 5))  # naive now = UTC
    assert doc["created_at"] == "2026-11-25T07:31:45Z"
    assert doc["updated_at"] == "2026-11-25T07:31:45Z"
    assert doc["deleted_at"] == "2026-11-25T09:00:00Z"
    assert doc["indexed_at"] == "2026-01-02T03:04:05Z"
    bad = _build(Snap(show={"id": "s", "stack_name": "n", "creation_time": "yesterday"}))
    assert bad["created_at"] is None and bad["updated_at"] is None


def test_iso_is_public_for_comparisons():
    assert documents.iso("2026-11-25T07:29:15Z") == "2026-11-25T07:29:15Z"
    assert documents.iso(None) is None


def test_an_output_the_template_does_not_declare_is_masked():
    """A show and a template read around an update's start: the show resolves an output of the
    new template (here from a hidden parameter) that the older template read does not declare.
    Nothing says what it draws on, so it is masked, and its value is scrubbed elsewhere."""
    show = {"id": "s", "stack_name": "n", "stack_status_reason": "conn S3CRET-value refused",
            "outputs": [{"output_key": "conn", "output_value": "S3CRET-value"},
                        {"output_key": "plain", "output_value": "ok"}]}
    for template in ({"outputs": {"plain": {"value": "ok"}}}, {}):
        doc = _build(Snap(show=show, template=template))
        outputs = {o["key"]: o["value"] for o in doc["outputs"]}
        assert outputs["conn"] == "******" and "S3CRET" not in json.dumps(doc)
        assert outputs["plain"] == ("ok" if template else "******")
    # CloudFormation's section name counts too
    doc = _build(Snap(show=show, template={"Outputs": {"conn": {"Value": "x"}, "plain": {}}}))
    assert {o["key"]: o["value"] for o in doc["outputs"]} == {"conn": "S3CRET-value", "plain": "ok"}


def test_output_error_and_non_string_outputs():
    show = {
        "id": "s",
        "stack_name": "n",
        "outputs": [
            {
                "output_key": "broken",
                "output_value": None,
                "description": "d",
                "output_error": "Attribute x not found",
            },
            {"output_key": "a.b.c", "output_value": {"nested": {"deep": [1, 2.5, None, True]}}},
            {"output_key": "ключ", "output_value": 3},
        ],
    }
    declared = {"outputs": {"broken": {"value": 1}, "a.b.c": {"value": 2}, "ключ": {"value": 3}}}
    doc = _build(Snap(show=show, template=declared))
    assert doc["outputs"] == [
        {"key": "broken", "value": None, "description": "d", "error": "Attribute x not found"},
        {
            "key": "a.b.c",
            "value": {"nested": {"deep": [1, 2.5, None, True]}},
            "description": None,
            "error": None,
        },
        {"key": "ключ", "value": 3, "description": None, "error": None},
    ]


def test_arbitrary_user_keys_and_values():
    long_value = "x" * 100_000
    show = {
        "id": "s",
        "stack_name": "n",
        "tags": ["a", "b.c", "日本"],
        "parameters": {
            "OS::stack_id": "s",
            "OS::stack_name": "n",
            "OS::project_id": "p",
            "dotted.name.here": "v",
            "ünïcødé": "välue",
            "long": long_value,
            "number": 3,
            "list": ["a", 1, None],
            "dict": {"k.1": {"k2": [1, {"x": None}]}},
            "null": None,
        },
    }
    # what a YAML parse may produce: dates, non-string keys, NaN, sets, bytes
    template = {
        "heat_template_version": dt.date(2018, 8, 31),
        "parameters": {"p": {"type": "string", "default": dt.datetime(2020, 1, 2, 3, 4, 5)}},
        "resources": {
            "r": {
                "type": "OS::Heat::None",
                "properties": {1: "int key", None: "null key", "f": float("nan")},
            },
            "s": {
                "type": "OS::Heat::None",
                "metadata": {"when": dt.date(2024, 2, 29), "raw": b"bytes"},
            },
        },
    }
    doc = _build(Snap(show=show, template=template))
    params = doc["parameters"]
    assert set(params) == {"dotted.name.here", "ünïcødé", "long", "number", "list", "dict", "null"}
    assert params["long"] == long_value
    assert params["number"] == 3 and params["list"] == ["a", 1, None] and params["null"] is None
    assert params["dict"] == {"k.1": {"k2": [1, {"x": None}]}}
    assert doc["tags"] == ["a", "b.c", "日本"]
    assert doc["template_version"] == "2018-08-31"
    tpl = doc["template"]
    assert tpl["heat_template_version"] == "2018-08-31"
    assert tpl["parameters"]["p"]["default"] == "2020-01-02T03:04:05"
    assert tpl["resources"]["r"]["properties"] == {"1": "int key", "null": "null key", "f": "nan"}
    assert tpl["resources"]["s"]["metadata"] == {"when": "2024-02-29", "raw": "bytes"}
    assert doc["resource_types"] == ["OS::Heat::None"]
    text = _dumps(doc)
    assert json.loads(text) == doc


@pytest.mark.parametrize(
    "template, expected",
    [
        ({"heat_template_version": "2021-04-16"}, "2021-04-16"),
        ({"heat_template_version": "wallaby"}, "wallaby"),
        ({"heat_template_version": dt.date(2013, 5, 23)}, "2013-05-23"),
        ({"AWSTemplateFormatVersion": "2010-09-09"}, "2010-09-09"),
        ({"HeatTemplateFormatVersion": "2012-12-12"}, "2012-12-12"),
        ({}, None),
    ],
)
def test_template_version(template, expected):
    assert (
        _build(Snap(show={"id": "s", "stack_name": "n"}, template=template))["template_version"]
        == expected
    )


def test_resources_types_union_and_cfn():
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {"a": {"Type": "AWS::EC2::Instance"}, "b": {"Type": "OS::Heat::None"}},
    }
    resources = [
        {"resource_name": "z", "resource_type": "OS::Nova::Server", "links": []},
        {
            "resource_name": "b",
            "resource_type": "OS::Heat::None",
            "links": [{"rel": "nested", "href": "http://h/v1/p/stacks/x/abc/"}],
        },
    ]
    doc = _build(Snap(show={"id": "s", "stack_name": "n"}, template=template, resources=resources))
    assert doc["resource_types"] == ["AWS::EC2::Instance", "OS::Heat::None", "OS::Nova::Server"]
    assert [r["name"] for r in doc["resources"]] == ["b", "z"]
    assert doc["resources"][0]["nested_stack_id"] == "abc"
    assert doc["resources"][1]["physical_resource_id"] is None


# -- secrets ----------------------------------------------------------------------------------

SECRET = "s3cr3t-Planted-Value-7731"

HIDDEN_CHILD = f"""
heat_template_version: 2021-04-16
parameters:
  db_password:
    type: string
    hidden: true
    default: {SECRET}-child-default
  plain: {{type: string, default: visible}}
resources:
  n: {{type: OS::Heat::None}}
"""


def _secret_snapshot() -> Snap:
    show = {
        "id": "s1",
        "stack_name": "secretive",
        "parameters": {
            "OS::project_id": "p",
            "admin_pass": "******",  # what Heat shows for a hidden parameter
            "db_password": SECRET + "-param",  # not hidden at this level: Heat shows it
            "api_key": SECRET + "-encrypted",
            "plain": "visible",
        },
        "outputs": [
            {"output_key": "echo", "output_value": f"{SECRET}-top-default", "description": None}
        ],
    }
    template = {
        "heat_template_version": "2021-04-16",
        "parameters": {
            "admin_pass": {"type": "string", "hidden": True, "default": SECRET + "-top-default"},
            "db_password": {"type": "string", "default": SECRET + "-parent-default"},
            "plain": {"type": "string", "default": "visible"},
        },
        "resources": {
            "child": {
                "type": "My::Child",
                "properties": {"db_password": {"get_param": "db_password"}},
            },
            "inline": {
                "type": "OS::Heat::Stack",
                "properties": {
                    "template": "heat_template_version: 2021-04-16\n"
                    "parameters:\n  token: {type: string, hidden: true, default: "
                    f"{SECRET}-inline}}\n"
                },
            },
        },
        "outputs": {"echo": {"value": {"get_param": "admin_pass"}}},
    }
    environment = {
        "parameters": {"admin_pass": SECRET + "-env", "plain": "visible"},
        "parameter_defaults": {
            "db_password": SECRET + "-defaults",
            "RoleParameters": {"db_password": SECRET + "-role"},
        },
        "resource_registry": {"My::Child": FILE_PREFIX + "child.yaml"},
        "event_sinks": [],
        "encrypted_param_names": ["api_key"],
    }
    files = {
        FILE_PREFIX + "child.yaml": HIDDEN_CHILD,
        FILE_PREFIX + "env.yaml": f"parameter_defaults:\n  db_password: {SECRET}-envfile\n",
        FILE_PREFIX + "broken.yaml": "{unclosed: [",
        FILE_PREFIX + "script.sh": "#!/bin/sh\necho hello\n",
    }
    return Snap(show=show, template=template, environment=environment, files=files)


def test_hidden_names_union():
    snap = _secret_snapshot()
    assert hidden_names(snap.template, snap.environment, snap.files) == {
        "admin_pass",  # hidden in the stack's template
        "api_key",  # encrypted_param_names
        "db_password",  # hidden in a nested template among the files
        "token",  # hidden in a template written inline
    }
    assert hidden_names({}, {}, {}) == set()
    cfn = {
        "Parameters": {
            "a": {"Type": "String", "NoEcho": "true"},
            "b": {"NoEcho": "false"},
            "c": {"NoEcho": True},
        }
    }
    assert hidden_names(cfn, {}, {}) == {"a", "c"}
    assert hidden_names(
        {"parameters": {"h": {"hidden": "True"}, "v": {"hidden": False}}}, {}, {}
    ) == {"h"}


def test_hidden_values_never_reach_the_document():
    snap = _secret_snapshot()
    doc = _build(snap)
    text = _dumps(doc)
    assert SECRET not in text
    assert doc["parameters"] == {
        "admin_pass": MASK,
        "db_password": MASK,
        "api_key": MASK,
        "plain": "visible",
    }
    assert doc["template"]["parameters"]["admin_pass"]["default"] == MASK
    assert doc["template"]["parameters"]["db_password"]["default"] == MASK  # hidden in the child
    assert doc["template"]["parameters"]["plain"]["default"] == "visible"
    assert doc["environment"]["parameters"] == {"admin_pass": MASK, "plain": "visible"}
    assert doc["environment"]["parameter_defaults"] == {
        "db_password": MASK,
        "RoleParameters": {"db_password": MASK},
    }
    assert set(doc["environment"]) == {"parameters", "parameter_defaults", "resource_registry"}
    # a known hidden value echoed by an output is scrubbed too
    assert doc["outputs"][0]["value"] == MASK
    # the inline template keeps its shape, minus the secret
    inline = doc["template"]["resources"]["inline"]["properties"]["template"]
    assert "hidden: true" in inline and MASK in inline
    assert doc["files"] == sorted(snap.files)  # names only, never contents
    # the fingerprint is the masked template's
    assert doc["fingerprint"] == documents.fingerprint(doc["template"])


def test_fingerprint_ignores_hidden_defaults():
    a, b = _secret_snapshot(), _secret_snapshot()
    b.template["parameters"]["admin_pass"]["default"] = "another-secret-value"
    assert _build(a)["fingerprint"] == _build(b)["fingerprint"]
    b.template["parameters"]["plain"]["default"] = "changed"
    assert _build(a)["fingerprint"] != _build(b)["fingerprint"]


def test_short_secrets_do_not_mangle_unrelated_text():
    template = {"parameters": {"pin": {"type": "string", "hidden": True, "default": "ab"}}}
    show = {
        "id": "s",
        "stack_name": "n",
        "parameters": {"pin": "******", "other": "abc"},
        "description": "about ab",
    }
    doc = _build(Snap(show=show, template=template))
    assert doc["template"]["parameters"]["pin"]["default"] == MASK
    assert doc["parameters"] == {"pin": MASK, "other": "abc"}
    assert doc["description"] == "about ab"


# hypothesis: a planted secret never reaches the document -------------------------------------

_names = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")),
    min_size=1,
    max_size=12,
).filter(lambda s: not s.startswith("OS::"))
_secrets = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=8, max_size=24).map(
    lambda s: "Sx9" + s
)
_json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=_names,
    secret=_secrets,
    where=st.sets(
        st.sampled_from(
            [
                "template",
                "show",
                "env_params",
                "env_defaults",
                "nested_file",
                "encrypted",
                "cfn",
                "nested_defaults",
            ]
        ),
        min_size=1,
    ),
    noise=st.dictionaries(st.text(max_size=10), _json_values, max_size=4),
    as_list=st.booleans(),
)
def test_planted_secret_never_in_document(name, secret, where, noise, as_list):
    value = [secret] if as_list else secret
    show = {
        "id": "sid",
        "stack_name": "stack",
        "parameters": {"OS::project_id": "p", **noise},
        "outputs": [],
    }
    template = {
        "heat_template_version": "2021-04-16",
        "parameters": {},
        "resources": {},
        "misc": noise,
    }
    environment: dict = {
        "parameters": dict(noise),
        "parameter_defaults": {},
        "resource_registry": {},
    }
    files: dict[str, str] = {}
    hide = False
    if "template" in where:
        template["parameters"][name] = {"type": "string", "hidden": True, "default": value}
        hide = True
    if "cfn" in where:
        template["Parameters"] = {name: {"Type": "String", "NoEcho": "true", "Default": value}}
        hide = True
    if "encrypted" in where:
        environment["encrypted_param_names"] = [name]
        hide = True
    if "nested_file" in where or not hide:
        child = {
            "heat_template_version": "2021-04-16",
            "parameters": {name: {"type": "string", "hidden": True, "default": value}},
        }
        files["file:///child.yaml"] = yaml.safe_dump(child, allow_unicode=True)
    if "show" in where:
        show["parameters"][name] = secret
    if "env_params" in where:
        environment["parameters"][name] = value
    if "env_defaults" in where:
        environment["parameter_defaults"][name] = value
    if "nested_defaults" in where:
        environment["parameter_defaults"]["RoleParams"] = {name: value}
    doc = _build(Snap(show=show, template=template, environment=environment, files=files))
    text = _dumps(doc)
    assert secret not in text
    assert set(doc) == DOC_KEYS


@settings(max_examples=150, deadline=None)
@given(
    show=st.dictionaries(st.text(max_size=10), _json_values, max_size=6),
    params=st.dictionaries(st.text(max_size=10), _json_values, max_size=6),
    template=st.dictionaries(st.text(max_size=10), _json_values, max_size=6),
    env=st.dictionaries(
        st.sampled_from(["parameters", "parameter_defaults", "resource_registry", "x"]),
        _json_values,
    ),
    resources=st.lists(
        st.dictionaries(
            st.sampled_from(["resource_name", "resource_type", "links", "x"]), _json_values
        ),
        max_size=3,
    ),
    files=st.dictionaries(st.text(max_size=10), st.text(max_size=40), max_size=3),
)
def test_any_answer_gives_a_json_document(show, params, template, env, resources, files):
    show = dict(show, parameters=params)
    doc = _build(
        Snap(show=show, template=template, environment=env, files=files, resources=resources)
    )
    assert set(doc) == DOC_KEYS
    assert json.loads(_dumps(doc)) == doc


def test_files_are_parsed_once_per_content(monkeypatch):
    calls: list[str] = []
    real = documents._load_yaml

    def counting(text):
        calls.append(text)
        return real(text)

    monkeypatch.setattr(documents, "_load_yaml", counting)
    shared = {FILE_PREFIX + "child.yaml": HIDDEN_CHILD + "# unique to this test\n"}
    for n in range(20):  # twenty nested stacks of one tree carry the same files
        show = {"id": f"n{n}", "stack_name": f"nested-{n}", "parameters": {"db_password": "x" * 9}}
        doc = _build(Snap(show=show, files=dict(shared)))
        assert doc["parameters"]["db_password"] == MASK
    assert len([c for c in calls if c.endswith("# unique to this test\n")]) == 1


def test_lone_surrogates_from_json_do_not_break_the_build():
    template = json.loads(
        '{"description": "bad \\ud800 text", "parameters": {"p": {"default": "\\udfff"}}}'
    )
    doc = _build(
        Snap(show={"id": "s", "stack_name": "n"}, template=template, files={"f": "x: \ud800"})
    )
    assert len(doc["fingerprint"]) == 64
    json.dumps(doc)


# -- fixtures captured from the project's own sandbox (tools/sandbox/capture.py) --------------------

LIVE = FIXTURES.parent / "heat-27"


@pytest.mark.parametrize("name", ["web-prod", "web-prod-frontend", "web-prod-worker_group"])
def test_live_capture_documents_hide_the_hidden_parameter(name):
    part = LIVE / name

    def load(f):
        return json.loads((part / f).read_text())

    show = load("show.json")
    snap = Snap(
        show=show.get("stack", show),
        template=load("template.json"),
        environment=load("environment.json"),
        files=load("files.json"),
        resources=load("resources.json"),
    )
    raw = json.dumps([snap.show, snap.template, snap.environment, snap.resources])
    doc = _build(snap)
    text = _dumps(doc)
    for secret in ("s3cr3t-default-pw", "HIDDEN-VALUE-alpha-7f3a"):
        assert secret not in text
    if "s3cr3t-default-pw" in raw:  # the template endpoint answers hidden defaults unmasked
        assert doc["template"]["parameters"]["db_password"]["default"] == MASK
    assert set(doc) == DOC_KEYS


def test_template_parameter_definitions_are_not_secrets():
    """Regression: a hidden parameter's definition ("type: string", its description) is not a
    secret value; only its default is masked."""
    snap = Snap(
        show={"id": "s1", "stack_name": "s", "stack_status": "CREATE_COMPLETE",
              "parameters": {"OS::project_id": "p", "pw": "******", "image": "cirros"},
              "outputs": []},
        template={"heat_template_version": "2021-04-16",
                  "parameters": {"pw": {"type": "string", "hidden": True,
                                        "description": "the database password", "default": "s3cr3t-pw"},
                                 "image": {"type": "string"}},
                  "resources": {"v": {"type": "OS::Heat::Value",
                                      "properties": {"type": "string", "value": "x"}}}},
        environment={}, files={}, resources=[],
    )
    doc = _build(snap)
    assert doc["template"]["parameters"]["image"]["type"] == "string"
    assert doc["template"]["parameters"]["pw"]["description"] == "the database password"
    assert doc["template"]["parameters"]["pw"]["default"] == "******"
    assert doc["template"]["resources"]["v"]["properties"]["type"] == "string"
    assert "s3cr3t-pw" not in _dumps(doc)
