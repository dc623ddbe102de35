"""Every node of the query tree, on the corpus, against the reference evaluator and hand-written
expectations; and the dynamic paths (``parameters.*``, ``outputs.*``, …), whose values compare as
text.
"""

from __future__ import annotations

from heatseeker.engines.conformance.base import BaseTestEngine, corpus_ids
from heatseeker.engines.conformance.corpus import CORPUS, CORPUS_BY_ID, LONG_VALUE, utc
from heatseeker.query import fields as F
from heatseeker.query.tree import (
    Bool,
    Exists,
    Ids,
    MatchAll,
    MatchNone,
    Phrase,
    Prefix,
    Range,
    Term,
    Terms,
    Text,
    Wildcard,
)


class QueryNodesTest(BaseTestEngine):
    """Each node type of ``query/tree.py`` on the typed fields and the full text."""

    def test_match_all_and_none(self, corpus):
        self.check(corpus, MatchAll(), set(CORPUS_BY_ID))
        self.check(corpus, MatchNone(), set())

    def test_term_keyword(self, corpus):
        self.check(corpus, Term("status", "UPDATE_FAILED"), {"alpha-shop-web-1"})
        self.check(corpus, Term("status", "update_failed"), set())
        self.check(corpus, Term("tags", "infra"), {"alpha-dns", "alpha-vpn"})
        self.check(corpus, Term("tags", "été"), {"gamma-unicode"})
        self.check(
            corpus,
            Term("root_id", "beta-k8s"),
            {d["id"] for d in CORPUS if d["id"].startswith("beta-k8s")},
        )
        self.check(
            corpus,
            Term("ancestors", "beta-k8s-minions"),
            {"beta-k8s-minion-0", "beta-k8s-minion-0-vol"},
        )
        self.check(
            corpus,
            Term("path", "shop-web"),
            {"alpha-shop-web", "alpha-shop-web-0", "alpha-shop-web-1"},
        )
        self.check(corpus, Term("resource_types", "OS::Octavia::LoadBalancer"), {"beta-k8s"})
        self.check(corpus, Term("template_version", "2015-04-30"), {"alpha-old"})
        self.check(corpus, Term("parent_resource", "kube_masters"), {"beta-k8s-masters"})
        self.check(corpus, Term("files", "web.yaml"), {"gamma-env"})
        # a tree never leaves its region: alpha's ci tree, alpha's dns and beta's web stack
        self.check(corpus, Term("region", "RegionTwo"),
                   {"alpha-ci", "alpha-ci-pool", "alpha-dns", "beta-web"})
        self.check(corpus, Term("region", "regiontwo"), set())  # exact, as every keyword
        self.check(corpus, Text(None, "RegionTwo"), set())  # an identifier: not in the full text
        self.check(corpus, Term("id", "gamma-bare"), {"gamma-bare"})
        self.check(corpus, Term("_id", "gamma-bare"), {"gamma-bare"})  # alias  # fmt: skip

    def test_term_text_field_exact_form(self, corpus):
        self.check(corpus, Term("name", "shop"), {"alpha-shop"})
        self.check(corpus, Term("name", "web"), {"alpha-web", "beta-web"})
        self.check(corpus, Term("name", "Shop"), set())
        self.check(corpus, Term("name", "unicode-ünïcödé"), {"gamma-unicode"})
        self.check(corpus, Term("name.raw", "k8s"), {"beta-k8s"})
        reason = "Resource DELETE failed: volume in use"
        self.check(corpus, Term("status_reason", reason), {"beta-db"})

    def test_term_int_and_date(self, corpus):
        self.check(corpus, Term("depth", 3), {"beta-k8s-minion-0-vol"})
        self.check(corpus, Term("depth", 0), {d["id"] for d in CORPUS if d["depth"] == 0})
        self.check(
            corpus,
            Term("created_at", utc("2024-03-01T08:02:00Z")),
            {"alpha-shop-web-0", "alpha-shop-web-1"},
        )
        self.check(corpus, Term("updated_at", utc("2024-03-10T09:00:00Z")), {"alpha-ci"})
        self.check(corpus, Term("created_at", utc("2024-03-01T08:02:01Z")), set())  # fmt: skip

    def test_terms(self, corpus):
        self.check(
            corpus,
            Terms("status", ("CREATE_FAILED", "DELETE_FAILED", "NOPE")),
            {"alpha-lab", "beta-db"},
        )
        self.check(
            corpus, Terms("depth", (2, 3)), {d["id"] for d in CORPUS if d["depth"] in (2, 3)}
        )
        self.check(
            corpus,
            Terms("parameters.image", ("redis:7", "debian-12")),
            {"beta-cache", "gamma-template"},
        )
        self.check(corpus, Terms("tags", ()), set())  # fmt: skip

    def test_prefix(self, corpus):
        self.check(
            corpus,
            Prefix("name", "shop-w"),
            {"alpha-shop-web", "alpha-shop-web-0", "alpha-shop-web-1"},
        )
        self.check(corpus, Prefix("status", "DELETE"), {"beta-db"})
        self.check(
            corpus,
            Prefix("parameters.image", "nginx:"),
            {d["id"] for d in CORPUS if str(d["parameters"].get("image", "")).startswith("nginx:")},
        )
        self.check(corpus, Prefix("resource_types", "OS::Designate::"), {"alpha-dns"})
        self.check(corpus, Prefix("parameters.région", "Zü"), {"gamma-unicode"})
        self.check(corpus, Prefix("name", "Shop"), set())  # fmt: skip
        # a bare ``zebra*`` / ``Zebra*``: analysed words of the full text, case-insensitively
        self.check(corpus, Prefix(F.FULLTEXT, "zebra"), {"gamma-long"})
        self.check(corpus, Prefix(F.FULLTEXT, "Zebra"), {"gamma-long"})
        self.check(corpus, Wildcard(F.FULLTEXT, "zebra?inch"), {"gamma-long"})

    def test_wildcard(self, corpus):
        self.check(corpus, Wildcard("name", "shop-web-?"), {"alpha-shop-web-0", "alpha-shop-web-1"})
        self.check(corpus, Wildcard("name", "k8s-*-0"), {"beta-k8s-master-0", "beta-k8s-minion-0"})
        self.check(corpus, Wildcard("name", "*tier*"), {"gamma-app-tier", "gamma-app-tier-db"})
        self.check(
            corpus,
            Wildcard("parameters.image", "nginx:1.2?"),
            {
                d["id"]
                for d in CORPUS
                if d["parameters"].get("image") in ("nginx:1.25", "nginx:1.24")
            },
        )
        self.check(corpus, Wildcard("parameters.schedule", "0 3 \\* * *"), {"beta-batch"})
        self.check(corpus, Wildcard("parameters.schedule", "0 3 \\? * *"), set())
        self.check(corpus, Wildcard("status", "*_FAILED"), {"alpha-shop-web-1", "alpha-lab", "beta-db"})  # fmt: skip

    def test_range_dates(self, corpus):
        march = Range("created_at", gte=utc("2024-03-01T00:00:00Z"), lt=utc("2024-04-01T00:00:00Z"))
        found = self.check(corpus, march)
        assert found == {d["id"] for d in CORPUS if d["created_at"].startswith("2024-03")}
        self.check(
            corpus, Range("created_at", lt=utc("2024-01-06T00:00:00Z")), {"alpha-dns", "alpha-old"}
        )
        self.check(
            corpus,
            Range("created_at", gt=utc("2024-04-11T00:01:00Z")),
            {"gamma-app-tier-db", "gamma-bare"},
        )
        self.check(
            corpus,
            Range("created_at", gte=utc("2024-04-11T00:01:00Z"), lte=utc("2024-04-11T00:02:00Z")),
            {"gamma-app-tier", "gamma-app-tier-db"},
        )
        self.check(
            corpus,
            Range("updated_at", gte=utc("2024-03-05T08:00:00Z")),
            {"alpha-shop", "alpha-shop-web", "alpha-shop-web-1", "alpha-ci"},
        )
        self.check(corpus, Range("created_at", gt=utc("2030-01-01T00:00:00Z")), set())  # fmt: skip

    def test_range_ints(self, corpus):
        self.check(corpus, Range("depth", gte=2), {d["id"] for d in CORPUS if d["depth"] >= 2})
        self.check(corpus, Range("depth", gt=0, lt=2), {d["id"] for d in CORPUS if d["depth"] == 1})
        self.check(corpus, Range("depth", lte=0), {d["id"] for d in CORPUS if d["depth"] == 0})
        self.check(corpus, Range("depth", gt=3), set())
        self.check(corpus, Range("version", gte=39), {CORPUS[38]["id"], CORPUS[39]["id"]})

    def test_range_keyword_text(self, corpus):
        self.check(
            corpus,
            Range("status", gte="D", lt="T"),
            {d["id"] for d in CORPUS if "D" <= d["status"] < "T"},
        )
        self.check(
            corpus, Range("name", gt="u"), {"gamma-unicode", "alpha-vpn", "alpha-web", "beta-web"}
        )
        self.check(corpus, Range("name", lte="app"), {"gamma-app"})
        self.check(
            corpus,
            Range("parameters.image", gte="p", lt="s"),
            {"beta-batch", "beta-monitor", "alpha-shop-db", "beta-cache", "beta-queue"},
        )
        self.check(corpus, Range("parameters.count", gte="2", lte="3"), {"alpha-shop-web", "gamma-numbers"})  # fmt: skip
        # bounds no term can hold (a lone surrogate) still compare by code point
        self.check(corpus, Range("name", gt="u\udfff"), {"alpha-vpn", "alpha-web", "beta-web"})
        self.check(corpus, Range("name", gte="unicode-\ud800", lte="v\ud800"), {"alpha-vpn"})
        found = self.check(corpus, Range("parameters.image", gt="nginx\ud800", lt="p\udbff"))
        assert found == {"alpha-shop-db", "beta-monitor", "beta-batch"}
        self.check(corpus, Range("status", gte="UPDATE_\udfff"), set())
        # bounds sharing a long prefix, prefixes of each other, equal, crossed, empty
        self.check(corpus, Range("name", gte="shop-web", lte="shop-web-0"),
                   {"alpha-shop-web", "alpha-shop-web-0"})
        self.check(corpus, Range("name", gt="shop-web", lt="shop-web-1"), {"alpha-shop-web-0"})
        self.check(corpus, Range("name", gte="web", lte="web"), {"alpha-web", "beta-web"})
        self.check(corpus, Range("name", gt="web", lte="web"), set())
        self.check(corpus, Range("name", gte="z", lte="a"), set())
        self.check(corpus, Range("name", gte="", lt="b"),
                   {"gamma-app", "gamma-app-tier", "gamma-app-tier-db"})
        self.check(corpus, Range("name", gte="", lte="b\U0010ffff"),
                   {"gamma-app", "gamma-app-tier", "gamma-app-tier-db", "beta-batch",
                    "gamma-bare"})
        self.check(corpus, Range("id", gt="beta-k8s-m", lt="beta-k8s-minion-0-vol"),
                   {"beta-k8s-master-0", "beta-k8s-master-1", "beta-k8s-master-2",
                    "beta-k8s-masters", "beta-k8s-minion-0"})

    def test_exists(self, corpus):
        self.check(corpus, Exists("updated_at"), {d["id"] for d in CORPUS if d["updated_at"]})
        self.check(corpus, Exists("tags"), {d["id"] for d in CORPUS if d["tags"]})
        self.check(corpus, Exists("parent_id"), {d["id"] for d in CORPUS if d["parent_id"]})
        self.check(
            corpus, Exists("parent_resource"), {d["id"] for d in CORPUS if d["parent_resource"]}
        )
        self.check(
            corpus,
            Exists("parameters.image"),
            {d["id"] for d in CORPUS if "image" in d["parameters"]},
        )
        self.check(corpus, Exists("parameters.a.b"), {"gamma-dotted", "gamma-nested"})
        self.check(corpus, Exists("parameters.a"), {"gamma-dotted", "gamma-nested"})
        self.check(corpus, Exists("parameters.config.log"), {"gamma-nested"})
        self.check(corpus, Exists("parameters.key_name"), {"gamma-null"})
        self.check(corpus, Exists("environment.resource_registry.OS::Gamma::Web"), {"gamma-env"})
        self.check(corpus, Exists("outputs.error"), {"alpha-shop", "gamma-outputs"})
        self.check(corpus, Exists("parameters.nope"), set())
        self.check(corpus, Exists("deleted_at"), set())  # fmt: skip

    def test_ids(self, corpus):
        self.check(corpus, Ids(("gamma-bare", "beta-db", "no-such")), {"gamma-bare", "beta-db"})
        self.check(corpus, Ids(()), set())

    def test_text_anywhere(self, corpus):
        self.check(corpus, Text(None, "quota"), {"alpha-shop-web-1"})
        self.check(corpus, Text(None, "Kubernetes"), {"beta-k8s"})
        self.check(corpus, Text(None, "zebrafinch"), {"gamma-long"})  # beyond MAX_VALUE_CHARS
        self.check(corpus, Text(None, "zürich"), {"gamma-unicode"})
        self.check(corpus, Text(None, "quota instances"), {"alpha-shop-web-1"})
        self.check(corpus, Text(None, "quota kubernetes"), set())
        self.check(
            corpus, Text(None, "quota kubernetes", operator="or"), {"alpha-shop-web-1", "beta-k8s"}
        )
        self.check(corpus, Text(None, "15d"), {"beta-monitor"})  # a parameter value
        self.check(corpus, Text(None, "retention"), {"beta-monitor"})  # a parameter key
        self.check(corpus, Text(None, "!!!"), set())  # fmt: skip

    def test_text_field(self, corpus):
        self.check(corpus, Text("description", "kubernetes cluster"), {"beta-k8s"})
        self.check(corpus, Text("description", "kubernetes shop"), set())
        self.check(
            corpus,
            Text("description", "kubernetes shop", operator="or"),
            {"beta-k8s", "alpha-shop"},
        )
        self.check(
            corpus, Text("status_reason", "FAILED"), {"alpha-shop-web-1", "alpha-lab", "beta-db"}
        )
        self.check(
            corpus, Text("name", "shop"), {d["id"] for d in CORPUS if d["name"].startswith("shop")}
        )
        self.check(corpus, Text("name", "minion"), {"beta-k8s-minion-0", "beta-k8s-minion-0-vol"})
        self.check(corpus, Text("description", "quota"), set())  # fmt: skip

    def test_phrase(self, corpus):
        self.check(corpus, Phrase("description", "web shop"), {"alpha-shop"})
        self.check(corpus, Phrase("description", "shop web"), set())
        self.check(corpus, Phrase(None, "quota exceeded"), {"alpha-shop-web-1"})
        self.check(corpus, Phrase(None, "exceeded quota"), set())
        self.check(
            corpus, Phrase("name", "minion 0"), {"beta-k8s-minion-0", "beta-k8s-minion-0-vol"}
        )

    def test_text_on_keyword_and_dynamic_is_exact(self, corpus):
        self.check(corpus, Text("status", "UPDATE_FAILED"), {"alpha-shop-web-1"})
        self.check(corpus, Text("status", "update failed"), set())
        self.check(corpus, Phrase("status", "UPDATE_FAILED"), {"alpha-shop-web-1"})
        self.check(corpus, Text("parameters.image", "redis:7"), {"beta-cache"})
        self.check(corpus, Text("parameters.image", "redis"), set())
        self.check(corpus, Phrase("parameters.schedule", "0 3 * * *"), {"beta-batch"})
        self.check(corpus, Text("depth", "3"), {"beta-k8s-minion-0-vol"})

    def test_bool(self, corpus):
        prod, web = Term("tags", "prod"), Term("tags", "web")
        both = {d["id"] for d in CORPUS if {"prod", "web"} <= set(d["tags"])}
        either = {d["id"] for d in CORPUS if {"prod", "web"} & set(d["tags"])}
        self.check(corpus, Bool(must=(prod, web)), both)
        self.check(corpus, Bool(filter=(prod, web)), both)
        self.check(corpus, Bool(should=(prod, web)), either)  # ES: should-only needs one
        self.check(corpus, Bool(should=(prod, web), minimum_should_match=2), both)
        self.check(corpus, Bool(should=(prod, web), minimum_should_match=3), set())
        self.check(corpus, Bool(should=(prod, web), minimum_should_match=0), set(CORPUS_BY_ID))
        # with must/filter, should is optional
        alpha = Term("project_id", "p-alpha")
        self.check(corpus, Bool(must=(alpha,), should=(prod,)), corpus_ids(alpha))
        self.check(corpus, Bool(filter=(alpha,), should=(prod,)), corpus_ids(alpha))
        self.check(
            corpus,
            Bool(filter=(alpha,), should=(prod, web), minimum_should_match=1),
            corpus_ids(alpha) & either,
        )
        self.check(corpus, Bool(must_not=(prod,)), set(CORPUS_BY_ID) - corpus_ids(prod))
        self.check(corpus, Bool(must=(alpha,), must_not=(prod, web)), corpus_ids(alpha) - either)
        self.check(corpus, Bool(), set(CORPUS_BY_ID))
        self.check(corpus, Bool(must=(MatchNone(),), should=(prod,)), set())  # fmt: skip

    def test_nested_bool(self, corpus):
        tree = Bool(
            filter=(Terms("project_id", ("p-alpha", "p-beta")),),
            must=(
                Bool(
                    should=(
                        Term("status", "UPDATE_FAILED"),
                        Bool(must=(Term("tags", "prod"), Range("depth", gte=1))),
                    )
                ),
            ),
            must_not=(Bool(should=(Term("parameters.image", "fedora-coreos-39"),)),),
        )
        self.check(corpus, tree, {"alpha-shop-web", "alpha-shop-web-1"})
        scoped = Bool(filter=(Term("project_id", "p-gamma"),), must=(Text(None, "deep"),))
        self.check(corpus, scoped, {"gamma-nested"})


