"""The semantic diff: examples an operator reads, and properties (hypothesis) that hold for any
two documents: diff(A, A) is empty, and applying diff(A, B) to A gives B at every path."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heatseeker import diff as D


def stack(**kw) -> dict:
    base = {
        "id": "s1", "name": "web", "project_id": "p1", "status": "CREATE_COMPLETE",
        "description": "web tier", "tags": ["prod"],
        "parameters": {"image": "cirros", "flavor": "m1.small", "db_pass": "******"},
        "template": {
            "heat_template_version": "2021-04-16",
            "description": "web tier",
            "parameters": {"image": {"type": "string"}, "flavor": {"type": "string"}},
            "resources": {
                "server": {"type": "OS::Nova::Server",
                           "properties": {"flavor": "m1.small", "image": {"get_param": "image"},
                                          "networks": [{"network": "private"}]}},
                "port": {"type": "OS::Neutron::Port", "properties": {"network": "private"}},
            },
            "outputs": {"ip": {"value": {"get_attr": ["server", "first_address"]}}},
        },
        "environment": {"parameters": {}, "parameter_defaults": {"key": "k1"},
                        "resource_registry": {"My::Box": "box.yaml"}},
        "outputs": [{"key": "ip", "value": "10.0.0.5", "description": None, "error": None}],
        "resources": [{"name": "server", "type": "OS::Nova::Server", "status": "CREATE_COMPLETE",
                       "physical_resource_id": "srv-1", "nested_stack_id": None},
                      {"name": "port", "type": "OS::Neutron::Port", "status": "CREATE_COMPLETE",
                       "physical_resource_id": "port-1", "nested_stack_id": None}],
        "files": ["box.yaml"],
        "version": 1, "indexed_at": "2026-11-25T10:00:00Z", "updated_at": "2026-11-25T10:00:00Z",
    }
    base.update(kw)
    return base


def changes(a, b, fa=None, fb=None) -> dict[str, tuple]:
    return {c.path: (c.kind, c.old, c.new) for c in D.diff(a, b, fa, fb)}


def test_identical_documents_and_state_only_changes_have_no_diff():
    a = stack()
    b = stack(status="UPDATE_COMPLETE", version=2, indexed_at="x", updated_at="y")
    b["resources"][0] = dict(b["resources"][0], status="CHECK_COMPLETE")
    assert D.diff(a, a) == [] and D.diff(a, b) == []
    assert D.digest(a) == D.digest(b)


def test_resource_property_changed_added_and_removed():
    a = stack()
    b = copy.deepcopy(a)
    res = b["template"]["resources"]
    res["server"]["properties"]["flavor"] = "m1.large"
    res["server"]["properties"]["networks"] = [{"network": "public"}]
    del res["port"]
    res["volume"] = {"type": "OS::Cinder::Volume", "properties": {"size": 1}}
    b["resources"] = [b["resources"][0]]
    got = changes(a, b)
    assert got["resources.server.properties.flavor"] == ("changed", "m1.small", "m1.large")
    assert got["resources.server.properties.networks.0.network"] == ("changed", "private", "public")
    assert got["resources.port"][0] == "removed"
    assert got["resources.port"][1]["type"] == "OS::Neutron::Port"
    assert got["resources.volume"] == ("added", None, {"type": "OS::Cinder::Volume",
                                                       "properties": {"size": 1}})


def test_parameters_registry_outputs_files_description_tags():
    a = stack()
    b = stack(parameters={"image": "ubuntu", "flavor": "m1.small", "db_pass": "******", "n": 2},
              environment={"parameters": {}, "parameter_defaults": {"key": "k1"},
                           "resource_registry": {"My::Box": "box2.yaml", "My::Db": "db.yaml"}},
              outputs=[{"key": "ip", "value": "10.0.0.6"}], files=["box2.yaml", "db.yaml"],
              description="web tier v2", tags=["prod", "v2"])
    got = changes(a, b, {"box.yaml": "aa"}, {"box2.yaml": "bb", "db.yaml": "cc"})
    assert got["parameters.image"] == ("changed", "cirros", "ubuntu")
    assert got["parameters.n"] == ("added", None, 2)
    assert got["environment.resource_registry.My::Box"] == ("changed", "box.yaml", "box2.yaml")
    assert got["environment.resource_registry.My::Db"] == ("added", None, "db.yaml")
    assert got["outputs.ip"] == ("changed", "10.0.0.5", "10.0.0.6")
    assert got["files.box.yaml"] == ("removed", "aa", None)
    assert got["files.db.yaml"] == ("added", None, "cc")
    assert got["description"] == ("changed", "web tier", "web tier v2")
    assert got["tags"] == ("changed", ["prod"], ["prod", "v2"])
    assert "parameters.db_pass" not in got  # masked on both sides: no change to see


def test_file_content_change_and_replacement():
    a = stack()
    b = copy.deepcopy(a)
    b["resources"][0]["physical_resource_id"] = "srv-2"  # replaced
    got = changes(a, b, {"box.yaml": "aa"}, {"box.yaml": "bb"})
    assert got == {"files.box.yaml": ("changed", "aa", "bb"),
                   "resources.server.physical_resource_id": ("changed", "srv-1", "srv-2")}


def test_cfn_template_resources_read_like_hot():
    a = stack(template={"AWSTemplateFormatVersion": "2010-09-09",
                        "Resources": {"s": {"Type": "AWS::EC2::Instance",
                                            "Properties": {"InstanceType": "m1.small"}}}},
              resources=[])
    b = copy.deepcopy(a)
    b["template"]["Resources"]["s"]["Properties"]["InstanceType"] = "m1.large"
    assert changes(a, b) == {
        "resources.s.properties.InstanceType": ("changed", "m1.small", "m1.large")}


def test_change_serialises_as_path_kind_old_new():
    (c,) = D.diff(stack(), stack(parameters={"image": "x", "flavor": "m1.small",
                                             "db_pass": "******"}))
    assert c.as_dict() == {"path": "parameters.image", "kind": "changed", "old": "cirros", "new": "x"}


def test_field_matching():
    assert D.matches("parameters.image", "parameters.image")
    assert D.matches("parameters.image", "parameters")
    assert D.matches("resources.server", "resources.server.properties.flavor")
    assert not D.matches("parameters.image2", "parameters.image")
    assert D.normalise_field("template.resources.server.properties") == "resources.server.properties"
    assert D.normalise_field("template.parameters.x") == "template.parameters.x"


# -- properties -----------------------------------------------------------------------------------

keys = st.text(alphabet="abcxyz.:_-/", min_size=1, max_size=6)
scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text(alphabet="ab ", max_size=3)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=12,
)
resource_defs = st.dictionaries(
    st.sampled_from(["type", "properties", "depends_on", "metadata"]), values, max_size=4)


@st.composite
def documents(draw) -> tuple[dict, dict]:
    names = draw(st.lists(keys, max_size=4, unique=True))
    files = draw(st.lists(keys, max_size=3, unique=True))
    doc = {
        "id": "s", "name": "n", "project_id": "p",
        "description": draw(st.none() | st.text(max_size=5)),
        "tags": draw(st.lists(st.text(alphabet="ab", max_size=2), max_size=3)),
        "parameters": draw(st.dictionaries(keys, values, max_size=4)),
        "template": {
            "heat_template_version": draw(st.sampled_from(["2021-04-16", "2018-08-31"])),
            "resources": {n: draw(resource_defs) for n in names},
            "conditions": draw(st.dictionaries(keys, values, max_size=2)),
            "outputs": draw(st.dictionaries(keys, values, max_size=2)),
        },
        "environment": {
            "resource_registry": draw(st.dictionaries(keys, values, max_size=3)),
            "parameter_defaults": draw(st.dictionaries(keys, values, max_size=2)),
            "parameters": {},
        },
        "outputs": [{"key": k, "value": draw(values)}
                    for k in draw(st.lists(keys, max_size=3, unique=True))],
        "resources": [{"name": n, "type": "T", "physical_resource_id": draw(st.none() | keys)}
                      for n in names if draw(st.booleans())],
        "files": files,
    }
    digests = {f: draw(st.none() | st.sampled_from(["d1", "d2"])) for f in files}
    return doc, digests


def _leaves(tree, prefix=()):
    """Every path of a view down to its leaves (dict keys and list indexes)."""
    if isinstance(tree, dict):
        if not tree:
            yield prefix, tree
        for k, v in tree.items():
            yield from _leaves(v, prefix + (k,))
    elif isinstance(tree, list) and tree and all(isinstance(x, dict) for x in tree):
        for i, v in enumerate(tree):
            yield from _leaves(v, prefix + (i,))
    else:
        yield prefix, tree


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_diff_of_a_document_with_itself_is_empty(a):
    doc, digests = a
    assert D.diff(doc, doc, digests, digests) == []
    assert D.diff(doc, copy.deepcopy(doc), digests, dict(digests)) == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), documents())
def test_applying_the_diff_to_a_gives_b_at_every_path(a, b):
    (da, fa), (db, fb) = a, b
    changes = D.diff(da, db, fa, fb)
    patched = D.apply(D.view(da, fa), changes)
    target = D.view(db, fb)
    assert patched == target
    for path, value in _leaves(target):
        assert D.get(patched, path) == value, path
    # and every change names a path whose new value is B's (or that B no longer has)
    for ch in changes:
        got = D.get(target, ch.keys)
        if ch.kind == D.REMOVED:
            assert D.missing(got)
        else:
            assert got == ch.new
        if ch.kind == D.ADDED:
            assert D.missing(D.get(D.view(da, fa), ch.keys))


@settings(max_examples=100, deadline=None)
@given(documents(), documents())
def test_equal_digest_iff_no_changes(a, b):
    (da, fa), (db, fb) = a, b
    assert (D.digest(da, fa) == D.digest(db, fb)) == (D.diff(da, db, fa, fb) == [])
