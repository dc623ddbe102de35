"""Reverse lookup (heatseeker/uses.py): every stack that uses a value, where, under isolation."""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("tests.unit.api_fixtures")

from heatseeker import uses  # noqa: E402
from heatseeker.engines.conformance import make_doc  # noqa: E402
from heatseeker.engines.tantivy import TantivyEngine  # noqa: E402
from heatseeker.query.errors import QueryError  # noqa: E402
from heatseeker.query.visibility import Visibility  # noqa: E402
from heatseeker.searcher import Searcher  # noqa: E402
from tests.unit.api_fixtures import DOCS, ids_of  # noqa: E402

pytest_plugins = ["tests.unit.api_fixtures"]

IMAGE = "cirros-0.6.2-x86_64"
IMAGE_ID = "8c3b1c0e-5a7e-4a55-9b1b-3f2d6f1a0c11"
NET = "net1"


def _docs() -> list[dict]:
    root = make_doc(
        "a-root", name="web", project_id="alpha",
        parameters={"image": IMAGE, "flavor": "m1.small", "nets": [NET, "net10"],
                    "admin_pass": "******"},
        template={"heat_template_version": "2021-04-16", "resources": {"app": {
            "type": "My::App", "properties": {"image": {"get_param": "image"}}}}},
        environment={"parameters": {}, "parameter_defaults": {"image": IMAGE},
                     "resource_registry": {"My::App": "app.yaml"}},
        resources=[{"name": "app", "type": "My::App", "status": "CREATE_COMPLETE",
                    "status_reason": "", "physical_resource_id": "a-child",
                    "nested_stack_id": "a-child"}],
        outputs=[{"key": "image_url", "value": f"http://glance:9292/v2/images/{IMAGE_ID}",
                  "description": None, "error": None}],
    )
    child = make_doc(
        "a-child", name="web-app-abcdefghijkl", project_id="alpha", parent_id="a-root",
        root_id="a-root", ancestors=["a-root"], path=["web", "web-app-abcdefghijkl"], depth=1,
        parameters={"image": IMAGE},
        template={"heat_template_version": "2021-04-16", "resources": {"server": {
            "type": "OS::Nova::Server", "properties": {"image": IMAGE_ID, "flavor": "m1.small"}}}},
        resources=[{"name": "server", "type": "OS::Nova::Server", "status": "CREATE_COMPLETE",
                    "status_reason": "", "physical_resource_id": "srv-1111-2222",
                    "nested_stack_id": None}],
        outputs=[{"key": "ip", "value": "10.0.0.5", "description": None, "error": None}],
    )
    # another project uses the same image and the same server id
    beta = make_doc(
        "b-root", name="secret-web", project_id="beta",
        parameters={"image": IMAGE, "image_ref": IMAGE_ID},
        resources=[{"name": "server", "type": "OS::Nova::Server", "status": "CREATE_COMPLETE",
                    "status_reason": "", "physical_resource_id": "srv-1111-2222",
                    "nested_stack_id": None}],
    )
    # words of the value, not the value: a candidate the walk must drop
    near = make_doc("a-near", name="near", project_id="alpha",
                    parameters={"image": "CIRROS 0.6.2 x86_64", "note": f"{IMAGE}x"},
                    description=IMAGE)
    return [root, child, beta, near]


@pytest.fixture(scope="module")
def searcher(tmp_path_factory):
    engine = TantivyEngine(str(tmp_path_factory.mktemp("uses") / "index"))
    engine.upsert((d, 1) for d in _docs())
    engine.commit()
    yield Searcher(engine)
    engine.close()


ALPHA = Visibility(frozenset({"alpha"}))
BETA = Visibility(frozenset({"beta"}))
ALL = Visibility.everything()


def _where(answer: uses.Uses) -> dict[str, list[tuple[str, str]]]:
    return {u.stack["id"]: [(p.path, p.match) for p in u.places] for u in answer.stacks}


