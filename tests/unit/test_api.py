"""The search API endpoint by endpoint, in process, over a tantivy index of the 40-stack CORPUS.

Isolation (what one caller may not see) is tests/unit/test_isolation.py; conformance to the
OpenAPI document is tests/unit/test_openapi.py.
"""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

pytest.register_assert_rewrite("tests.unit.api_fixtures")

from heatseeker.api.app import OPENAPI  # noqa: E402
from tests.unit.api_fixtures import (  # noqa: E402
    ADMIN_ONLY,
    DOCS_BY_ID,
    MEMBER,
    STACK,
    docs_of,
    error_of,
    hit_ids,
    ids_of,
)

pytest_plugins = ["tests.unit.api_fixtures"]

ALPHA = docs_of("p-alpha")
ADMIN = {"project": "p-admin", "roles": "admin", "admin": True}


def counts(docs, field, size=1000):
    """Documents per value, most first, ties by value (the engines' bucket order)."""
    c: Counter[str] = Counter()
    for doc in docs:
        value = doc.get(field)
        values = value if isinstance(value, list) else [value]
        c.update({str(v) for v in values if v is not None})
    return sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:size]


def by_name(docs):
    return [d["id"] for d in sorted(docs, key=lambda d: (d["name"], d["id"]))]


# -- versions, description, plugins -------------------------------------------------------------


def test_versions_document_needs_no_auth(api):
    status, body = api.call("GET", "/", identity=False)
    assert status == 300
    (version,) = body["versions"]
    assert version["id"] == "v1.0" and version["status"] == "CURRENT"
    assert version["links"] == [{"rel": "self", "href": "http://localhost/v1/"}]


def test_version_document_links_the_description(api):
    status, body = api.call("GET", "/v1/", identity=False)
    assert status == 200
    rels = {link["rel"]: link["href"] for link in body["version"]["links"]}
    assert rels["describedby"] == "http://localhost/v1/openapi.yaml"


def test_openapi_yaml_and_json_need_no_auth(api):
    resp = api.request("GET", "/v1/openapi.yaml", identity=False)
    assert resp.status_int == 200 and resp.content_type == "application/yaml"
    described = yaml.safe_load(resp.text)
    with open(OPENAPI) as f:
        assert described == yaml.safe_load(f)
    assert described["openapi"].startswith("3.")
    status, as_json = api.call("GET", "/v1/openapi.json", identity=False)
    assert status == 200 and as_json == described


def test_plugins_as_searchlightclient_reads_them(api):
    status, body = api.call("GET", "/v1/search/plugins")
    assert status == 200
    assert list(body) == ["plugins"]
    # `openstack search resource type list` shows these three columns
    assert body["plugins"] == [
        {"type": STACK, "alias-searching": "heatseeker-search",
         "alias-indexing": "heatseeker-listener"}
    ]  # fmt: skip


def test_plugins_need_identity(api):
    status, body = api.call("GET", "/v1/search/plugins", identity=False)
    assert status == 401
    error_of(status, body)


def test_reader_role_may_search(api):
    assert api.search({"limit": 0}, roles="reader")["hits"]["total"] == len(ALPHA)


def test_unknown_role_is_forbidden(api):
    status, body = api.call("POST", "/v1/search", {}, roles="heat_stack_user")
    assert status == 403
    assert "search:query" in error_of(status, body)["message"]


# -- facets ---------------------------------------------------------------------------------------

OPTIONED = ["region", "status", "action", "state", "tags", "resource_types", "template_version",
            "registry_types"]


def facets(api, query="", **who):
    status, body = api.call("GET", "/v1/search/facets" + query, **who)
    assert status == 200, body
    assert list(body) == [STACK]
    return body[STACK]


def test_facets_count_the_callers_stacks(api):
    body = facets(api)
    assert body["doc_count"] == len(ALPHA)
    by_name_ = {f["name"]: f for f in body["facets"]}
    assert [f["name"] for f in body["facets"] if "options" in f] == OPTIONED
    for name in OPTIONED:
        assert by_name_[name]["type"] == "string"
        got = [(o["key"], o["doc_count"]) for o in by_name_[name]["options"]]
        assert got == counts(ALPHA, name), name
    for name, kind in (("created_at", "date"), ("depth", "integer"), ("name", "string"),
                       ("parameters", "object"), ("resources", "object")):  # fmt: skip
        assert by_name_[name] == {"name": name, "type": kind}


@pytest.mark.parametrize("flag", ["False", "false"])
def test_facets_include_fields_false_gives_only_doc_count(api, flag):
    assert facets(api, f"?include_fields={flag}") == {"doc_count": len(ALPHA)}


@pytest.mark.parametrize("flag", ["True", "true"])
def test_facets_include_fields_true(api, flag):
    assert "facets" in facets(api, f"?include_fields={flag}")