class DynamicPathsTest(BaseTestEngine):
    """Values under the dynamic roots: exact text, dotted keys, unicode, lists, nulls."""

    def test_dynamic_exact_values(self, corpus):
        nginx = {d["id"] for d in CORPUS if d["parameters"].get("image") == "nginx:1.25"}
        assert len(nginx) == 5
        self.check(corpus, Term("parameters.image", "nginx:1.25"), nginx)
        self.check(corpus, Term("parameters.image", "nginx"), set())
        self.check(corpus, Term("parameters.image", "NGINX:1.25"), set())
        self.check(corpus, Term("resources.type", "OS::Trove::Instance"), {"gamma-app-tier-db"})
        self.check(
            corpus,
            Term("resources.nested_stack_id", "beta-k8s-minion-0-vol"),
            {"beta-k8s-minion-0"},
        )
        self.check(corpus, Term("outputs.value", "http://203.0.113.10:8080/"), {"gamma-outputs"})
        self.check(corpus, Term("outputs.value", "10.0.0.6"), {"gamma-outputs"})
        self.check(corpus, Term("outputs.key", "url"), {"alpha-shop", "gamma-outputs"})
        self.check(
            corpus,
            Term("template.resources.server.properties.flavor", "m1.large"),
            {"gamma-template"},
        )
        self.check(
            corpus,
            Term("template.resources.server.properties.image.get_param", "image"),
            {"gamma-template"},
        )
        self.check(corpus, Term("environment.parameter_defaults.key_name", "ops"), {"gamma-env"})
        self.check(corpus, Term("parameters.flavor", "m1.tiny"), set())  # environment, not parameters  # fmt: skip

    def test_dynamic_numbers_compare_as_text(self, corpus):
        self.check(corpus, Term("parameters.count", 3), {"gamma-numbers"})
        self.check(corpus, Term("parameters.count", "3"), {"gamma-numbers"})
        self.check(corpus, Term("parameters.count_str", 3), {"gamma-numbers"})
        self.check(corpus, Term("parameters.ratio", 0.5), {"gamma-null"})
        self.check(corpus, Term("parameters.ratio", "0.5"), {"gamma-null"})
        self.check(corpus, Term("parameters.replicas", 3), {"alpha-shop"})
        self.check(corpus, Term("parameters.debug", True), {"gamma-null"})
        self.check(corpus, Term("parameters.debug", "true"), {"gamma-null"})
        # text order: "10" < "3"
        self.check(corpus, Range("parameters.big", lt="3"), {"gamma-numbers"})

    def test_dynamic_dotted_keys(self, corpus):
        self.check(corpus, Term("parameters.a.b", 1), {"gamma-dotted", "gamma-nested"})
        self.check(corpus, Term("parameters.a.b", "1"), {"gamma-dotted", "gamma-nested"})
        self.check(corpus, Term("parameters.a.c", "deep"), {"gamma-nested"})
        self.check(corpus, Term("parameters.config.log.level", "debug"), {"gamma-nested"})

    def test_dynamic_unicode(self, corpus):
        self.check(corpus, Term("parameters.région", "Zürich"), {"gamma-unicode"})
        self.check(corpus, Term("parameters.名前", "東京タワー"), {"gamma-unicode"})
        self.check(corpus, Prefix("parameters.名前", "東京"), {"gamma-unicode"})
        self.check(corpus, Wildcard("parameters.名前", "*タ?ー"), {"gamma-unicode"})

    def test_dynamic_long_value(self, corpus):
        assert len(LONG_VALUE) > F.MAX_VALUE_CHARS
        self.check(corpus, Term("parameters.blob", LONG_VALUE[: F.MAX_VALUE_CHARS]), {"gamma-long"})
        self.check(corpus, Prefix("parameters.blob", "lorem ipsum"), {"gamma-long"})
        self.check(corpus, Text(None, "zebrafinch"), {"gamma-long"})

    def test_dynamic_lists_and_null(self, corpus):
        self.check(corpus, Term("parameters.ports", 443), {"gamma-lists"})
        self.check(corpus, Term("parameters.ports", "80"), {"gamma-lists"})
        self.check(corpus, Terms("parameters.zones", ("az2", "az9")), {"gamma-lists"})
        self.check(corpus, Term("parameters.key_name", "null"), {"gamma-null"})
        self.check(corpus, Term("outputs.error", "null"), {"alpha-shop", "gamma-outputs"})
