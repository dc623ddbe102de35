"""Deterministic synthetic Heat stacks, in heatseeker's document shape (``documents.build``'s keys).

``stacks(n, seed)`` streams ``n`` documents (parents always before their children), the same ones
for the same ``(n, seed)``. What they look like:

* trees: about 30 % of the documents are nested stacks (provider templates, resource groups,
  ``OS::Heat::Stack``), depth up to 3; a nested stack is named ``<parent>-<resource>-<12 chars>``
  as Heat names them, shares its root's project and carries ``ancestors``/``path``/``root_id``;
* projects: 300, with Zipf-skewed sizes (the biggest holds ~20 % of the stacks, most hold a few);
* 5–20 KB of JSON each (mean ≈ 10.6 KB, p10 ≈ 6 KB, p90 ≈ 17 KB): a HOT template with 4–31 resources of 28
  real resource types and type-shaped properties, the resources' runtime list (physical ids,
  statuses, nested stack links), 5–20 parameters with user-chosen names (hidden ones masked as
  heatseeker masks them), outputs, an environment with parameter_defaults and a resource registry;
* states: mostly ``CREATE_COMPLETE``/``UPDATE_COMPLETE``; ~3 % ``*_FAILED`` (a failed tree is failed
  at every level), ~1 % ``IN_PROGRESS``.

``VOCAB`` lists the values the query mixes use (images, words, name prefixes …); the generator draws
from the same lists, so the queries hit realistic selectivities. ``python -m bench.generate N``
prints size statistics.
"""

from __future__ import annotations

import hashlib
import json
import random
import string
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import accumulate

MASK = "******"
N_PROJECTS = 300
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_S = 2 * 365 * 86400

APPS = (
    "web", "api", "db", "cache", "queue", "search", "billing", "auth", "media", "etl", "ml",
    "gateway", "monitor", "logging", "storage", "mail", "cdn", "vpn", "ci", "registry", "vault",
    "kafka", "redis", "postgres", "mysql", "mongo", "elastic", "grafana", "jenkins", "gitlab",
)  # fmt: skip
ENVS = ("prod", "staging", "dev", "qa", "perf", "canary", "dr")
IMAGES = (
    "ubuntu-22.04", "ubuntu-24.04", "debian-12", "debian-11", "rocky-9", "rocky-8", "centos-7",
    "fedora-40", "cirros-0.6.2", "alpine-3.20", "rhel-9.4", "windows-2022", "flatcar-3815",
    "fedora-coreos-40", "opensuse-15.6", "arch-2024.06", "ubuntu-20.04", "almalinux-9",
    "oracle-linux-9", "amazon-2023",
)  # fmt: skip
FLAVORS = ("m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge", "c2.large", "r5.2xlarge")
ZONES = ("nova", "az-1", "az-2", "az-3")
WORDS = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "primary", "replica", "shard",
    "blue", "green", "edge", "core", "internal", "public", "backend", "frontend", "worker",
)  # fmt: skip
TAGS = ("prod", "staging", "dev", "team-a", "team-b", "team-c", "pci", "gdpr", "legacy", "k8s")
# (resource type, weight): servers, ports and configs dominate real templates
TYPES = (
    ("OS::Nova::Server", 10), ("OS::Neutron::Port", 10), ("OS::Neutron::Net", 3),
    ("OS::Neutron::Subnet", 3), ("OS::Neutron::Router", 1), ("OS::Neutron::RouterInterface", 1),
    ("OS::Neutron::SecurityGroup", 4), ("OS::Neutron::FloatingIP", 3),
    ("OS::Neutron::FloatingIPAssociation", 2), ("OS::Cinder::Volume", 5),
    ("OS::Cinder::VolumeAttachment", 4), ("OS::Heat::SoftwareConfig", 4),
    ("OS::Heat::SoftwareDeployment", 4), ("OS::Heat::CloudConfig", 2),
    ("OS::Heat::MultipartMime", 1), ("OS::Heat::RandomString", 3), ("OS::Heat::Value", 2),
    ("OS::Heat::WaitCondition", 1), ("OS::Heat::WaitConditionHandle", 1),
    ("OS::Heat::ResourceGroup", 2), ("OS::Heat::AutoScalingGroup", 1),
    ("OS::Heat::ScalingPolicy", 1), ("OS::Aodh::Alarm", 1), ("OS::Octavia::LoadBalancer", 1),
    ("OS::Octavia::Listener", 1), ("OS::Octavia::Pool", 1), ("OS::Nova::KeyPair", 1),
    ("OS::Swift::Container", 1),
)  # fmt: skip
NESTING_TYPES = ("OS::Heat::ResourceGroup", "OS::Heat::Stack", "My::Server", "My::Tier")
PARAM_NAMES = (
    "image", "flavor", "key_name", "network", "subnet_cidr", "dns_nameservers",
    "availability_zone", "volume_size", "server_count", "admin_user", "db_name", "db_user",
    "ssh_port", "enable_monitoring", "ntp_server", "domain", "cluster_name", "backup_schedule",
    "retention_days", "log_level", "http_proxy", "app_version", "git_ref", "team",
)  # fmt: skip
HIDDEN_NAMES = ("db_password", "api_token", "admin_password")

