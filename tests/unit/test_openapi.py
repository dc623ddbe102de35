"""The API against its OpenAPI document (heatseeker/api/openapi.yaml), in process, with schemathesis.

For every operation, generated requests (valid and invalid ones) sent by a p-alpha member and by a
cloud admin must never get a 5xx, and every answer must be documented: status code, content type,
JSON shape. Invalid input must be a JSON error, and a member's answers stay in p-alpha.

What schemathesis checks here is chosen: ``ignored_auth`` and the checks on the ``X-Auth-Token``
header do not apply to the trusted-headers mode these tests run in (auth is tested by test_api.py
and test_isolation.py), and ``positive_data_acceptance`` cannot know the query DSL, the sortable
fields or the paging window of ``POST /v1/search`` (all documented 400s).
"""

from __future__ import annotations

import re

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytest.register_assert_rewrite("tests.unit.api_fixtures")

from heatseeker.api.app import OPENAPI  # noqa: E402
from heatseeker.api.routes import ROUTES  # noqa: E402
from tests.unit.api_fixtures import ADMIN_ONLY, CLOUD_ADMIN, MEMBER, error_of  # noqa: E402

pytest_plugins = ["tests.unit.api_fixtures"]

with open(OPENAPI) as _f:
    DOCUMENT = yaml.safe_load(_f)

schema = schemathesis.openapi.from_dict(DOCUMENT)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# GET /v1/openapi.yaml: see test_BUG_openapi_yaml_response_schema_is_a_string
DESCRIPTION = "/v1/openapi.yaml"
# negative_data_rejection: also invalid input must be refused, where the app is strict
STRICT = {"/v1/search/stacks/{stack_id}"}

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


def _check(case, response, headers) -> None:
    checks = list(CHECKS)
    if case.operation.path == DESCRIPTION:
        checks.remove(response_schema_conformance)
    if case.operation.path in STRICT:
        checks.append(negative_data_rejection)
    case.validate_response(response, checks=checks, headers=headers)
    if response.status_code >= 400 and case.method.upper() != "HEAD":
        error_of(response.status_code, response.json())


def _member_answers_stay_in_p_alpha(case, response) -> None:
    if response.status_code != 200 or "json" not in response.headers.get("Content-Type", [""])[0]:
        return
    text = response.text
    assert not re.search(r"owner-p-|sup-p-|p-beta|p-gamma", text), text[:500]
    body = response.json()
    for hit in body.get("hits", {}).get("hits", []) if isinstance(body, dict) else []:
        assert not set(ADMIN_ONLY) & set(hit["_source"])


@schema.parametrize()
@FUZZ
def test_as_a_member(case, api_app):
    response = case.call(app=api_app, headers=MEMBER)
    _check(case, response, MEMBER)
    _member_answers_stay_in_p_alpha(case, response)


@schema.parametrize()
@FUZZ
def test_as_a_cloud_admin(case, api_app):
    response = case.call(app=api_app, headers=CLOUD_ADMIN)
    _check(case, response, CLOUD_ADMIN)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_without_identity(case, api_app):
    response = case.call(app=api_app)
    _check(case, response, {})
    public = ("/", "/v1", DESCRIPTION, "/v1/openapi.json")
    if case.operation.path not in public and response.status_code < 500:
        # the identity is checked before anything else is looked at (405 aside)
        assert response.status_code in (401, 405), (response.status_code, response.text[:300])


# -- the routes ---------------------------------------------------------------------------------------

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def documented() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method in METHODS
    }


def served() -> set[tuple[str, str]]:
    """(method, template) of every route the app serves (heatseeker/api/routes.py, the one
    table App.dispatch matches); trailing-slash twins counted once."""
    return {(r.method, r.template.rstrip("/") or "/") for r in ROUTES}


def test_every_route_is_documented_and_vice_versa():
    doc, app = documented(), served()
    assert sorted(doc - app) == [], "documented, not served"
    assert sorted(app - doc) == [], "served, not documented"


# routes whose required query parameters the plain calls below must give
REQUIRED_QUERY = {"/v1/search/uses": "?value=cirros"}


def test_documented_operations_are_served(api):
    for method, path in sorted(documented()):
        concrete = path.replace("{stack_id}", "alpha-shop") + REQUIRED_QUERY.get(path, "")
        body = {} if method == "POST" else None
        status, answer = api.call(method, concrete, body)
        assert status not in (404, 405), (method, path, answer)
        assert status < 400, (method, path, answer)


def test_served_routes_answer(api):
    for method, path in sorted(served()):
        concrete = path.replace("{stack_id}", "alpha-shop") + REQUIRED_QUERY.get(path, "")
        status, answer = api.call(method, concrete, {} if method == "POST" else None)
        assert status < 400, (method, path, answer)


def test_document_is_valid_openapi():
    # schemathesis validated it when loading; the operations are all there
    labels = {op.ok().label for op in schema.get_all_operations()}
    assert labels == {f"{m} {p}" for m, p in documented()}
    assert DOCUMENT["openapi"].startswith("3.0")


# -- what the document gets wrong ---------------------------------------------------------------


def test_fixed_openapi_yaml_response_schema_is_a_string(api):
    """``GET /v1/openapi.yaml`` documents its 200 body as ``{type: string}``, but the body is a
    YAML mapping (what every client, schemathesis included, decodes it to): the schema should be
    ``{type: object}``."""
    content = DOCUMENT["paths"][DESCRIPTION]["get"]["responses"]["200"]["content"]
    resp = api.request("GET", DESCRIPTION, identity=False)
    decoded = yaml.safe_load(resp.text)
    assert isinstance(decoded, dict)
    assert content["application/yaml"]["schema"].get("type") == "object"