@pytest.mark.parametrize("flag", ["True", "true"])
def test_facets_exclude_options(api, flag):
    body = facets(api, f"?exclude_options={flag}")
    assert body["facets"] and all("options" not in f for f in body["facets"])
    assert [f["name"] for f in body["facets"][: len(OPTIONED)]] == OPTIONED


@pytest.mark.parametrize("flag", ["False", "false"])
def test_facets_exclude_options_false(api, flag):
    body = facets(api, f"?exclude_options={flag}")
    assert sum("options" in f for f in body["facets"]) == len(OPTIONED)


def test_facets_limit_terms(api):
    body = facets(api, "?limit_terms=2")
    for facet in body["facets"]:
        if facet["name"] in OPTIONED:
            expected = counts(ALPHA, facet["name"], 2)
            assert [(o["key"], o["doc_count"]) for o in facet["options"]] == expected
    # 0 means no limit
    zero = facets(api, "?limit_terms=0")
    tags = next(f for f in zero["facets"] if f["name"] == "tags")
    assert len(tags["options"]) == len(counts(ALPHA, "tags"))


def test_facets_as_searchlightclient_sends_them(api):
    # openstack search facet list --type OS::Heat::Stack --limit-terms 3
    body = facets(api, f"?type={STACK}&limit_terms=3&all_projects=False")
    assert body["doc_count"] == len(ALPHA)


@pytest.mark.parametrize("value", ["x", "-1", "1.5", "1e3"])
def test_facets_bad_limit_terms(api, value):
    status, body = api.call("GET", f"/v1/search/facets?limit_terms={value}")
    assert status == 400
    assert "limit_terms" in error_of(status, body)["message"]


@pytest.mark.parametrize("name", ["include_fields", "exclude_options", "all_projects"])
def test_facets_bad_boolean(api, name):
    status, body = api.call("GET", f"/v1/search/facets?{name}=maybe")
    assert status == 400
    error_of(status, body)


def test_facets_unknown_type(api):
    status, body = api.call("GET", "/v1/search/facets?type=OS::Nova::Server")
    assert status == 400
    assert "OS::Nova::Server" in error_of(status, body)["message"]


def test_facets_need_identity(api):
    assert api.call("GET", "/v1/search/facets", identity=False)[0] == 401


# -- search: what python-searchlightclient 2.1.1 sends --------------------------------------------

CLIENT_SOURCE = ["id", "name", "updated_at"]


def client_body(query: str, **kw):
    """``openstack search query QUERY`` (a non-JSON query becomes a query_string)."""
    body = {
        "query": {"query_string": {"query": query}},
        "type": None,
        "offset": 0,
        "limit": 10,
        "sort": None,
        "_source": CLIENT_SOURCE,
        "all_projects": False,
    }
    body.update(kw)
    return body


def check_hit_shape(hit: dict) -> None:
    assert {"_id", "_index", "_type", "_score", "_source"} <= set(hit)
    assert isinstance(hit["_id"], str) and hit["_type"] == STACK
    assert isinstance(hit["_index"], str)
    assert hit["_score"] is None or isinstance(hit["_score"], int | float)


def test_searchlightclient_query(api):
    answer = api.search(client_body("name:lab"))
    assert isinstance(answer["hits"]["total"], int)
    assert answer["hits"]["total"] == 1
    (hit,) = answer["hits"]["hits"]
    check_hit_shape(hit)
    # the client replaces _id with _source.id and shows the _source columns
    assert hit["_source"] == {"id": "alpha-lab", "name": "lab", "updated_at": None}
    assert {"took", "timed_out", "_shards"} <= set(answer)
    assert isinstance(answer["took"], int) and answer["timed_out"] is False


def test_searchlightclient_query_sorted_with_highlight_and_type(api):
    body = client_body(
        "shop",
        type=[STACK],
        sort="name:desc",
        highlight={"fields": {"name": {}}, "pre_tags": ["<b>"], "post_tags": ["</b>"]},
    )
    answer = api.search(body)
    shop = [d for d in ALPHA if "shop" in d["name"]]
    assert hit_ids(answer) == by_name(shop)[::-1]
    for hit in answer["hits"]["hits"]:
        assert set(hit["_source"]) == set(CLIENT_SOURCE)
        assert any("<b>shop</b>" in f for f in hit["highlight"]["name"])


def test_searchlightclient_sort_list_of_objects(api):
    answer = api.search(client_body("*", sort=[{"updated_at": "desc"}], limit=3))
    dated = sorted((d for d in ALPHA if d["updated_at"]), key=lambda d: d["updated_at"])[::-1]
    assert hit_ids(answer) == [d["id"] for d in dated[:3]]


def test_searchlightclient_escaped_slash(api):
    # the client escapes "/" in a non-JSON query
    answer = api.search(
        client_body("parameters.image:prom\\/prometheus\\:v2.51", all_projects=False)
    )
    assert answer["hits"]["total"] == 0  # p-beta's stack: not the caller's
    assert api.admin_search(client_body("parameters.image:prom\\/prometheus\\:v2.51",
                                        all_projects=True))["hits"]["total"] == 1  # fmt: skip


