"""heatseeker/secrets.py and its use by documents.build: secrets decided by structure, never by
value (issue #11, points 4 and 5). Shapes modelled on real templates: Magnum's kube_masters
ResourceGroup, TripleO's role_data outputs and service passwords, heat-templates' wait conditions."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
import yaml

from heatseeker import secrets
from heatseeker.documents import MASK, build_all
from heatseeker.secrets import Context, Inherited, analyse

F = "file:///srv/t/"


@dataclass
class Snap:
    show: dict
    template: dict = field(default_factory=dict)
    environment: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    resources: list = field(default_factory=list)
    read_at: int = 1


def hot(parameters=None, resources=None, outputs=None) -> dict:
    return {"heat_template_version": "2021-04-16", "parameters": parameters or {},
            "resources": resources or {}, "outputs": outputs or {}}


def _build(snap: Snap, inherited: Inherited | None = None):
    return build_all(snap, project_id="p", ancestors=[], parent_resource=None, version=1,
                     inherited=inherited)


def _text(doc: dict) -> str:
    return json.dumps(doc, ensure_ascii=False)


# -- the analysis over one template ---------------------------------------------------------------

PARAMS = {"db_password": {"type": "string", "hidden": True},
          "rabbit_user": {"type": "string", "default": "guest"},
          "host": {"type": "string"}}


@pytest.mark.parametrize("expr, secret", [
    ({"get_param": "db_password"}, True),
    ({"get_param": "rabbit_user"}, False),
    ({"str_replace": {"template": "mysql://root:PW@HOST/nova",
                      "params": {"PW": {"get_param": "db_password"}, "HOST": {"get_param": "host"}}}},
     True),
    ({"str_replace": {"template": "amqp://USER@HOST", "params": {"USER": {"get_param": "rabbit_user"},
                                                                  "HOST": {"get_param": "host"}}}},
     False),
    ({"list_join": [":", [{"get_param": "host"}, {"get_param": "db_password"}]]}, True),
    ({"yaql": {"expression": "$.data.p", "data": {"p": {"get_param": "db_password"}}}}, True),
    ({"if": ["cond", {"get_param": "db_password"}, "x"]}, True),
    ({"map_merge": [{"a": 1}, {"b": {"get_param": ["db_password"]}}]}, True),
    ({"repeat": {"for_each": {"<%x%>": [{"get_param": "db_password"}]}, "template": "<%x%>"}}, True),
    ({"network": {"get_param": "host"}}, False),  # a one-key map is a map, not a function
    ({"get_attr": ["value", "value"]}, True),  # a resource whose properties draw on the secret
    ({"get_attr": ["plain", "value"]}, False),
    ({"get_resource": "value"}, False),  # an id is no secret
])
def test_expressions(expr, secret):
    template = hot(PARAMS, {
        "value": {"type": "OS::Heat::Value", "properties": {"value": {"get_param": "db_password"}}},
        "plain": {"type": "OS::Heat::Value", "properties": {"value": {"get_param": "host"}}},
    }, {"out": {"value": expr}})
    got = analyse(template, secrets.hidden_in(template))
    assert ("out" in got.outputs) is secret
    assert got.unknown == 0


def test_an_unknown_function_is_secret_and_counted():
    template = hot(PARAMS, {}, {"a": {"value": {"Fn::Future": ["x"]}},
                                "b": {"value": {"get_param": {"get_param": "host"}}},
                                "c": {"value": {"get_param": "host"}}})
    got = analyse(template, secrets.hidden_in(template))
    assert got.outputs == {"a", "b"}
    assert got.unknown == 2


@pytest.mark.parametrize("rtype, attr, secret", [
    ("OS::Heat::WaitConditionHandle", "curl_cli", True),
    ("OS::Heat::WaitConditionHandle", "token", True),
    ("OS::Heat::WaitConditionHandle", "endpoint", False),
    ("OS::Heat::SwiftSignalHandle", "endpoint", True),
    ("OS::Heat::ScalingPolicy", "alarm_url", True),
    ("OS::Heat::ScalingPolicy", "signal_url", False),
    ("OS::Nova::KeyPair", "private_key", True),
    ("OS::Nova::KeyPair", "public_key", False),
    ("OS::Nova::Server", "os_collect_config", True),
    ("OS::Nova::Server", "first_address", False),
    ("OS::Heat::RandomString", "value", True),
    ("OS::Heat::WaitConditionHandle", "show", True),
])
def test_credential_attributes(rtype, attr, secret):
    template = hot({}, {"h": {"type": rtype}},
                   {"o": {"value": {"str_replace": {"template": "run: X",
                                                    "params": {"X": {"get_attr": ["h", attr]}}}}}})
    assert ("o" in analyse(template, ()).outputs) is secret


def test_credential_references():
    template = {"AWSTemplateFormatVersion": "2010-09-09",
                "Resources": {"h": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
                              "i": {"Type": "AWS::EC2::Instance",
                                    "Properties": {"UserData": {"Fn::Join": ["", ["u=", {"Ref": "h"}]]}}}},
                "Outputs": {"url": {"Value": {"Ref": "h"}}, "ip": {"Value": {"Fn::GetAtt": ["i", "PublicIp"]}},
                            "id": {"Value": {"Ref": "i"}}}}
    got = analyse(template, ())
    assert got.outputs == {"url", "ip"}  # the instance's properties draw on the signed URL


# -- nested stacks: what a child inherits ----------------------------------------------------------

CHILD = hot({"password": {"type": "string"},  # not hidden in the child
             "label": {"type": "string"},
             "key": {"type": "string", "hidden": True}},
            {"v": {"type": "OS::Heat::Value", "properties": {"value": {"get_param": "password"}}}},
            {"conn": {"value": {"list_join": ["@", [{"get_attr": ["v", "value"]}, "db"]]}},
             "name": {"value": {"get_param": "label"}},
             "key_out": {"value": {"get_param": "key"}}})


def _ctx() -> Context:
    return Context(files={F + "child.yaml": json.dumps(CHILD)},
                   registry={"My::Child": F + "child.yaml"})


def test_provider_property_fed_by_a_hidden_parameter():
    parent = hot({"admin_pw": {"type": "string", "hidden": True}, "label": {"type": "string"}},
                 {"c": {"type": "My::Child", "properties": {"password": {"get_param": "admin_pw"},
                                                            "label": {"get_param": "label"},
                                                            "key": "literal-key"}}},
                 {"child_conn": {"value": {"get_attr": ["c", "conn"]}},
                  "child_name": {"value": {"get_attr": ["c", "name"]}},
                  "child_key": {"value": {"get_attr": ["c", "key_out"]}}})
    got = analyse(parent, {"admin_pw"}, ctx=_ctx())
    assert got.children == {"c": {"params": {"password"}}}
    # the child's tainted output, and one drawing on the child's own hidden parameter
    assert got.outputs == {"child_conn", "child_key"}
    # a literal fed to a hidden parameter of the child is masked in the parent's template
    assert got.literals == {"c": {"key"}}


def test_os_heat_stack_parameters():
    inline = yaml.safe_dump(CHILD)
    parent = hot({"admin_pw": {"type": "string", "hidden": True}},
                 {"s": {"type": "OS::Heat::Stack",
                        "properties": {"template": inline,
                                       "parameters": {"password": {"get_param": "admin_pw"},
                                                      "label": "x"}}}},
                 {"o": {"value": {"get_attr": ["s", "outputs", "conn"]}},
                  "n": {"value": {"get_attr": ["s", "outputs", "name"]}}})
    got = analyse(parent, {"admin_pw"})
    assert got.children == {"s": {"params": {"password"}}}
    assert got.outputs == {"o"}
    # the template given with get_file (heatclient keeps the file among the stack's files)
    parent["resources"]["s"]["properties"]["template"] = {"get_file": F + "inline.yaml"}
    got = analyse(parent, {"admin_pw"}, ctx=Context(files={F + "inline.yaml": inline}))
    assert got.outputs == {"o"} and got.unknown == 0
    assert analyse(parent, {"admin_pw"}).unknown == 2  # the file is missing: unknown, secret


# Magnum: kubecluster.yaml's kube_masters ResourceGroup of kubemaster.yaml
KUBEMASTER = hot({"trustee_password": {"type": "string", "hidden": True},
                  "ca_key": {"type": "string", "hidden": True},
                  "api_port": {"type": "number"},
                  "name": {"type": "string"}},
                 {"wc": {"type": "OS::Heat::WaitConditionHandle"}},
                 {"kube_master_ip": {"value": {"get_param": "name"}},
                  "curl": {"value": {"get_attr": ["wc", "curl_cli"]}}})
MAGNUM_FILES = {F + "kubemaster.yaml": json.dumps(KUBEMASTER)}


def test_magnum_kube_masters_group():
    cluster = hot({"trustee_password": {"type": "string", "hidden": True},
                   "password": {"type": "string", "hidden": True},
                   "api_port": {"type": "number", "default": 6443}},
                  {"kube_masters": {
                      "type": "OS::Heat::ResourceGroup",
                      "properties": {"count": 1, "resource_def": {
                          "type": F + "kubemaster.yaml",
                          "properties": {"trustee_password": {"get_param": "trustee_password"},
                                         "ca_key": {"get_param": "password"},
                                         "api_port": {"get_param": "api_port"},
                                         "name": "master-%index%"}}}}},
                  {"kube_masters": {"value": {"get_attr": ["kube_masters", "kube_master_ip"]}},
                   "curls": {"value": {"get_attr": ["kube_masters", "attributes", "curl"]}},
                   "one": {"value": {"get_attr": ["kube_masters", "resource.0.curl"]}},
                   "refs": {"value": {"get_attr": ["kube_masters", "refs"]}}})
    got = analyse(cluster, {"trustee_password", "password"}, ctx=Context(files=MAGNUM_FILES))
    assert got.children == {"kube_masters": {"members": {"trustee_password", "ca_key"}}}
    assert got.outputs == {"curls", "one"}

    # the template Heat generates for the group: resolved values, members of the member type
    generated = hot({}, {"0": {"type": F + "kubemaster.yaml",
                               "properties": {"trustee_password": "TrusteePw-clear-1",
                                              "ca_key": "CA-KEY-clear", "api_port": 6443,
                                              "name": "master-0"}}})
    inherited = Inherited.from_summary(secrets.summary(got, ()), "kube_masters")
    group = analyse(generated, (), members=inherited.members, ctx=Context(files=MAGNUM_FILES))
    assert group.literals == {"0": {"trustee_password", "ca_key"}}
    assert group.children == {"0": {"params": {"trustee_password", "ca_key"}}}
    # even without the parent's verdict, a literal fed to a hidden member parameter is secret
    alone = analyse(generated, (), ctx=Context(files=MAGNUM_FILES))
    assert alone.literals == {"0": {"trustee_password", "ca_key"}}


# TripleO: a service template's role_data output carries config_settings with its password
SERVICE = hot({"NovaPassword": {"type": "string", "hidden": True},
               "CollectdAmqpPassword": {"type": "string", "hidden": True, "default": "guest"},
               "RabbitUserName": {"type": "string", "default": "guest"},
               "EndpointMap": {"type": "json", "default": {}}},
              {},
              {"role_data": {"value": {
                  "service_name": "nova_api",
                  "config_settings": {"map_merge": [
                      {"nova::db::mysql::password": {"get_param": "NovaPassword"}},
                      {"nova::rabbit_user": {"get_param": "RabbitUserName"}}]}}},
               "user": {"value": {"get_param": "RabbitUserName"}}})


def test_tripleo_role_data():
    got = analyse(SERVICE, secrets.hidden_in(SERVICE))
    assert got.outputs == {"role_data"}  # `user` equals a hidden default: not a secret


# -- documents: the document of each level ---------------------------------------------------------


def test_documents_two_levels_of_nesting():
    """A hidden root parameter → a child property → a grandchild property; a name hidden only in
    the root is masked in every level's parameter_defaults; a value equal to a hidden default is
    not masked."""
    grandchild = hot({"pw": {"type": "string"}, "user": {"type": "string"}}, {},
                     {"dsn": {"value": {"str_replace": {"template": "u:p", "params": {
                         "u": {"get_param": "user"}, "p": {"get_param": "pw"}}}}},
                      "who": {"value": {"get_param": "user"}}})
    child = hot({"password": {"type": "string"}, "user": {"type": "string"}},
                {"gc": {"type": "My::Grandchild",
                        "properties": {"pw": {"get_param": "password"}, "user": {"get_param": "user"}}}},
                {"dsn": {"value": {"get_attr": ["gc", "dsn"]}}})
    root = hot({"admin_pw": {"type": "string", "hidden": True},
                "CollectdAmqpPassword": {"type": "string", "hidden": True, "default": "guest"},
                "user": {"type": "string", "default": "guest"}},
               {"c": {"type": "My::Child",
                      "properties": {"password": {"get_param": "admin_pw"},
                                     "user": {"get_param": "user"}}}},
               {"dsn": {"value": {"get_attr": ["c", "dsn"]}},
                "trustee": {"value": {"get_param": "user"}}})
    files = {F + "child.yaml": json.dumps(child), F + "grandchild.yaml": json.dumps(grandchild)}
    env = {"parameters": {}, "parameter_defaults": {"admin_pw": "RootOnly-Secret-1", "user": "guest"},
           "resource_registry": {"My::Child": F + "child.yaml", "My::Grandchild": F + "grandchild.yaml"}}
    secret_value = "Passed-Secret-42"
    dsn = f"guest:{secret_value}"

    root_doc = _build(Snap(
        show={"id": "r", "stack_name": "root", "stack_status": "CREATE_COMPLETE",
              "parameters": {"admin_pw": "******", "CollectdAmqpPassword": "******", "user": "guest"},
              "outputs": [{"output_key": "dsn", "output_value": dsn},
                          {"output_key": "trustee", "output_value": "guest"}]},
        template=root, environment=env, files=files))
    assert root_doc.doc["parameters"] == {"admin_pw": MASK, "CollectdAmqpPassword": MASK,
                                          "user": "guest"}
    assert root_doc.doc["template"]["parameters"]["CollectdAmqpPassword"]["default"] == MASK
    assert root_doc.doc["template"]["parameters"]["user"]["default"] == "guest"
    assert {o["key"]: o["value"] for o in root_doc.doc["outputs"]} == {"dsn": MASK, "trustee": "guest"}
    assert root_doc.doc["environment"]["parameter_defaults"] == {"admin_pw": MASK, "user": "guest"}
    assert root_doc.summary["children"] == {"c": {"params": ["password"]}}

    child_env = dict(env, parameters={"password": secret_value, "user": "guest"})
    inherited = Inherited.from_summary(root_doc.summary, "c")
    child_doc = _build(Snap(
        show={"id": "c1", "stack_name": "root-c-abcdefabcdef", "parent": "r",
              "stack_status": "CREATE_FAILED",
              "stack_status_reason": f"Resource CREATE failed: password {secret_value} rejected",
              "parameters": {"password": secret_value, "user": "guest"},
              "outputs": [{"output_key": "dsn", "output_value": dsn}]},
        template=child, environment=child_env, files=files), inherited)
    assert child_doc.doc["parameters"] == {"password": MASK, "user": "guest"}
    assert child_doc.doc["environment"]["parameters"] == {"password": MASK, "user": "guest"}
    assert child_doc.doc["environment"]["parameter_defaults"] == {"admin_pw": MASK, "user": "guest"}
    assert child_doc.doc["outputs"][0]["value"] == MASK
    assert child_doc.doc["status_reason"] == f"Resource CREATE failed: password {MASK} rejected"
    assert child_doc.scrub(f"x {secret_value}") == f"x {MASK}"  # a notification's reason later
    assert child_doc.summary["children"] == {"gc": {"params": ["pw"]}}

    gc_doc = _build(Snap(
        show={"id": "g1", "stack_name": "root-c-abcdefabcdef-gc-abcdefabcdef", "parent": "c1",
              "parameters": {"pw": secret_value, "user": "guest"},
              "outputs": [{"output_key": "dsn", "output_value": dsn},
                          {"output_key": "who", "output_value": "guest"}]},
        template=grandchild, environment=dict(env, parameters={"pw": secret_value, "user": "guest"}),
        files=files), Inherited.from_summary(child_doc.summary, "gc"))
    assert gc_doc.doc["parameters"] == {"pw": MASK, "user": "guest"}
    assert {o["key"]: o["value"] for o in gc_doc.doc["outputs"]} == {"dsn": MASK, "who": "guest"}
    for built in (root_doc, child_doc, gc_doc):
        text = _text(built.doc)
        assert secret_value not in text and "RootOnly-Secret-1" not in text
        assert "trustee_******" not in text


def test_group_member_values_in_the_generated_template():
    generated = hot({}, {str(i): {"type": F + "kubemaster.yaml",
                                  "properties": {"trustee_password": f"TrusteePw-{i}",
                                                 "ca_key": f"CA-KEY-{i}", "api_port": 6443,
                                                 "name": f"master-{i}"}} for i in range(2)})
    inherited = Inherited(members=frozenset({"trustee_password", "ca_key"}))
    built = _build(Snap(show={"id": "g", "stack_name": "k-kube_masters-abcdefabcdef", "parent": "k"},
                        template=generated, files=MAGNUM_FILES), inherited)
    props = built.doc["template"]["resources"]["0"]["properties"]
    assert props == {"trustee_password": MASK, "ca_key": MASK, "api_port": 6443, "name": "master-0"}
    assert "TrusteePw" not in _text(built.doc) and "CA-KEY" not in _text(built.doc)
    assert built.summary["children"]["1"] == {"params": ["ca_key", "trustee_password"]}


def test_unknown_parent_masks_what_it_may_have_passed():
    child = hot({"password": {"type": "string"}, "size": {"type": "number", "default": 1}},
                {"v": {"type": "OS::Heat::Value", "properties": {"value": "literal"}}},
                {"o": {"value": {"get_param": "size"}}})
    built = _build(Snap(show={"id": "c", "stack_name": "c", "parent": "gone",
                              "parameters": {"password": "Passed-Pw-9", "size": "1"}},
                        template=child,
                        environment={"parameter_defaults": {"anything": "Pd-Value-9"}}),
                   secrets.UNKNOWN_PARENT)
    assert built.doc["parameters"] == {"password": MASK, "size": "1"}
    assert built.doc["environment"]["parameter_defaults"] == {"anything": MASK}
    assert "Passed-Pw-9" not in _text(built.doc)


def test_wait_condition_credentials_in_outputs():
    template = hot({}, {"wh": {"type": "OS::Heat::WaitConditionHandle"},
                        "wc": {"type": "OS::Heat::WaitCondition",
                               "properties": {"handle": {"get_resource": "wh"}, "timeout": 60}}},
                   {"curl": {"value": {"get_attr": ["wh", "curl_cli"]}},
                    "token": {"value": {"get_attr": ["wh", "token"]}},
                    "data": {"value": {"get_attr": ["wc", "data"]}}})
    token = "gAAAAABlive-keystone-token"
    built = _build(Snap(
        show={"id": "w", "stack_name": "w",
              "outputs": [{"output_key": "curl", "output_value": f"curl -H 'X-Auth-Token: {token}'"},
                          {"output_key": "token", "output_value": token},
                          {"output_key": "data", "output_value": "{}"}]},
        template=template))
    assert {o["key"]: o["value"] for o in built.doc["outputs"]} == {
        "curl": MASK, "token": MASK, "data": "{}"}
    assert token not in _text(built.doc)


def test_non_secret_values_equal_to_a_hidden_default_stay():
    """CollectdAmqpPassword's default is `guest`; `password` is a hidden default too: neither value
    is masked where it is not secret."""
    template = hot({"CollectdAmqpPassword": {"type": "string", "hidden": True, "default": "guest"},
                    "pw": {"type": "string", "hidden": True, "default": "password"},
                    "RabbitUserName": {"type": "string", "default": "guest"}},
                   {"v": {"type": "OS::Heat::Value",
                          "properties": {"value": {"get_param": "trustee_password"}}}},
                   {"user": {"value": {"get_param": "RabbitUserName"}}})
    built = _build(Snap(
        show={"id": "t", "stack_name": "t", "description": "guest access",
              "parameters": {"CollectdAmqpPassword": "******", "pw": "******", "RabbitUserName": "guest"},
              "outputs": [{"output_key": "user", "output_value": "guest"}]},
        template=template, environment={"parameters": {"RabbitUserName": "guest"}}))
    doc = built.doc
    assert doc["parameters"]["RabbitUserName"] == "guest"
    assert doc["outputs"][0]["value"] == "guest"
    assert doc["environment"]["parameters"] == {"RabbitUserName": "guest"}
    assert doc["template"]["resources"]["v"]["properties"]["value"] == {"get_param": "trustee_password"}
    assert doc["description"] == "guest access"
    assert built.summary["unknown"] == 0


def test_tripleo_service_chain():
    """TripleO: an OS::Heat::ResourceChain of service templates sharing resource_properties; the
    role's role_data gathers every service's role_data."""
    other = hot({"EndpointMap": {"type": "json"}}, {},
                {"role_data": {"value": {"service_name": "ntp"}}, "plain": {"value": "x"}})
    files = {F + "nova.yaml": json.dumps(SERVICE), F + "ntp.yaml": json.dumps(other)}
    registry = {"OS::TripleO::Services::NovaApi": F + "nova.yaml",
                "OS::TripleO::Services::Ntp": F + "ntp.yaml"}
    role = hot({"NovaPassword": {"type": "string", "hidden": True},
                "EndpointMap": {"type": "json"}},
               {"ServiceChain": {"type": "OS::Heat::ResourceChain", "properties": {
                   "resources": ["OS::TripleO::Services::NovaApi", "OS::TripleO::Services::Ntp"],
                   "resource_properties": {"EndpointMap": {"get_param": "EndpointMap"},
                                           "NovaPassword": {"get_param": "NovaPassword"}}}}},
               {"role_data": {"value": {"service_names": {"get_attr": ["ServiceChain", "role_data"]}}},
                "plain": {"value": {"get_attr": ["ServiceChain", "plain"]}},
                "refs": {"value": {"get_attr": ["ServiceChain", "refs"]}}})
    got = analyse(role, secrets.hidden_in(role), ctx=Context(files=files, registry=registry))
    assert got.outputs == {"role_data"}
    assert got.children == {"ServiceChain": {"members": {"NovaPassword"}}}
    assert got.unknown == 0