def test_image_name_root_and_nested_with_paths(searcher):
    answer = uses.find_uses(searcher, IMAGE, view=ALPHA)
    assert _where(answer) == {
        "a-root": [("parameters.image", "exact"),
                   ("environment.parameter_defaults.image", "exact")],
        "a-child": [("parameters.image", "exact")],
    }
    assert answer.roots == ["a-root"]
    child = next(u for u in answer.stacks if u.stack["id"] == "a-child")
    assert child.stack["path"] == ["web", "web-app-abcdefghijkl"]
    assert child.stack["ancestors"] == ["a-root"] and child.stack["root_id"] == "a-root"
    body = answer.as_dict()
    assert body["total"] == 2 and body["roots"] == [
        {"root_id": "a-root", "name": "web", "stacks": ["a-root", "a-child"]}]
    assert not body["truncated"]


def test_id_inside_a_url_and_in_a_template_property(searcher):
    answer = uses.find_uses(searcher, IMAGE_ID, view=ALPHA)
    assert _where(answer) == {
        "a-root": [("outputs.image_url", "within")],
        "a-child": [("template.resources.server.properties.image", "exact")],
    }
    exact = uses.find_uses(searcher, IMAGE_ID, view=ALPHA, exact=True)
    assert _where(exact) == {"a-child": [("template.resources.server.properties.image", "exact")]}


def test_physical_resource_id_output_and_registry(searcher):
    assert _where(uses.find_uses(searcher, "srv-1111-2222", view=ALPHA)) == {
        "a-child": [("resources.server.physical_resource_id", "exact")]}
    assert _where(uses.find_uses(searcher, "10.0.0.5", view=ALPHA)) == {
        "a-child": [("outputs.ip", "exact")]}
    assert _where(uses.find_uses(searcher, "app.yaml", view=ALPHA)) == {
        "a-root": [("environment.resource_registry.My::App", "exact")]}
    # a list item gets its index
    assert _where(uses.find_uses(searcher, NET, view=ALPHA)) == {
        "a-root": [("parameters.nets[0]", "exact")]}


def test_isolation_another_projects_stacks_never_appear(searcher):
    # beta's stacks hold the image, its id and the server id: alpha sees none of them
    for value in (IMAGE, IMAGE_ID, "srv-1111-2222", "secret-web"):
        ids = {u.stack["id"] for u in uses.find_uses(searcher, value, view=ALPHA).stacks}
        assert "b-root" not in ids, value
    assert {u.stack["id"] for u in uses.find_uses(searcher, IMAGE, view=BETA).stacks} == {"b-root"}
    assert {u.stack["project_id"] for u in uses.find_uses(searcher, IMAGE, view=BETA).stacks} == {
        "beta"}
    # nor through a subtree of the other project
    assert uses.find_uses(searcher, IMAGE, view=ALPHA, subtree="b-root").stacks == []
    # nobody: nothing
    assert uses.find_uses(searcher, IMAGE, view=Visibility(frozenset())).stacks == []
    # a cloud admin asking for every project sees both
    assert {u.stack["id"] for u in uses.find_uses(searcher, IMAGE, view=ALL).stacks} == {
        "a-root", "a-child", "b-root"}


def test_admin_only_fields_are_not_shown(searcher):
    view = Visibility(frozenset({"alpha"}), frozenset({"stack_owner"}))
    for u in uses.find_uses(searcher, IMAGE, view=view).stacks:
        assert "stack_owner" not in u.stack


def test_masked_values_are_never_matched(searcher):
    with pytest.raises(QueryError):
        uses.find_uses(searcher, "******", view=ALPHA)
    for bad in ("", "   ", "---", "x" * 2000, "a" * 45):
        with pytest.raises(QueryError):
            uses.check_value(bad)