def test_searchlightclient_bare_type_flag(api):
    assert api.search(client_body("*", type=[]))["hits"]["total"] == len(ALPHA)


def test_empty_body_and_get_with_body(api):
    answer = api.search()
    assert answer["hits"]["total"] == len(ALPHA)
    assert len(answer["hits"]["hits"]) == len(ALPHA)  # default limit 25
    status, got = api.call("GET", "/v1/search", {"query": {"term": {"status": "CREATE_FAILED"}}})
    assert status == 200 and hit_ids(got) == ["alpha-lab"]
    status, got = api.call("GET", "/v1/search")
    assert status == 200 and got["hits"]["total"] == len(ALPHA)
    status, got = api.call("POST", "/v1/search/", {"limit": 1})
    assert status == 200 and len(got["hits"]["hits"]) == 1


def test_unknown_type_in_body(api):
    status, body = api.call("POST", "/v1/search", {"type": "OS::Glance::Image"})
    assert status == 400
    assert "OS::Glance::Image" in error_of(status, body)["message"]


# -- _source --------------------------------------------------------------------------------------


def source_of(api, spec, stack="alpha-shop"):
    answer = api.search({"query": {"ids": {"values": [stack]}}, "_source": spec})
    (hit,) = answer["hits"]["hits"]
    return hit["_source"]


def visible(doc):
    return {k: v for k, v in doc.items() if k not in ADMIN_ONLY}


@pytest.mark.parametrize("spec", [True, None, [], "*", ["*"]])
def test_source_whole(api, spec):
    assert source_of(api, spec) == visible(DOCS_BY_ID["alpha-shop"])


def test_source_forms(api):
    shop = DOCS_BY_ID["alpha-shop"]
    assert source_of(api, False) == {}
    assert source_of(api, "name") == {"name": "shop"}
    assert source_of(api, ["name", "status"]) == {"name": "shop", "status": shop["status"]}
    assert source_of(api, ["parameters.image"]) == {"parameters": {"image": "nginx:1.25"}}
    assert source_of(api, ["stat*"]) == {"status": shop["status"], "state": shop["state"],
                                         "status_reason": shop["status_reason"]}  # fmt: skip
    assert source_of(api, {"include": ["name", "tags"]}) == {
        "name": "shop",
        "tags": ["prod", "web"],
    }
    assert source_of(api, {"includes": ["name"]}) == {"name": "shop"}
    excluded = source_of(api, {"exclude": ["parameters", "template"]})
    assert (
        "parameters" not in excluded and "template" not in excluded and excluded["name"] == "shop"
    )
    both = source_of(api, {"include": ["parameters"], "excludes": ["parameters.image"]})
    assert both == {"parameters": {"flavor": "m1.small", "replicas": 3}}
    assert source_of(api, ["no_such_field"]) == {}


@pytest.mark.parametrize("spec", [1, {"fields": ["x"]}, [1], [""]])
def test_source_bad(api, spec):
    status, body = api.call("POST", "/v1/search", {"_source": spec})
    assert status == 400
    error_of(status, body)


# -- sort, version, paging ------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["name", "name.raw", "name:asc", {"name": "asc"},
                                  {"name": {"order": "asc"}}, ["name"]])  # fmt: skip
def test_sort_by_name(api, sort):
    answer = api.search({"sort": sort, "limit": 100, "_source": ["name"]})
    assert hit_ids(answer) == by_name(ALPHA)
    for hit in answer["hits"]["hits"]:
        assert hit["sort"] == [hit["_source"]["name"], hit["_id"]]


def test_sort_by_name_desc_sorts_the_exact_value(api):
    answer = api.search({"sort": "name:desc", "limit": 100})
    assert hit_ids(answer) == [d["id"] for d in sorted(ALPHA, key=lambda d: (d["name"], d["id"]),
                                                       reverse=True)]  # fmt: skip


def test_sort_several_keys(api):
    answer = api.search({"sort": [{"status": "asc"}, {"created_at": "desc"}], "limit": 100})
    expected = sorted(ALPHA, key=lambda d: d["created_at"], reverse=True)
    expected = sorted(expected, key=lambda d: d["status"])
    assert hit_ids(answer) == [d["id"] for d in expected]
    first = answer["hits"]["hits"][0]
    assert first["sort"] == [expected[0]["status"], expected[0]["created_at"], expected[0]["id"]]


def test_sort_missing_values_last(api):
    answer = api.search({"sort": {"updated_at": "asc"}, "limit": 100})
    dated = [d for d in ALPHA if d["updated_at"]]
    assert hit_ids(answer)[: len(dated)] == [
        d["id"] for d in sorted(dated, key=lambda d: d["updated_at"])
    ]