VOCAB = {
    "apps": APPS, "envs": ENVS, "images": IMAGES, "flavors": FLAVORS, "words": WORDS,
    "tags": TAGS, "types": tuple(t for t, _ in TYPES),
}  # fmt: skip

_TYPE_NAMES = [t for t, _ in TYPES]
_TYPE_CUM = list(accumulate(w for _, w in TYPES))
_PROJECT_CUM = list(accumulate(1.0 / (i + 1) ** 1.1 for i in range(N_PROJECTS)))
_IMAGE_CUM = list(accumulate(1.0 / (i + 1) ** 0.9 for i in range(len(IMAGES))))
_ALNUM = string.ascii_lowercase + string.digits


def project_id(i: int) -> str:
    return hashlib.md5(f"bench-project-{i}".encode()).hexdigest()  # noqa: S324 - an id, not a hash


PROJECTS = tuple(project_id(i) for i in range(N_PROJECTS))


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _suffix(rng: random.Random) -> str:
    return "".join(rng.choice(_ALNUM) for _ in range(12))


def _properties(rng: random.Random, rtype: str, rname: str, params: list[str]) -> dict:
    """Template properties shaped like the type's real ones (intrinsic functions included)."""
    p = rng.choice(params) if params else "image"
    if rtype == "OS::Nova::Server":
        return {
            "image": {"get_param": "image"},
            "flavor": rng.choice(FLAVORS),
            "key_name": {"get_param": "key_name"},
            "networks": [{"port": {"get_resource": f"{rname}_port"}}],
            "user_data_format": "SOFTWARE_CONFIG",
            "user_data": {"get_resource": f"{rname}_config"},
            "metadata": {"role": rng.choice(WORDS), "tier": rng.choice(APPS)},
            "availability_zone": rng.choice(ZONES),
        }
    if rtype == "OS::Neutron::Port":
        return {
            "network": {"get_param": "network"},
            "fixed_ips": [{"subnet": {"get_resource": "subnet"}}],
            "security_groups": [{"get_resource": "secgroup"}, "default"],
        }
    if rtype in ("OS::Neutron::Net", "OS::Neutron::Router"):
        return {"name": f"{rng.choice(WORDS)}-{rng.choice(ENVS)}", "admin_state_up": True}
    if rtype == "OS::Neutron::Subnet":
        return {
            "network": {"get_resource": "net"},
            "cidr": f"10.{rng.randrange(256)}.{rng.randrange(256)}.0/24",
            "dns_nameservers": ["8.8.8.8", "1.1.1.1"],
            "ip_version": 4,
        }
    if rtype == "OS::Neutron::SecurityGroup":
        ports = rng.sample((22, 80, 443, 3306, 5432, 6379, 8080, 9090), rng.randint(1, 4))
        return {
            "description": f"{rng.choice(APPS)} access",
            "rules": [
                {"protocol": "tcp", "port_range_min": x, "port_range_max": x,
                 "remote_ip_prefix": "0.0.0.0/0"}
                for x in ports
            ],
        }  # fmt: skip
    if rtype == "OS::Cinder::Volume":
        return {
            "size": rng.choice((10, 20, 50, 100, 500)),
            "volume_type": rng.choice(("ssd", "hdd", "nvme")),
            "image": {"get_param": "image"},
        }
    if rtype == "OS::Heat::SoftwareConfig":
        return {
            "group": "script",
            "inputs": [{"name": rng.choice(PARAM_NAMES)}],
            "config": "#!/bin/bash\nset -eux\n"
            + "".join(
                f"echo '{rng.choice(WORDS)} {rng.choice(APPS)}' >> /etc/{rng.choice(APPS)}.conf\n"
                for _ in range(rng.randint(2, 10))
            )
            + f"systemctl restart {rng.choice(APPS)}\n",
        }
    if rtype == "OS::Heat::CloudConfig":
        return {
            "cloud_config": {
                "package_update": True,
                "packages": rng.sample(APPS, 4),
                "write_files": [
                    {"path": f"/etc/{rng.choice(APPS)}/{rng.choice(WORDS)}.yaml",
                     "content": f"{rng.choice(WORDS)}: {rng.choice(WORDS)}\n"}
                ],
            }
        }  # fmt: skip
    if rtype == "OS::Heat::SoftwareDeployment":
        return {
            "config": {"get_resource": "config"},
            "server": {"get_resource": "server"},
            "input_values": {p: {"get_param": p}},
            "actions": ["CREATE", "UPDATE"],
        }
    if rtype == "OS::Heat::RandomString":
        return {"length": rng.choice((8, 16, 32)), "character_classes": [{"class": "lettersdigits"}]}
    if rtype == "OS::Heat::ResourceGroup":
        return {
            "count": rng.randint(1, 5),
            "resource_def": {"type": "My::Server", "properties": {"index": "%index%",
                                                                  "image": {"get_param": "image"}}},
        }  # fmt: skip
    if rtype == "OS::Heat::AutoScalingGroup":
        return {
            "min_size": 1,
            "max_size": rng.randint(3, 10),
            "resource": {"type": "My::Server", "properties": {"image": {"get_param": "image"}}},
        }
    if rtype == "OS::Aodh::Alarm":
        return {
            "meter_name": "cpu_util", "statistic": "avg", "period": 60, "threshold": 80,
            "comparison_operator": "gt", "alarm_actions": [{"get_attr": ["scale_up", "alarm_url"]}],
        }  # fmt: skip
    if rtype.startswith("OS::Octavia::"):
        return {"protocol": rng.choice(("HTTP", "HTTPS", "TCP")), "protocol_port": 443,
                "lb_algorithm": "ROUND_ROBIN", "vip_subnet": {"get_param": "subnet"}}  # fmt: skip
    return {"value": {"get_param": p}, "name": f"{rname}-{rng.choice(WORDS)}"}


