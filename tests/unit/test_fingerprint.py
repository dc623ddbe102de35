"""Stacks deployed from the same template (``template_fingerprint``) and stacks whose environment
maps a type to a template (``registry_types``, ``registry_map``): heatseeker/documents.py."""

from __future__ import annotations

import copy

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from heatseeker import documents
from heatseeker.documents import MASK, registry_entries, template_fingerprint
from tests.unit.test_documents import Snap, _build

TEMPLATE_A = """
heat_template_version: 2021-04-16
description: web tier, version one
parameters:
  image: {type: string, default: cirros, description: the image}
  admin_pass: {type: string, hidden: true, default: s3cret-value-1}
parameter_groups:
  - label: main
    description: the main group
    parameters: [image]
resources:
  server:
    type: OS::Nova::Server
    properties:
      image: {get_param: image}
      user_data: |
        #!/bin/sh
        echo hello
  sg:
    type: OS::Neutron::SecurityGroup
    properties: {description: allow ssh}
outputs:
  ip: {value: {get_attr: [server, first_address]}, description: the address}
"""

# the same template: other descriptions, other key order, other YAML layout, trailing blanks,
# another hidden default
TEMPLATE_A2 = """
heat_template_version: 2021-04-16
description: the web tier as deployed in prod
outputs:
  ip:
    description: where to reach it
    value:
      get_attr: [server, first_address]
resources:
  sg: {properties: {description: allow ssh}, type: OS::Neutron::SecurityGroup}
  server:
    properties:
      user_data: "#!/bin/sh   \\r\\necho hello  \\n\\n"
      image: {get_param: image}
    type: OS::Nova::Server
parameter_groups:
  - {parameters: [image], label: main}
parameters:
  admin_pass: {hidden: true, type: string, default: another-secret}
  image: {default: cirros, type: string}
"""


def _snap(template_text: str, environment: dict | None = None, sid: str = "s1") -> Snap:
    return Snap(
        show={"id": sid, "stack_name": sid, "stack_status": "CREATE_COMPLETE", "parameters": {}},
        template=yaml.safe_load(template_text),
        environment=environment or {},
    )


def test_same_template_same_fingerprint_whatever_descriptions_order_layout_secrets():
    a, b = _build(_snap(TEMPLATE_A)), _build(_snap(TEMPLATE_A2, sid="s2"))
    assert a["template_fingerprint"] == b["template_fingerprint"]
    assert len(a["template_fingerprint"]) == 64
    # the exact fingerprint still tells them apart
    assert a["fingerprint"] != b["fingerprint"]


def test_a_real_change_changes_the_fingerprint():
    base = _build(_snap(TEMPLATE_A))["template_fingerprint"]
    for edit in (
        lambda t: t["resources"]["server"]["properties"].update(flavor="m1.large"),
        lambda t: t["parameters"]["image"].update(default="fedora"),
        lambda t: t["resources"]["sg"]["properties"].update(description="allow http"),  # data
        lambda t: t.update(heat_template_version="2018-08-31"),
        lambda t: t["outputs"]["ip"].update(value="x"),
        lambda t: t["resources"]["server"]["properties"].update(user_data="#!/bin/sh\necho bye"),
    ):
        template = yaml.safe_load(TEMPLATE_A)
        edit(template)
        snap = _snap(TEMPLATE_A)
        snap.template = template
        assert _build(snap)["template_fingerprint"] != base


def test_fingerprint_never_sees_a_hidden_default():
    doc = _build(_snap(TEMPLATE_A))
    normal = documents.normalised_template(doc["template"])
    assert normal["parameters"]["admin_pass"]["default"] == MASK
    assert "s3cret" not in repr(normal)
    assert doc["template_fingerprint"] == template_fingerprint(doc["template"])


def test_empty_and_odd_templates():
    assert template_fingerprint({}) == template_fingerprint({"description": "x"})
    assert len(template_fingerprint(None)) == 64
    assert len(template_fingerprint({"parameters": ["odd"], "outputs": "x"})) == 64


_text = st.text(alphabet="ab \n\r", max_size=8)
_values = st.recursive(
    st.none() | st.booleans() | st.integers() | _text,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(_text, kids, max_size=3),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["resources", "parameters", "outputs", "description", "x"]),
                       _values, max_size=5))
def test_fingerprint_is_stable_under_key_order_and_idempotent(template):
    reordered = dict(reversed(list(copy.deepcopy(template).items())))
    assert template_fingerprint(template) == template_fingerprint(reordered)
    normal = documents.normalised_template(template)
    assert documents.normalised_template(normal) == normal


def test_registry_types_and_mappings():
    types, maps = registry_entries({
        "My::Server": "file:///srv/templates/box.yaml",
        "My::Alias": "OS::Nova::Server",
        "OS::Heat::None": None,
        "resources": {
            "db": {"My::Db": "db.yaml", "hooks": "pre-create"},
            "odd": "not a mapping",
        },
    })
    assert types == ["My::Alias", "My::Db", "My::Server", "OS::Heat::None"]
    assert maps == [
        "My::Alias=OS::Nova::Server",
        "My::Db=db.yaml",
        "My::Server=box.yaml",
        "My::Server=file:///srv/templates/box.yaml",
    ]
    assert registry_entries(None) == ([], [])
    assert registry_entries({"x": {"y": "z"}}) == ([], [])


def test_registry_fields_in_the_document():
    env = {"resource_registry": {"My::Box": "file:///tmp/t/box.yaml"}}
    doc = _build(_snap(TEMPLATE_A, env))
    assert doc["registry_types"] == ["My::Box"]
    assert doc["registry_map"] == ["My::Box=box.yaml", "My::Box=file:///tmp/t/box.yaml"]
    assert doc["created_by"] is None and doc["link"] is None
    plain = _build(_snap(TEMPLATE_A))
    assert plain["registry_types"] == [] and plain["registry_map"] == []