@pytest.mark.parametrize(
    "sort", ["nosuch", "parameters.image", "name:up", {"name": {"mode": "min"}}]
)
def test_sort_bad(api, sort):
    status, body = api.call("POST", "/v1/search", {"sort": sort})
    assert status == 400
    error_of(status, body)


def test_version(api):
    answer = api.search({"version": True, "limit": 100})
    for hit in answer["hits"]["hits"]:
        assert hit["_version"] == DOCS_BY_ID[hit["_id"]]["version"]
    assert all("_version" not in h for h in api.search({"limit": 3})["hits"]["hits"])


def test_offset_and_limit(api):
    everything = hit_ids(api.search({"sort": "name", "limit": 100}))
    assert hit_ids(api.search({"sort": "name", "offset": 4, "limit": 3})) == everything[4:7]
    assert hit_ids(api.search({"sort": "name", "from": 4, "size": 3})) == everything[4:7]
    answer = api.search({"limit": 0})
    assert answer["hits"]["hits"] == [] and answer["hits"]["total"] == len(ALPHA)


def test_search_after_pages_through_every_stack_once_in_order(api):
    body = {"sort": "name", "limit": 3, "_source": ["name"]}
    seen: list[str] = []
    answer = api.search(body)
    pages = 0
    while answer["hits"]["hits"]:
        pages += 1
        assert answer["hits"]["total"] >= len(answer["hits"]["hits"])
        seen += hit_ids(answer)
        cursor = answer["hits"]["hits"][-1]["sort"]
        answer = api.search({**body, "search_after": cursor})
        assert pages < 10
    assert seen == by_name(ALPHA)
    assert pages == 4


def test_search_after_descending_on_a_date(api):
    body = {"sort": [{"created_at": "desc"}], "limit": 5}
    seen = []
    answer = api.search(body)
    while answer["hits"]["hits"]:
        seen += hit_ids(answer)
        answer = api.search({**body, "search_after": answer["hits"]["hits"][-1]["sort"]})
    assert seen == [d["id"] for d in sorted(ALPHA, key=lambda d: d["created_at"], reverse=True)]


@pytest.mark.parametrize(
    "body",
    [
        {"search_after": ["x", "alpha-ci"]},  # no sort
        {"sort": "_score", "search_after": [1.0, "alpha-ci"]},
        {"sort": "name", "search_after": ["x"]},  # one value short
        {"sort": "name", "search_after": ["x", "alpha-ci"], "offset": 1},
        {"sort": "name", "search_after": "x"},
        {"sort": "name", "search_after": [{"a": 1}, "x"]},
        {"sort": "name", "search_after": ["x", 3]},
    ],
)
def test_search_after_bad(api, body):
    status, answer = api.call("POST", "/v1/search", body)
    assert status == 400, answer
    error_of(status, answer)


def test_window_over_max_result_window_points_at_search_after(api):
    status, body = api.call("POST", "/v1/search", {"offset": 9_990, "limit": 20})
    assert status == 400
    assert "search_after" in error_of(status, body)["message"]
    assert api.call("POST", "/v1/search", {"offset": 9_990, "limit": 10})[0] == 200


@pytest.mark.parametrize("body", [{"limit": 1001}, {"limit": -1}, {"offset": "x"},
                                  {"limit": 1.5}, {"limit": True}, {"offset": 1, "from": 1}])  # fmt: skip
def test_bad_paging(api, body):
    status, answer = api.call("POST", "/v1/search", body)
    assert status == 400
    error_of(status, answer)


# -- highlight, aggregations ----------------------------------------------------------------------


def test_highlight(api):
    answer = api.search(
        {"query": {"match": {"description": "web shop"}},
         "highlight": {"fields": {"description": {}, "name": {}}}}
    )  # fmt: skip
    assert hit_ids(answer) == ["alpha-shop"]
    marks = answer["hits"]["hits"][0]["highlight"]
    assert marks["description"] == ["Production <em>web</em> <em>shop</em> for the alpha team"]
    assert marks["name"] == ["<em>shop</em>"]


def test_highlight_tags_and_dynamic_field(api):
    answer = api.search(
        {"query": {"term": {"parameters.image": "postgres:16"}},
         "highlight": {"fields": {"parameters.image": {}}, "pre_tags": ["["],
                       "post_tags": ["]"]}}
    )  # fmt: skip
    (hit,) = answer["hits"]["hits"]
    assert hit["highlight"] == {"parameters.image": ["[postgres:16]"]}


def test_highlight_bad(api):
    for spec in ({"fields": ["name"]}, {"name": {}}, {"fields": {"nosuch": {}}},
                 {"fields": {"name": {}}, "type": "plain"}):  # fmt: skip
        status, body = api.call("POST", "/v1/search", {"highlight": spec})
        assert status == 400, spec
        error_of(status, body)