def _param_value(rng: random.Random, name: str, image: str):
    if name == "image":
        return image
    if name == "flavor":
        return rng.choice(FLAVORS)
    if name in ("volume_size", "server_count", "ssh_port", "retention_days"):
        return str(rng.choice((1, 2, 3, 5, 10, 22, 50, 100, 2222)))
    if name == "enable_monitoring":
        return rng.choice(("true", "false"))
    if name == "dns_nameservers":
        return "8.8.8.8,1.1.1.1"
    if name == "subnet_cidr":
        return f"10.{rng.randrange(256)}.0.0/16"
    if name == "availability_zone":
        return rng.choice(ZONES)
    if name == "app_version":
        return f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 50)}"
    return f"{rng.choice(WORDS)}-{rng.choice(WORDS)}"


def _stack(
    rng: random.Random,
    *,
    project: str,
    name: str,
    ancestors: list[tuple[str, str]],
    parent_resource: str | None,
    image: str,
    created: datetime,
    status: str,
) -> tuple[dict, list[tuple[str, str]]]:
    """One document and the (resource name, nested stack id) slots its children may fill."""
    sid = _uuid(rng)
    depth = len(ancestors)
    # user-named parameters: common ones plus a few team-specific names
    names = ["image"] + rng.sample(PARAM_NAMES[1:], rng.randint(3, 14))
    names += [f"{rng.choice(WORDS)}_{rng.choice(WORDS)}" for _ in range(rng.randint(0, 4))]
    hidden = rng.sample(HIDDEN_NAMES, rng.randint(0, 2))
    names = list(dict.fromkeys(names))
    params = {n: _param_value(rng, n, image) for n in names}
    params.update({h: MASK for h in hidden})
    n_res = rng.choice((4, 5, 6, 8, 10, 12, 14, 16, 19, 22, 25, 28, 31))
    types = rng.choices(_TYPE_NAMES, cum_weights=_TYPE_CUM, k=n_res)
    if depth < 3 and rng.random() < 0.5:
        types[-1] = rng.choice(NESTING_TYPES)
    tres: dict[str, dict] = {}
    runtime = []
    slots = []
    for i, rtype in enumerate(types):
        base = "server" if rtype == "OS::Nova::Server" else rtype.rsplit("::", 1)[1].lower()
        rname = base if base not in tres else f"{base}_{i}"
        definition: dict = {"type": rtype, "properties": _properties(rng, rtype, rname, names)}
        if rng.random() < 0.3 and tres:
            definition["depends_on"] = [rng.choice(list(tres))]
        tres[rname] = definition
        nested = _uuid(rng) if rtype in NESTING_TYPES else None
        if nested:
            slots.append((rname, nested))
        rstatus = status if i == len(types) - 1 and status.endswith("FAILED") else (
            status.split("_")[0] + "_COMPLETE")
        runtime.append({
            "name": rname,
            "type": rtype,
            "status": rstatus,
            "status_reason": (f"Error: resources.{rname}: {rng.choice(WORDS)} quota exceeded"
                              if rstatus.endswith("FAILED") else "state changed"),
            "physical_resource_id": nested or _uuid(rng),
            "nested_stack_id": nested,
        })  # fmt: skip
    tparams = {
        n: {"type": "string", "description": f"{n.replace('_', ' ').capitalize()} of the "
            f"{rng.choice(APPS)} tier", "default": (MASK if n in hidden else params[n])}
        for n in params
    }  # fmt: skip
    for h in hidden:
        tparams[h]["hidden"] = True
    if "flavor" in tparams:
        tparams["flavor"]["constraints"] = [{"custom_constraint": "nova.flavor"}]
    outputs_t = {}
    outputs = []
    for rname in list(tres)[: rng.randint(1, 5)]:
        key = f"{rname}_id"
        outputs_t[key] = {"description": f"id of {rname}", "value": {"get_resource": rname}}
        outputs.append({"key": key, "value": runtime[list(tres).index(rname)]["physical_resource_id"],
                        "description": f"id of {rname}", "error": None})  # fmt: skip
    if "server" in tres:
        ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        outputs_t["server_ip"] = {"value": {"get_attr": ["server", "first_address"]}}
        outputs.append({"key": "server_ip", "value": ip, "description": None, "error": None})
    template = {
        "heat_template_version": rng.choice(("2021-04-16", "2018-08-31", "2016-10-14")),
        "description": f"{rng.choice(APPS)} {rng.choice(WORDS)} stack for {rng.choice(ENVS)}",
        "parameters": tparams,
        "resources": tres,
        "outputs": outputs_t,
    }
    environment = {
        "parameters": {},
        "parameter_defaults": {n: params[n] for n in names[: rng.randint(0, 4)]},
        "resource_registry": (
            {"My::Server": "file:///srv/templates/server.yaml",
             "My::Tier": "file:///srv/templates/tier.yaml"} if slots else {}
        ),
    }  # fmt: skip
    updated = created + timedelta(seconds=rng.randrange(0, 90 * 86400))
    if status.startswith("CREATE"):
        updated = created
    action, _, state = status.partition("_")
    doc = {
        "id": sid,
        "name": name,
        "project_id": project,
        "status": status,
        "action": action,
        "state": state,
        "status_reason": (f"Resource {action} failed: {rng.choice(WORDS)} quota exceeded"
                          if state == "FAILED" else f"Stack {action} completed successfully"),
        "created_at": _iso(created),
        "updated_at": _iso(updated),
        "deleted_at": None,
        "description": template["description"],
        "tags": sorted(set(rng.sample(TAGS, rng.randint(0, 3)))) if not ancestors else [],
        "parent_id": ancestors[-1][0] if ancestors else None,
        "root_id": ancestors[0][0] if ancestors else sid,
        "ancestors": [a[0] for a in ancestors],
        "path": [a[1] for a in ancestors] + [name],
        "depth": depth,
        "parent_resource": parent_resource,
        "stack_owner": f"user-{rng.randrange(1000)}",
        "stack_user_project_id": hashlib.md5(sid.encode()).hexdigest(),  # noqa: S324
        "parameters": params,
        "outputs": outputs,
        "resources": sorted(runtime, key=lambda r: (r["name"], r["type"], r["physical_resource_id"])),
        "resource_types": sorted(set(types)),
        "template": template,
        "template_version": template["heat_template_version"],
        "environment": environment,
        "files": sorted(environment["resource_registry"].values()),
        # a real fingerprint hashes the canonical template; its value only needs to be stable here
        "fingerprint": hashlib.sha256(f"{template['description']}/{n_res}".encode()).hexdigest(),
        "indexed_at": _iso(updated + timedelta(seconds=5)),
        "version": 0,
    }
    return doc, slots