def test_subtree_and_truncation(searcher):
    assert {u.stack["id"] for u in uses.find_uses(searcher, IMAGE, view=ALPHA,
                                                   subtree="a-child").stacks} == {"a-child"}
    small = uses.find_uses(searcher, IMAGE, view=ALPHA, max_candidates=1)
    assert small.truncated and small.candidates == 1


@pytest.mark.parametrize(("value", "leaf", "want"), [
    ("cirros", "cirros", "exact"),
    ("cirros", "cirros-2", None),  # short values: equality only
    ("net1", "net10", None),
    ("3", 3, "exact"),
    ("true", True, "exact"),
    ("null", None, None),
    (IMAGE_ID, f"/images/{IMAGE_ID}", "within"),
    (IMAGE_ID, f"x{IMAGE_ID}", None),  # glued to a letter
    (IMAGE_ID, f"{IMAGE_ID}9", None),
    ("-abcdefgh-", "x-abcdefgh-y", "within"),  # punctuation at its ends: no boundary needed
    ("******", "******", None),
])
def test_match_kind(value, leaf, want):
    assert uses.match_kind(value, leaf) == want


def test_many_candidates_are_paged(tmp_path):
    engine = TantivyEngine(str(tmp_path / "index"))
    engine.upsert((make_doc(f"s{i:04d}", project_id="alpha", parameters={"image": IMAGE}), 1)
                  for i in range(1203))
    engine.commit()
    answer = uses.find_uses(Searcher(engine), IMAGE, view=ALPHA)
    assert len(answer.stacks) == answer.candidates == 1203 and not answer.truncated
    engine.close()


# -- the API: GET /v1/search/uses, under the caller's visibility ---------------------------------------


def _holders(value: str, project: str | None) -> set[str]:
    return {d["id"] for d in DOCS
            if (project is None or d["project_id"] == project)
            and uses.locate(d, value)}


def test_api_member_sees_only_their_project(api):
    # nginx:1.25 is used in p-alpha and in p-beta
    status, body = api.call("GET", "/v1/search/uses?value=nginx:1.25")
    assert status == 200, body
    got = {s["id"] for s in body["stacks"]}
    assert got == _holders("nginx:1.25", "p-alpha") and got <= ids_of("p-alpha") and got
    assert {s["project_id"] for s in body["stacks"]} == {"p-alpha"}
    assert all("stack_owner" not in s for s in body["stacks"])
    assert body["total"] == len(got) and {sid for r in body["roots"] for sid in r["stacks"]} == got
    # p-beta's own values: nothing for p-alpha, whatever way it asks
    for query in ("value=fedora-coreos-39", "value=fedora-coreos-39&all_projects=false",
                  "value=fedora-coreos-39&exact=true"):
        status, body = api.call("GET", f"/v1/search/uses?{query}")
        assert status == 200 and body["stacks"] == [], (query, body)
    # asking for every project is for cloud admins
    status, body = api.call("GET", "/v1/search/uses?value=nginx:1.25&all_projects=true")
    assert status == 403, body
    # under another project's stack: nothing
    beta = next(iter(ids_of("p-beta")))
    status, body = api.call("GET", f"/v1/search/uses?value=nginx:1.25&under={beta}")
    assert status == 200 and body["stacks"] == []


def test_api_cloud_admin_sees_every_project(api):
    status, body = api.call("GET", "/v1/search/uses?value=nginx:1.25&all_projects=true",
                            project="p-admin", roles="admin", admin=True)
    assert status == 200, body
    assert {s["id"] for s in body["stacks"]} == _holders("nginx:1.25", None)
    assert {s["project_id"] for s in body["stacks"]} == {"p-alpha", "p-beta"}


def test_api_bad_values(api):
    for query in ("", "value=", "value=******", "value=---"):
        status, body = api.call("GET", f"/v1/search/uses?{query}")
        assert status == 400 and body["error"]["code"] == 400, (query, body)
    status, body = api.call("GET", "/v1/search/uses?value=x", identity=False)
    assert status == 401