def test_aggregations(api):
    answer = api.search(
        {"query": {"terms": {"tags": ["prod", "infra"]}}, "limit": 0,
         "aggs": {"by_status": {"terms": {"field": "status"}},
                  "by_tag": {"terms": {"field": "tags", "size": 2}}}}
    )  # fmt: skip
    matching = [d for d in ALPHA if {"prod", "infra"} & set(d["tags"])]
    assert answer["hits"]["total"] == len(matching)
    aggs = answer["aggregations"]
    assert set(aggs) == {"by_status", "by_tag"}
    for name, field, size in (("by_status", "status", 10), ("by_tag", "tags", 2)):
        buckets = [(b["key"], b["doc_count"]) for b in aggs[name]["buckets"]]
        assert buckets == counts(matching, field, size)
    assert api.search({"aggregations": {"n": {"terms": {"field": "name"}}}, "limit": 0})[
        "aggregations"
    ]["n"]["buckets"][0] == {"key": "ci-pool", "doc_count": 1}


@pytest.mark.parametrize(
    "aggs",
    [
        {"a": {"avg": {"field": "depth"}}},
        {"a": {"terms": {"field": "depth"}}},
        {"a": {"terms": {"field": "nosuch"}}},
        {"a": {"terms": {"field": "status"}, "aggs": {"b": {"terms": {"field": "tags"}}}}},
        {"a": {"terms": {"field": "status", "size": 0}}},
        {"a": {"terms": {"field": "status", "order": {"_count": "asc"}}}},
        [],
    ],
)
def test_aggregations_bad(api, aggs):
    status, body = api.call("POST", "/v1/search", {"aggs": aggs})
    assert status == 400, body
    error_of(status, body)


# -- rollup, under ----------------------------------------------------------------------------------


@pytest.mark.parametrize("track, total, relation", [
    (None, 2, "eq"), (True, 2, "eq"), (2, 2, "eq"), ("5", 2, "eq"), (1, 1, "gte"), (False, 0, "gte"),
    ("false", 0, "gte"),
])
def test_rollup_total_up_to_track_total_hits(api, track, total, relation):
    """A roll-up's total of roots is exact up to ``track_total_hits`` (default 10,000), else that
    bound with ``total_relation`` "gte"; the page is the same either way."""
    body = {"query": {"terms": {"status": ["UPDATE_FAILED", "UPDATE_COMPLETE"]}}, "rollup": "root",
            "limit": 1}
    if track is not None:
        body["track_total_hits"] = track
    answer = api.search(body)
    assert (answer["hits"]["total"], answer["rollup"]["total_relation"]) == (
        max(total, 1) if relation == "gte" else total, relation)
    assert len(answer["hits"]["hits"]) == 1


@pytest.mark.parametrize("track", [-1, 1.5, "lots", [], {}])
def test_rollup_track_total_hits_bad(api, track):
    status, body = api.call("POST", "/v1/search", {"rollup": "root", "track_total_hits": track})
    assert status == 400, body
    assert "track_total_hits" in error_of(status, body)["message"]


def test_rollup_root(api):
    answer = api.search(
        {"query": {"terms": {"status": ["UPDATE_FAILED", "UPDATE_COMPLETE"]}}, "rollup": "root",
         "_source": ["name"]}
    )  # fmt: skip
    assert answer["rollup"] == {"matched_stacks": 3, "truncated": False, "total_relation": "eq"}
    assert answer["hits"]["total"] == 2
    roots = {hit["_id"]: hit for hit in answer["hits"]["hits"]}
    assert set(roots) == {"alpha-shop", "alpha-ci"}
    shop = roots["alpha-shop"]
    check_hit_shape(shop)
    assert shop["_source"] == {"name": "shop"}
    assert [(m["id"], m["path"], m["depth"]) for m in shop["matches"]] == [
        ("alpha-shop-web-1", ["shop", "shop-web", "shop-web-1"], 2)
    ]
    assert shop["matched"] == 1 and roots["alpha-ci"]["matched"] == 2
    ci = roots["alpha-ci"]
    assert [(m["id"], m["path"], m["depth"]) for m in ci["matches"]] == [
        ("alpha-ci", ["ci-runner"], 0), ("alpha-ci-pool", ["ci-runner", "ci-pool"], 1)
    ]  # fmt: skip


def test_rollup_paging(api):
    all_roots = hit_ids(api.search({"rollup": "root", "limit": 100}))
    roots = [d["id"] for d in ALPHA if d["depth"] == 0]
    assert sorted(all_roots) == sorted(roots)
    assert hit_ids(api.search({"rollup": "root", "offset": 2, "limit": 2})) == all_roots[2:4]


def test_rollup_bad(api):
    status, body = api.call("POST", "/v1/search", {"rollup": "leaf"})
    assert status == 400
    error_of(status, body)


