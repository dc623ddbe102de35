"""The conformance suite's data: ``make_doc`` (a valid stack document) and ``CORPUS``, the 40 stacks
every engine is checked against.

The corpus is small enough to read and holds what breaks engines: nested trees three levels deep
(roll-up, ``under``), resources, parameters, outputs, templates, environments, and the awkward data
of the dynamic paths (project p-gamma): dotted keys, unicode, a value longer than
``fields.MAX_VALUE_CHARS``, lists, nulls, numbers next to their text. Tests name its stacks by id,
so a change here is a change of many expectations: add stacks, do not edit them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any


def make_doc(id: str, **overrides: Any) -> dict:
    """A valid stack document; keyword arguments replace its keys.

    ``action``/``state`` follow ``status`` and ``path`` follows ``name`` unless given.
    """
    name = overrides.get("name", id)
    doc: dict[str, Any] = {
        "id": id,
        "name": name,
        "project_id": "project-a",
        "region": "RegionOne",
        "status": "CREATE_COMPLETE",
        "action": "CREATE",
        "state": "COMPLETE",
        "status_reason": "Stack CREATE completed successfully",
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": None,
        "deleted_at": None,
        "description": "",
        "tags": [],
        "parent_id": None,
        "root_id": id,
        "ancestors": [],
        "path": [name],
        "depth": 0,
        "parent_resource": None,
        "parameters": {},
        "outputs": [],
        "resources": [],
        "resource_types": [],
        "template": {"heat_template_version": "2021-04-16", "resources": {}},
        "template_version": "2021-04-16",
        "environment": {"parameters": {}, "parameter_defaults": {}, "resource_registry": {}},
        "files": [],
        "fingerprint": f"sha256:{id}",
        "indexed_at": "2024-06-01T00:00:00Z",
        "version": 1,
    }
    doc.update(overrides)
    if "status" in overrides and "action" not in overrides and "_" in doc["status"]:
        doc["action"], _, doc["state"] = doc["status"].partition("_")
    if "path" not in overrides:
        doc["path"] = [doc["name"]]
    return doc


def resource(name: str, rtype: str, status: str = "CREATE_COMPLETE") -> dict:
    return {
        "name": name,
        "type": rtype,
        "status": status,
        "status_reason": "state changed",
        "physical_resource_id": f"phys-{name}",
        "nested_stack_id": None,
    }


LONG_VALUE = "lorem ipsum dolor sit amet " * 12 + "zebrafinch"  # longer than MAX_VALUE_CHARS


def build_corpus() -> list[dict]:
    """40 stacks in projects p-alpha, p-beta, p-gamma (gamma holds the awkward data), in two
    regions (RegionOne; alpha's ci tree, alpha's dns and beta's first standalone stack in
    RegionTwo)."""
    docs: dict[str, dict] = {}

    def add(
        id: str,
        project: str,
        name: str,
        parent: str | None = None,
        *,
        types: Sequence[str] = (),
        created: str,
        **kw: Any,
    ) -> None:
        if parent is not None:
            up = docs[parent]
            family = {
                "parent_id": parent,
                "root_id": up["root_id"],
                "ancestors": up["ancestors"] + [parent],
                "path": up["path"] + [name],
                "depth": up["depth"] + 1,
                "region": up["region"],  # a tree never leaves its region
            }
            slot = kw.get("parent_resource") or name
            up["resources"].append(
                {**resource(slot, "OS::Heat::Stack"), "nested_stack_id": id}
            )
        else:
            family = {}
        resources = [
            resource(f"{t.rsplit('::', 1)[-1].lower()}_{i}", t) for i, t in enumerate(types)
        ]
        docs[id] = make_doc(
            id,
            name=name,
            project_id=project,
            created_at=created,
            resources=resources,
            resource_types=sorted(set(types)),
            **family,
            **kw,
        )

    nginx = {"image": "nginx:1.25", "flavor": "m1.small"}
    # -- p-alpha: a shop tree, a ci tree, standalone stacks
    add(
        "alpha-shop", "p-alpha", "shop",
        types=["OS::Heat::ResourceGroup", "OS::Neutron::Net", "OS::Neutron::Subnet"],
        created="2024-03-01T08:00:00Z", updated_at="2024-03-05T08:00:00Z",
        tags=["prod", "web"], parameters={**nginx, "replicas": 3},
        description="Production web shop for the alpha team",
        outputs=[{"key": "url", "value": "http://shop.example.org/", "description": "Shop URL",
                  "error": None}],
    )  # fmt: skip
    add(
        "alpha-shop-web", "p-alpha", "shop-web", "alpha-shop", parent_resource="web",
        types=["OS::Heat::ResourceGroup"], created="2024-03-01T08:01:00Z",
        updated_at="2024-03-05T08:01:00Z", tags=["prod", "web"],
        parameters={"image": "nginx:1.25", "count": 2},
    )  # fmt: skip
    for i, status in ((0, "CREATE_COMPLETE"), (1, "UPDATE_FAILED")):
        add(
            f"alpha-shop-web-{i}", "p-alpha", f"shop-web-{i}", "alpha-shop-web",
            parent_resource=str(i), types=["OS::Nova::Server", "OS::Cinder::Volume"],
            created="2024-03-01T08:02:00Z", status=status, parameters=dict(nginx),
            updated_at="2024-03-06T10:00:00Z" if i else None,
            status_reason="Resource UPDATE failed: quota exceeded for instances" if i
            else "Stack CREATE completed successfully",
        )  # fmt: skip
    add(
        "alpha-shop-db", "p-alpha", "shop-db", "alpha-shop", parent_resource="db",
        types=["OS::Nova::Server", "OS::Cinder::Volume"], created="2024-03-01T08:03:00Z",
        parameters={"image": "postgres:16", "volume_size": 100},
    )  # fmt: skip
    add(
        "alpha-ci", "p-alpha", "ci-runner", types=["OS::Nova::Server"],
        created="2024-02-10T09:00:00Z", updated_at="2024-03-10T09:00:00Z",
        status="UPDATE_COMPLETE", tags=["ci"], parameters={"image": "ubuntu-22.04", "runners": 4},
        description="Continuous integration runners", region="RegionTwo",
    )  # fmt: skip
    add(
        "alpha-ci-pool", "p-alpha", "ci-pool", "alpha-ci", parent_resource="pool",
        types=["OS::Heat::AutoScalingGroup"], created="2024-02-10T09:01:00Z",
        status="UPDATE_COMPLETE", tags=["ci"], parameters={"image": "ubuntu-22.04"},
    )  # fmt: skip
    add(
        "alpha-lab", "p-alpha", "lab", created="2024-03-15T12:00:00Z", status="CREATE_FAILED",
        status_reason="Stack CREATE failed: image not found",
    )  # fmt: skip
    add(
        "alpha-dns", "p-alpha", "dns", types=["OS::Designate::Zone", "OS::Designate::RecordSet"],
        created="2024-01-05T00:00:00Z", tags=["infra"], template_version="2018-08-31",
        parameters={"zone": "alpha.example.org."}, region="RegionTwo",
    )  # fmt: skip
    add(
        "alpha-vpn", "p-alpha", "vpn", types=["OS::Neutron::VPNService"],
        created="2024-01-20T00:00:00Z", status="CHECK_COMPLETE", tags=["infra", "net"],
        parameters={"peer": "203.0.113.7"},
    )  # fmt: skip
    add(
        "alpha-web", "p-alpha", "web", types=["OS::Nova::Server"], created="2024-03-20T00:00:00Z",
        tags=["web", "staging"], parameters={"image": "nginx:1.24"},
    )  # fmt: skip
    add(
        "alpha-old", "p-alpha", "legacy-app", types=["OS::Nova::Server"],
        created="2023-06-01T00:00:00Z", status="SUSPEND_COMPLETE", template_version="2015-04-30",
        parameters={"image": "centos-7"},
    )  # fmt: skip
    # -- p-beta: a kubernetes tree three levels deep, standalone stacks
    add(
        "beta-k8s", "p-beta", "k8s",
        types=["OS::Heat::ResourceGroup", "OS::Neutron::Net", "OS::Octavia::LoadBalancer"],
        created="2024-02-01T00:00:00Z", updated_at="2024-03-02T00:00:00Z",
        tags=["prod", "k8s"], description="Kubernetes cluster for the beta team",
        parameters={"image": "fedora-coreos-39", "node_count": 5, "master_count": 3},
    )  # fmt: skip
    for group, slot in (("masters", "kube_masters"), ("minions", "kube_minions")):
        add(
            f"beta-k8s-{group}", "p-beta", f"k8s-{group}", "beta-k8s", parent_resource=slot,
            types=["OS::Heat::ResourceGroup"], created="2024-02-01T00:01:00Z",
            tags=["prod", "k8s"], parameters={"image": "fedora-coreos-39"},
        )  # fmt: skip
    for i in range(3):
        add(
            f"beta-k8s-master-{i}", "p-beta", f"k8s-master-{i}", "beta-k8s-masters",
            parent_resource=str(i), types=["OS::Nova::Server", "OS::Cinder::Volume"],
            created=f"2024-02-01T00:02:0{i}Z",
            status="UPDATE_IN_PROGRESS" if i == 2 else "CREATE_COMPLETE",
            parameters={"image": "fedora-coreos-39", "flavor": "m1.large"},
        )  # fmt: skip
    add(
        "beta-k8s-minion-0", "p-beta", "k8s-minion-0", "beta-k8s-minions", parent_resource="0",
        types=["OS::Nova::Server"], created="2024-02-01T00:03:00Z",
        parameters={"image": "fedora-coreos-39", "flavor": "m1.xlarge"},
    )  # fmt: skip
    add(
        "beta-k8s-minion-0-vol", "p-beta", "k8s-minion-0-vol", "beta-k8s-minion-0",
        parent_resource="volume", types=["OS::Cinder::Volume"], created="2024-02-01T00:04:00Z",
        parameters={"size": 50},
    )  # fmt: skip
    add(
        "beta-web", "p-beta", "web", types=["OS::Nova::Server"], created="2024-03-20T00:00:00Z",
        tags=["web"], parameters={"image": "nginx:1.25"}, region="RegionTwo",
    )  # fmt: skip
    add(
        "beta-db", "p-beta", "db", types=["OS::Nova::Server", "OS::Cinder::Volume"],
        created="2024-02-15T00:00:00Z", status="DELETE_FAILED", tags=["prod"],
        status_reason="Resource DELETE failed: volume in use", parameters={"image": "mariadb:10.11"},
    )  # fmt: skip
    add(
        "beta-batch", "p-beta", "batch", created="2024-02-20T00:00:00Z",
        status="ROLLBACK_COMPLETE", parameters={"image": "python:3.12", "schedule": "0 3 * * *"},
    )  # fmt: skip
    add(
        "beta-cache", "p-beta", "cache", types=["OS::Nova::Server"],
        created="2024-02-21T00:00:00Z", tags=["prod", "cache"],
        parameters={"image": "redis:7", "memory_mb": 512},
    )  # fmt: skip
    add(
        "beta-monitor", "p-beta", "monitoring", types=["OS::Nova::Server"],
        created="2024-02-22T00:00:00Z", updated_at="2024-03-01T00:00:00Z",
        status="UPDATE_COMPLETE", tags=["ops"],
        parameters={"image": "prom/prometheus:v2.51", "retention": "15d"},
    )  # fmt: skip
    add(
        "beta-queue", "p-beta", "queue", types=["OS::Nova::Server"],
        created="2024-02-23T00:00:00Z", parameters={"image": "rabbitmq:3.13"},
    )  # fmt: skip
    # -- p-gamma: the awkward data
    add("gamma-dotted", "p-gamma", "dotted", created="2024-04-01T00:00:00Z",
        parameters={"a.b": 1, "plain": "x"})  # fmt: skip
    add("gamma-nested", "p-gamma", "nested", created="2024-04-02T00:00:00Z",
        parameters={"a": {"b": 1, "c": "deep"}, "config": {"log": {"level": "debug"}}})  # fmt: skip
    add(
        "gamma-unicode", "p-gamma", "unicode-ünïcödé", created="2024-04-03T00:00:00Z",
        tags=["été"], parameters={"région": "Zürich", "名前": "東京タワー"},
        description="Données de production à Zürich",
    )  # fmt: skip
    add("gamma-long", "p-gamma", "long", created="2024-04-04T00:00:00Z",
        parameters={"blob": LONG_VALUE})  # fmt: skip
    add("gamma-lists", "p-gamma", "lists", created="2024-04-05T00:00:00Z",
        parameters={"ports": [80, 443], "zones": ["az1", "az2"]})  # fmt: skip
    add("gamma-null", "p-gamma", "null", created="2024-04-06T00:00:00Z",
        parameters={"key_name": None, "debug": True, "ratio": 0.5})  # fmt: skip
    add("gamma-numbers", "p-gamma", "numbers", created="2024-04-07T00:00:00Z",
        parameters={"count": 3, "count_str": "3", "big": 10})  # fmt: skip
    add(
        "gamma-outputs", "p-gamma", "outputs", created="2024-04-08T00:00:00Z",
        outputs=[
            {"key": "url", "value": "http://203.0.113.10:8080/", "description": "Public URL",
             "error": None},
            {"key": "ips", "value": ["10.0.0.5", "10.0.0.6"], "description": "Addresses",
             "error": None},
        ],
    )  # fmt: skip
    add(
        "gamma-template", "p-gamma", "template", types=["OS::Nova::Server"],
        created="2024-04-09T00:00:00Z", parameters={"image": "debian-12"},
        template={
            "heat_template_version": "2021-04-16",
            "parameters": {"image": {"type": "string"}},
            "resources": {"server": {"type": "OS::Nova::Server", "properties": {
                "flavor": "m1.large", "image": {"get_param": "image"}}}},
        },
    )  # fmt: skip
    add(
        "gamma-env", "p-gamma", "env", created="2024-04-10T00:00:00Z",
        environment={
            "parameters": {"flavor": "m1.tiny"},
            "parameter_defaults": {"key_name": "ops"},
            "resource_registry": {"OS::Gamma::Web": "web.yaml"},
        },
        files=["web.yaml"],
    )  # fmt: skip
    add("gamma-app", "p-gamma", "app", created="2024-04-11T00:00:00Z", tags=["app"],
        types=["OS::Heat::Stack"])  # fmt: skip
    add("gamma-app-tier", "p-gamma", "app-tier", "gamma-app", parent_resource="tier",
        created="2024-04-11T00:01:00Z", tags=["app"], types=["OS::Heat::Stack"])  # fmt: skip
    add("gamma-app-tier-db", "p-gamma", "app-tier-db", "gamma-app-tier", parent_resource="db",
        created="2024-04-11T00:02:00Z", tags=["app", "db"], types=["OS::Trove::Instance"])  # fmt: skip
    add("gamma-bare", "p-gamma", "bare", created="2024-04-12T00:00:00Z")
    corpus = list(docs.values())
    for i, doc in enumerate(corpus):
        doc["version"] = i + 1
    assert len(corpus) == 40, len(corpus)
    return corpus


CORPUS = build_corpus()
CORPUS_BY_ID = {doc["id"]: doc for doc in CORPUS}


def utc(text: str) -> datetime:
    """A datetime from ISO 8601 text ending in ``Z``."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
