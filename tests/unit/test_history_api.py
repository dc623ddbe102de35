"""History, diff and change search through the API: the same tenant isolation as
GET /v1/search/stacks/{id} (another project's stack is a 404, never a 403), policy, bad input."""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("tests.unit.api_fixtures")

from tests.unit.api_fixtures import DOCS, error_of, ids_of  # noqa: E402

pytest_plugins = ["tests.unit.api_fixtures"]

ADMIN = {"project": "p-admin", "roles": "admin", "admin": True}


def test_history_of_an_own_stack(api):
    status, body = api.call("GET", "/v1/search/stacks/alpha-shop/history")
    assert status == 200, body
    assert body["stack_id"] == "alpha-shop" and body["project_id"] == "p-alpha"
    assert [(r["revision"], r["status"], r["request_id"]) for r in body["revisions"]] == [
        (1, "CREATE_COMPLETE", "req-create"), (2, "UPDATE_COMPLETE", "req-update")]
    assert body["revisions"][1]["changed"] == ["parameters.revision_probe"]


def test_diff_of_an_own_stack(api):
    status, body = api.call("GET", "/v1/search/stacks/alpha-shop/diff")
    assert status == 200, body
    assert (body["from"]["revision"], body["to"]["revision"]) == (1, 2)
    assert body["changes"] == [{"path": "parameters.revision_probe", "kind": "changed",
                                "old": "one", "new": "two"}]
    status, body = api.call("GET", "/v1/search/stacks/alpha-shop/diff?from=2&to=1")
    assert status == 200 and body["changes"][0]["old"] == "two"
    status, body = api.call("GET", "/v1/search/stacks/alpha-shop/diff?from=1&to=1")
    assert status == 200 and body["changes"] == []


@pytest.mark.parametrize("route", ["history", "diff", "diff?from=1&to=2"])
def test_another_projects_stack_is_a_404_like_an_unknown_one(api, route):
    for stack in ("beta-k8s", "no-such-stack"):
        status, body = api.call("GET", f"/v1/search/stacks/{stack}/{route}")
        assert status == 404, (stack, body)
        error = error_of(status, body)
        assert "beta" not in error["message"].replace(stack, "") and "p-beta" not in str(body)
    # the same with all_projects asked for by a member: refused by policy, before any lookup
    status, body = api.call("GET", f"/v1/search/stacks/beta-k8s/{route.split('?')[0]}?all_projects=true")
    assert status == 403, body


def test_cloud_admin_sees_any_project_with_all_projects(api):
    status, _ = api.call("GET", "/v1/search/stacks/beta-k8s/history", **ADMIN)
    assert status == 404  # an admin's own project scope, as for GET /v1/search/stacks/{id}
    status, body = api.call("GET", "/v1/search/stacks/beta-k8s/history?all_projects=true", **ADMIN)
    assert status == 200 and body["project_id"] == "p-beta"


def test_changes_stay_in_the_callers_project(api):
    status, body = api.call("GET", "/v1/search/changes?field=parameters.revision_probe&since=now-1d")
    assert status == 200, body
    assert {c["stack_id"] for c in body["changes"]} == ids_of("p-alpha")
    assert {c["project_id"] for c in body["changes"]} == {"p-alpha"}
    assert all((c["old"], c["new"]) == ("one", "two") for c in body["changes"])
    status, body = api.call("GET", "/v1/search/changes?field=parameters.revision_probe",
                            project="p-nobody")
    assert status == 200 and body["changes"] == [] and body["total"] == 0
    status, body = api.call("GET", "/v1/search/changes?field=parameters&all_projects=true")
    assert status == 403, body
    status, body = api.call("GET", "/v1/search/changes?field=parameters.revision_probe"
                            "&all_projects=true", **ADMIN)
    assert status == 200 and len(body["changes"]) == len(DOCS)


def test_changes_bad_input_is_a_400(api):
    for query in ("since=yesterday", "until=now-", "limit=0", "limit=x", "limit=5000",
                  "include_created=maybe"):
        status, body = api.call("GET", f"/v1/search/changes?field=parameters.image&{query}")
        assert status == 400, (query, body)
        error_of(status, body)
    for query in ("from=0", "to=x", "from=-1"):
        status, body = api.call("GET", f"/v1/search/stacks/alpha-shop/diff?{query}")
        assert status == 400, (query, body)
    status, body = api.call("GET", "/v1/search/stacks/alpha-shop/diff?from=1&to=99")
    assert status == 404 and "no revision 99" in error_of(status, body)["message"]


def test_history_routes_need_an_identity_and_get(api):
    status, _ = api.call("GET", "/v1/search/stacks/alpha-shop/history", identity=False)
    assert status == 401
    status, _ = api.call("POST", "/v1/search/stacks/alpha-shop/history", {})
    assert status == 405
    status, _ = api.call("GET", "/v1/search/changes", roles="nobody")
    assert status == 403


def test_one_revision_with_its_document(api):
    status, body = api.call("GET", "/v1/search/stacks/alpha-shop/history?revision=1")
    assert status == 200, body
    assert [r["revision"] for r in body["revisions"]] == [1]
    assert body["document"]["parameters"]["revision_probe"] == "one"
    assert "stack_owner" not in body["document"]  # admin-only fields stay hidden
    status, body = api.call("GET", "/v1/search/stacks/alpha-shop/history?revision=2")
    assert body["revisions"][0]["changed"] == ["parameters.revision_probe"]
    status, body = api.call("GET", "/v1/search/stacks/alpha-shop/history?revision=9")
    assert status == 404
    status, body = api.call("GET", "/v1/search/stacks/beta-k8s/history?revision=1")
    assert status == 404 and "beta-k8s" in error_of(status, body)["message"]
    status, body = api.call("GET", "/v1/search/stacks/beta-k8s/history?revision=1",
                            project="p-admin", roles="admin", admin=True)
    assert status == 404  # an admin's own scope unless all_projects
    status, body = api.call("GET", "/v1/search/stacks/beta-k8s/history?revision=1&all_projects=true",
                            project="p-admin", roles="admin", admin=True)
    assert status == 200 and body["document"]["stack_owner"] == "owner-p-beta"