def test_under(api):
    answer = api.search({"under": "alpha-shop", "limit": 100})
    assert set(hit_ids(answer)) == {"alpha-shop", "alpha-shop-web", "alpha-shop-web-0",
                                    "alpha-shop-web-1", "alpha-shop-db"}  # fmt: skip
    answer = api.search({"under": "alpha-shop-web", "query": {"term": {"status": "UPDATE_FAILED"}}})
    assert hit_ids(answer) == ["alpha-shop-web-1"]
    answer = api.search({"under": "alpha-shop", "rollup": "root"})
    assert hit_ids(answer) == ["alpha-shop"]
    assert len(answer["hits"]["hits"][0]["matches"]) == 5
    assert api.search({"under": "no-such-stack"})["hits"]["total"] == 0


@pytest.mark.parametrize("under", ["", " ", 3, ["alpha-shop"], "x" * 300])
def test_under_bad(api, under):
    status, body = api.call("POST", "/v1/search", {"under": under})
    assert status == 400
    error_of(status, body)


# -- one stack ----------------------------------------------------------------------------------------


def shape(node):
    return (node["stack"]["id"], [shape(child) for child in node["children"]])


def test_stack_tree_of_own_stack(api):
    status, body = api.call("GET", "/v1/search/stacks/alpha-shop")
    assert status == 200
    assert body["stack"] == visible(DOCS_BY_ID["alpha-shop"])
    assert shape(body) == (
        "alpha-shop",
        [("alpha-shop-db", []),
         ("alpha-shop-web", [("alpha-shop-web-0", []), ("alpha-shop-web-1", [])])],
    )  # fmt: skip
    child = body["children"][1]["stack"]
    assert child["parent_resource"] == "web" and child["status"] == "CREATE_COMPLETE"


def test_stack_tree_of_a_nested_stack(api):
    status, body = api.call("GET", "/v1/search/stacks/alpha-shop-web")
    assert status == 200
    assert shape(body) == ("alpha-shop-web", [("alpha-shop-web-0", []), ("alpha-shop-web-1", [])])
    status, body = api.call("GET", "/v1/search/stacks/alpha-lab")
    assert status == 200 and body["children"] == []


def test_stack_of_another_project_is_not_found(api):
    status, body = api.call("GET", "/v1/search/stacks/beta-k8s")
    assert status == 404
    error_of(status, body)
    assert api.call("GET", "/v1/search/stacks/beta-k8s", **ADMIN)[0] == 404
    assert api.call("GET", "/v1/search/stacks/no-such-stack")[0] == 404


def test_stack_tree_for_admin_with_all_projects(api):
    status, body = api.call("GET", "/v1/search/stacks/beta-k8s?all_projects=true", **ADMIN)
    assert status == 200
    assert body["stack"]["stack_owner"] == "owner-p-beta"
    assert shape(body) == (
        "beta-k8s",
        [("beta-k8s-masters", [("beta-k8s-master-0", []), ("beta-k8s-master-1", []),
                               ("beta-k8s-master-2", [])]),
         ("beta-k8s-minions", [("beta-k8s-minion-0", [("beta-k8s-minion-0-vol", [])])])],
    )  # fmt: skip


def test_stack_tree_all_projects_forbidden_for_members(api):
    status, body = api.call("GET", "/v1/search/stacks/beta-k8s?all_projects=true")
    assert status == 403
    error_of(status, body)


def test_stack_needs_identity(api):
    assert api.call("GET", "/v1/search/stacks/alpha-shop", identity=False)[0] == 401


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"{", b"not json", b"\xff\xfe", b'{"query": }'])
def test_bad_json(api, raw):
    resp = api.request("POST", "/v1/search", raw=raw)
    assert resp.status_int == 400 and resp.content_type == "application/json"
    assert "JSON" in error_of(400, resp.json)["message"]


@pytest.mark.parametrize("body", [[], "x", 3, [{"query": {}}]])
def test_body_not_an_object(api, body):
    status, answer = api.call("POST", "/v1/search", body)
    assert status == 400
    error_of(status, answer)


def test_unknown_body_key(api):
    status, body = api.call("POST", "/v1/search", {"qeury": {}})
    assert status == 400
    assert "qeury" in error_of(status, body)["message"]


@pytest.mark.parametrize(
    "query",
    [
        {"term": {"nosuch": "x"}},
        {"query_string": {"query": "nosuch:x"}},
        {"match": {"parameters": "x"}},
    ],
)
def test_unknown_field(api, query):
    status, body = api.call("POST", "/v1/search", {"query": query})
    assert status == 400
    assert "nosuch" in error_of(status, body)["message"] or "parameters" in body["error"]["message"]


@pytest.mark.parametrize("qtype", ["fuzzy", "geo_shape", "more_like_this", "nested", "has_child",
                                   "percolate", "regexp", "span_term"])  # fmt: skip