def _root_status(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.02:
        return "CREATE_FAILED"
    if r < 0.03:
        return "UPDATE_FAILED"
    if r < 0.04:
        return "UPDATE_IN_PROGRESS"
    if r < 0.60:
        return "CREATE_COMPLETE"
    return "UPDATE_COMPLETE"


def _tree(rng: random.Random, n_tree: int) -> list[dict]:
    """One root stack and (for about one root in six) its nested stacks, parents first."""
    project = PROJECTS[rng.choices(range(N_PROJECTS), cum_weights=_PROJECT_CUM)[0]]
    image = IMAGES[rng.choices(range(len(IMAGES)), cum_weights=_IMAGE_CUM)[0]]
    name = f"{rng.choice(APPS)}-{rng.choice(ENVS)}-{n_tree}"
    created = EPOCH + timedelta(seconds=rng.randrange(SPAN_S))
    status = _root_status(rng)
    nested = rng.random() < 0.16
    out: list[dict] = []

    def add(name, ancestors, parent_resource, status, depth_left):
        doc, slots = _stack(rng, project=project, name=name, ancestors=ancestors,
                            parent_resource=parent_resource, image=image, created=created,
                            status=status)  # fmt: skip
        out.append(doc)
        if not nested or depth_left == 0:
            return
        chain = ancestors + [(doc["id"], name)]
        want = rng.randint(1, 4) if not ancestors else rng.choice((0, 0, 1, 2))
        for rname, _ in (slots * 4)[:want]:
            add(f"{name}-{rname}-{_suffix(rng)}", chain, rname, status, depth_left - 1)

    add(name, [], None, status, 3)
    return out


def stacks(n: int, seed: int = 42) -> Iterator[dict]:
    """``n`` documents, deterministic for ``(n, seed)``; each tree has its own random stream."""
    produced = 0
    tree = 0
    while produced < n:
        rng = random.Random(f"{seed}-{tree}")
        for doc in _tree(rng, tree):
            if produced >= n:
                return
            yield doc
            produced += 1
        tree += 1


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    import time

    started = time.perf_counter()
    sizes, nested, depths, projects = [], 0, [0, 0, 0, 0], {}
    for doc in stacks(n):
        sizes.append(len(json.dumps(doc, ensure_ascii=False)))
        nested += doc["depth"] > 0
        depths[doc["depth"]] += 1
        projects[doc["project_id"]] = projects.get(doc["project_id"], 0) + 1
    took = time.perf_counter() - started
    sizes.sort()
    top = sorted(projects.values(), reverse=True)
    print(f"{n} docs in {took:.1f}s ({n / took:.0f}/s); bytes mean {sum(sizes) / n:.0f} "
          f"p10 {sizes[n // 10]} p50 {sizes[n // 2]} p90 {sizes[9 * n // 10]} max {sizes[-1]}; "
          f"nested {nested / n:.1%}, by depth {depths}; projects {len(projects)}, "
          f"largest {top[0]} ({top[0] / n:.1%}), median {top[len(top) // 2]}")  # fmt: skip


if __name__ == "__main__":
    main()