def test_unsupported_query_type(api, qtype):
    status, body = api.call("POST", "/v1/search", {"query": {qtype: {"name": "x"}}})
    assert status == 400
    assert qtype in error_of(status, body)["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"query": {"script": {"script": "doc['x']"}}},
        {"query": {"bool": {"filter": [{"script": {"script": {"source": "1"}}}]}}},
        {"query": {"function_score": {"script_score": {"script": "1"}}}},
        {"sort": {"_script": {"type": "number", "script": "1"}}},
        {"aggs": {"a": {"terms": {"field": "status", "script": "x"}}}},
        {"script_fields": {"x": {"script": "1"}}},
        {"highlight": {"fields": {"name": {"script": "1"}}}},
    ],
)
def test_script_anywhere_is_refused(api, body):
    status, answer = api.call("POST", "/v1/search", body)
    assert status in (400, 403), answer
    assert "script" in error_of(status, answer)["message"]


@pytest.mark.parametrize("key", ["self", "schema"])
def test_read_only_keys_are_forbidden(api, key):
    status, body = api.call("POST", "/v1/search", {key: "/v1/search", "query": {"match_all": {}}})
    assert status == 403
    assert key in error_of(status, body)["message"]


@pytest.mark.parametrize(
    "method, path",
    [
        ("DELETE", "/v1/search"),
        ("PUT", "/v1/search"),
        ("POST", "/v1/search/plugins"),
        ("DELETE", "/v1/search/facets"),
        ("POST", "/v1/search/stacks/alpha-shop"),
        ("DELETE", "/v1/search/stacks/alpha-shop"),
    ],
)
def test_wrong_method(api, method, path):
    status, body = api.call(method, path)
    assert status == 405
    error_of(status, body)


@pytest.mark.parametrize(
    "path",
    ["/v2", "/v1/nothing", "/v1/search/nothing", "/v1/search/stacks/a/b", "/v1/search/stacks/"],
)
def test_unknown_path(api, path):
    status, body = api.call("GET", path)
    assert status == 404
    error_of(status, body)


def test_huge_body(api):
    raw = b'{"query": {"match_all": {}}, "index": "' + b"x" * 1_100_000 + b'"}'
    resp = api.request("POST", "/v1/search", raw=raw)
    assert resp.status_int == 413
    error_of(413, resp.json)


def test_huge_chunked_body(api):
    # no Content-Length (chunked): the body is read up to the limit only
    from io import BytesIO

    import webob

    req = webob.Request.blank("/v1/search", method="POST", headers=MEMBER)
    req.environ.pop("CONTENT_LENGTH", None)
    req.environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    req.environ["wsgi.input_terminated"] = True
    req.environ["wsgi.input"] = BytesIO(b"[" + b"1," * 600_000 + b"1]")
    resp = req.get_response(api.app)
    assert resp.status_int == 413, resp.text[:200]
    error_of(413, resp.json)


def test_too_deep_or_too_many_clauses(api):
    deep: dict = {"match_all": {}}
    for _ in range(30):
        deep = {"bool": {"must": [deep]}}
    status, body = api.call("POST", "/v1/search", {"query": deep})
    assert status == 400
    error_of(status, body)
    many = {"bool": {"should": [{"term": {"name": str(i)}} for i in range(1100)]}}
    status, body = api.call("POST", "/v1/search", {"query": many})
    assert status == 400
    error_of(status, body)


def test_no_identity_is_401(api):
    for method, path in (("POST", "/v1/search"), ("GET", "/v1/search/facets"),
                         ("GET", "/v1/search/plugins"), ("GET", "/v1/search/stacks/alpha-shop")):  # fmt: skip
        status, body = api.call(method, path, identity=False)
        assert status == 401, path
        error_of(status, body)


def test_unconfirmed_identity_is_401(api):
    status, body = api.call("POST", "/v1/search", {}, headers={"X-Identity-Status": "Invalid"})
    assert status == 401
    error_of(status, body)


def test_domain_scoped_token_is_401(api):
    # a domain-scoped token: no project, no system scope (Searchlight's test_domain_token_401)
    status, body = api.call(
        "POST", "/v1/search", {}, project=None, headers={"X-Domain-Id": "default"}
    )
    assert status == 401
    assert "project" in error_of(status, body)["message"]
    status, _ = api.call("GET", "/v1/search/facets", project=None, roles="admin", admin=True,
                         headers={"X-Domain-Id": "default"})  # fmt: skip
    assert status == 401


def test_legacy_tenant_header(api):
    answer = api.search({"limit": 0}, project=None, headers={"X-Tenant-Id": "p-beta"})
    assert answer["hits"]["total"] == len(ids_of("p-beta"))


# -- bugs found (each test fails until its bug is fixed) -------------------------------------------


def test_fixed_search_after_number_too_big_for_an_integer_sort_is_a_500(api):
    """searcher.py ``_typed``: ``int(value)`` on a JSON number that is not a finite integer
    (``1e400`` decodes to ``inf``) raises OverflowError, which the app does not map to a 400."""
    resp = api.request("POST", "/v1/search", raw=b'{"sort": "depth", "search_after": [1e400, "x"]}')
    assert resp.status_int == 400, resp.text[:300]
    error_of(400, resp.json)


def test_fixed_search_after_fraction_on_an_integer_sort_is_truncated(api):
    """searcher.py ``_typed``: ``int(1.5)`` is 1, so the cursor [1.5, "alpha-shop"] pages from
    (depth 1, id alpha-shop) instead of refusing the cursor (or paging after depth 1.5)."""
    status, body = api.call(
        "POST", "/v1/search", {"sort": "depth", "search_after": [1.5, "alpha-shop"]}
    )
    if status == 200:
        assert set(hit_ids(body)) == {d["id"] for d in ALPHA if d["depth"] >= 2}
    else:
        assert status == 400
        error_of(status, body)


def test_fixed_aggregations_ignore_under(api):
    """app.py ``_search``: aggregations are computed on ``request.query`` alone, so with
    ``under`` they count the caller's whole project while the hits are the subtree's."""
    answer = api.search(
        {"under": "alpha-shop", "limit": 0, "aggs": {"s": {"terms": {"field": "status"}}}}
    )
    subtree = [d for d in ALPHA if d["root_id"] == "alpha-shop"]
    assert answer["hits"]["total"] == len(subtree) == 5
    got = [(b["key"], b["doc_count"]) for b in answer["aggregations"]["s"]["buckets"]]
    assert got == counts(subtree, "status")


def test_fixed_source_paths_do_not_filter_inside_lists(api):
    """app.py ``_pick``/``_drop``: a ``_source`` path through a list (``resources.type``,
    ``outputs.key``) returns whole list items (every key), an exclude through a list removes
    nothing, and a path below a scalar (``parameters.image.x``) returns the scalar.
    Elasticsearch filters inside the objects of a list."""
    shop = DOCS_BY_ID["alpha-shop"]
    assert source_of(api, ["resources.type"]) == {
        "resources": [{"type": r["type"]} for r in shop["resources"]]
    }
    assert source_of(api, ["outputs.key"]) == {"outputs": [{"key": "url"}]}
    excluded = source_of(api, {"include": ["resources"], "exclude": ["resources.status"]})
    assert all("status" not in r for r in excluded["resources"])
    assert source_of(api, ["parameters.image.x"]) == {}


def test_fixed_405_has_no_allow_header(api):
    """app.py ``dispatch``: a 405 must carry ``Allow`` with the route's methods (RFC 9110
    §15.5.6); heatseeker's has none (schemathesis: "Wrong response to undeclared method")."""
    for method, path, allowed in (
        ("DELETE", "/v1/search", {"GET", "POST"}),
        ("POST", "/v1/search/plugins", {"GET"}),
        ("PUT", "/v1/search/stacks/alpha-shop", {"GET"}),
        ("TRACE", "/", {"GET"}),
    ):
        resp = api.request(method, path)
        assert resp.status_int == 405
        allow = {m.strip() for m in resp.headers.get("Allow", "").split(",") if m.strip()}
        assert allowed <= allow, (method, path, resp.headers.get("Allow"))


@pytest.mark.parametrize("value", ["4294967296", "99999999999999999999999"])
def test_fixed_facets_huge_limit_terms_is_a_503(api, value):
    """app.py ``facets`` / facets.py: ``limit_terms`` has no upper bound; past 2**31 the
    engine's aggregation fails and the answer is 503 "the search index is not available" for
    what is bad input (400) — or cap it at the aggregation size limit (1000)."""
    status, body = api.call("GET", f"/v1/search/facets?limit_terms={value}")
    assert status in (200, 400), body
    if status == 200:
        tags = next(f for f in body[STACK]["facets"] if f["name"] == "tags")
        assert len(tags["options"]) == len(counts(ALPHA, "tags"))


def test_region_in_the_query_string_the_dsl_the_source_and_the_facets(api):
    """``region:NAME`` and a ``region`` term, ``region`` in ``_source``, a region facet: only
    the caller's stacks, in every region (beta's RegionTwo stack never shows to alpha)."""
    alpha_two = {d["id"] for d in ALPHA if d["region"] == "RegionTwo"}
    assert alpha_two == {"alpha-ci", "alpha-ci-pool", "alpha-dns"}
    for query in ({"query_string": {"query": "region:RegionTwo"}},
                  {"term": {"region": "RegionTwo"}}, {"terms": {"region": ["RegionTwo"]}}):
        answer = api.search({"query": query, "_source": ["region"], "limit": 100})
        assert set(hit_ids(answer)) == alpha_two, query
        assert {h["_source"]["region"] for h in answer["hits"]["hits"]} == {"RegionTwo"}
    body = facets(api)
    (region,) = [f for f in body["facets"] if f["name"] == "region"]
    assert [(o["key"], o["doc_count"]) for o in region["options"]] == [
        ("RegionOne", len(ALPHA) - 3), ("RegionTwo", 3)]
