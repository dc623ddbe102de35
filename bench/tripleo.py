"""Heavy real trees on disk (#16): TripleO-shaped stack trees in the store and in the index.

``trees(n, seed)`` generates overclouds as a TripleO deployment leaves them in Heat and turns each
stack into heatseeker's document with the real builder (``documents.build_all``, each child masked
with what its parent made secret, as ``sync`` does). 312-362 stacks per tree, 7 levels::

    overcloud                                    root: overcloud.yaml
    ├─ Controller, Compute, CephStorage          ResourceGroups of 3, ~80-105 and 3-6 servers
    │  └─ 0, 1, …                                a server each: puppet/<role>-role.yaml (shared)
    │     └─ NetworkConfig                       OS::TripleO::<Role>::Net::SoftwareConfig
    └─ <Role>ServiceChain                        common/services/<role>-role.yaml
       └─ ServiceChain                           OS::Heat::ResourceChain of the role's services
          └─ 0, 1, … (45 / 18 / 9 services)      OS::TripleO::Services::<Name> (~80 templates)
             └─ <Comp>Base → <Comp>Logging → LoggingSource   (Nova, Neutron; shorter: Cinder …)

Why such trees are heavy: Heat's environment endpoint answers, for *every* nested stack, the root's
whole ``resource_registry`` (~600 entries) and ``parameter_defaults`` (~100 KB: container images,
every node's ports, ExtraConfig hiera, passwords), its files endpoint every template of the tree
(~500 files, ~1.4 MB), and the servers of a group share one template. The documents repeat all of
it (and what heatseeker derives from it: ``registry_map``, ``registry_types``, ``files``). The
trees share TripleO's templates and registry; a few values differ per tree (NTP servers, node
counts, passwords, one site environment). Passwords are hidden in the templates: masked everywhere.

Phases, each in its own process (``--phase``): ``fill`` (every document into a fresh store, history
on, ``Store.apply`` 1,000 at a time with the file digests and summaries a sync writes; the store's
size on disk), ``rebuild`` (``Projector.rebuild()``, three times: the live generation and the whole
index directory; searches checked against what the generated documents say), ``answers`` (every
stored document, through ``get`` and ``iter_all``, is the generated one). Target: the store at most
the size of the index's live generation.

    python -m bench.tripleo [--trees N] [--seed S]     # prints the figures as JSON
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from bench import common

FULL_TREES = 16  # ~5,500 stacks, as the issue's 4,983
QUICK_TREES = 1
BATCH = 1000  # changes per Store.apply, as bench/indexing.py
PROJECT = "5b0c6f7e8d9a4b1c2d3e4f5a6b7c8d9e"  # the undercloud's admin project
EPOCH = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)  # indexed_at of every document
SECRET_PREFIX = "S3CRET"  # every secret value starts so (Heat's names: lower case): a leak
_DUMP = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# -- TripleO's templates: the same in every tree ---------------------------------------------------
# fmt: off

# component: its services ("-": the component alone)
CATALOGUE = """
Aodh: Api Evaluator Listener Notifier
Barbican: Api BackendSimpleCrypto BackendDogtag BackendKmip BackendPkcs11Crypto Client
Ceilometer: AgentCentral AgentNotification AgentIpmi ComputeAgent
Ceph: Mgr Mon OSD Client External Rgw Mds Grafana NfsGanesha Rbdmirror Dashboard
Cinder: Api Scheduler Volume Backup BackendDellSc BackendNetApp BackendPure BackendNVMeOF
Cinder: BackendScaleIO BackendVRTSHyperScale VolumeEdge HPELeftHandISCSI BackendRbd
Collectd: - Qdr Sensubility
Designate: Api Central Producer Worker Mdns Sink Bind
Glance: Api ApiEdge ApiInternal Registry
Gnocchi: Api Metricd Statsd
HAproxy: - Edge PublicTLS InternalTLS
Heat: Api ApiCfn Engine ApiCloudwatch
Ironic: Api Conductor Inspector Pxe NeutronAgent
Manila: Api Scheduler Share BackendCephFs BackendNetapp BackendIsilon BackendUnity BackendVNX
Manila: BackendVMAX BackendPowerMax BackendFlashblade
Mistral: Api Engine Executor EventEngine
MySQL: - Client
Neutron: Api Server Dhcp L3Agent MetadataAgent OvsAgent SriovAgent SriovHostConfig BgpVpnApi
Neutron: BgpVpnBagpipe L2gwApi L2gwAgent LinuxbridgeAgent ML2 CorePlugin Plugin NsxAgent
Neutron: OvsDpdkAgent MlnxAgent VppAgent AgentsIBConfig
Nova: Api Conductor Scheduler Metadata Compute Libvirt LibvirtGuests MigrationTarget VncProxy
Nova: Placement Ironic AZConfig ComputeCommon Virtlogd Manager CellV2 CellController
Octavia: Api HealthManager HousekeepingManager Worker DeploymentConfig
Ovn: Controller Dbs Metadata Northd
Pacemaker: - Remote HAproxy MySQL RabbitMQ Redis OvnDbs CinderVolume CinderBackup ManilaShare
Pacemaker: Clustercheck CephNfs Qdr
Placement: Api
Rsyslog: - Sidecar
Sahara: Api Engine
Skydive: Agent Analyzer
Swift: Proxy Storage Ringbuilder Dispersion StorageLocal
Tripleo: Firewall Packages Ssh Validations
Zaqar: Api Websocket
Etcd Horizon Keepalived Keystone Memcached Qdr RabbitMQ Redis Rear Tacker Tempest Unbound: -
AuditD BootParams CertmongerUser ContainerImagePrepare Chrony Clustercheck Frr IpaClient: -
ContainersLogrotateCrond DockerRegistry Ipsec Iscsid Kernel LoginDefs Multipathd Ptp Vpp: -
OpenStackClients OsloMessagingNotify OsloMessagingRpc Podman Securetty Snmp Sshd Rhsm Qemu: -
Timesync Timezone Tuned ExternalSwiftProxy UndercloudUpgrade UndercloudTLS Docker Ntp: -
MasqueradeNetworks OpenDaylightApi OpenDaylightOvs BlockStorageCinderVolume: -
"""
# what each deployed role runs (its ServiceChain)
_ROLE_SERVICES = {
    "Controller": """AodhApi AodhEvaluator AodhListener AodhNotifier AuditD BootParams
        CeilometerAgentCentral CeilometerAgentNotification CephMgr CephMon CephClient
        CertmongerUser CinderApi CinderScheduler CinderVolume Clustercheck ContainerImagePrepare
        GlanceApi GnocchiApi GnocchiMetricd HAproxy HeatApi HeatApiCfn HeatEngine Horizon Iscsid
        Kernel Keystone Memcached MySQL NeutronApi NeutronDhcp NeutronL3Agent NeutronMetadataAgent
        NovaApi NovaConductor NovaMetadata NovaScheduler NovaVncProxy OsloMessagingRpc Pacemaker
        PlacementApi Podman Redis Sshd Timesync""",
    "Compute": """AuditD BootParams CeilometerComputeAgent CephClient CertmongerUser Iscsid Kernel
        LoginDefs Multipathd NeutronOvsAgent NovaCompute NovaLibvirt NovaMigrationTarget Podman
        Securetty Sshd Timesync Tuned""",
    "CephStorage": "AuditD BootParams CephOSD CertmongerUser Kernel Podman Sshd Timesync Tuned",
}
ROLE_SERVICES = {role: names.split() for role, names in _ROLE_SERVICES.items()}
# components whose deployed services have nested templates below them, and how many levels
CHAINS = {"Nova": 3, "Neutron": 3, "Cinder": 2, "Heat": 2, "Glance": 1}
ROLES = ("Controller", "Compute", "CephStorage", "ObjectStorage", "BlockStorage", "Networker",
         "ComputeHCI", "ComputeSriov", "ComputeDVR", "CellController", "Database", "Messaging")
DEPLOYED = ("Controller", "Compute", "CephStorage")
NETWORKS = ("Ctlplane", "InternalApi", "Storage", "StorageMgmt", "Tenant", "External")
# per role, in the registry ({role}, {r}: lower case)
ROLE_REGISTRY = """
OS::TripleO::{role}: puppet/{r}-role.yaml
OS::TripleO::{role}Server: OS::TripleO::Server
OS::TripleO::{role}::Net::SoftwareConfig: network/config/{r}.yaml
OS::TripleO::{role}ServiceChain: common/services/{r}-role.yaml
OS::TripleO::{role}::NodeUserData: firstboot/userdata_default.yaml
OS::TripleO::{role}PostDeploySteps: common/post.yaml
OS::TripleO::{role}::InternalApiVipPort: network/ports/noop.yaml
OS::TripleO::{role}::Ports::InternalApiPort: network/ports/deployed_internal-api.yaml
OS::TripleO::{role}::Ports::StoragePort: network/ports/deployed_storage.yaml
OS::TripleO::{role}::Ports::StorageMgmtPort: network/ports/deployed_storage-mgmt.yaml
OS::TripleO::{role}::Ports::TenantPort: network/ports/deployed_tenant.yaml
OS::TripleO::{role}::Ports::ExternalPort: network/ports/deployed_external.yaml
OS::TripleO::{role}::PreNetworkConfig: OS::Heat::None
OS::TripleO::{role}ExtraConfigPre: OS::Heat::None
OS::TripleO::{role}::NodeExtraConfigPost: OS::Heat::None
OS::TripleO::{role}::NodeTLSData: OS::Heat::None
OS::TripleO::{role}::NodeTLSCAData: OS::Heat::None
OS::TripleO::Tasks::{role}PreConfig: OS::Heat::None
OS::TripleO::Tasks::{role}PostConfig: OS::Heat::None
OS::TripleO::{role}Upgrade: OS::Heat::None
"""
PASSWORDS = ("Admin", "Aodh", "Barbican", "Ceilometer", "Cinder", "Designate", "Glance", "Gnocchi",
             "HAProxyStats", "Heat", "HeatStackDomainAdmin", "Horizon", "Ironic", "Keystone",
             "Manila", "Mistral", "MysqlClustercheck", "MysqlRoot", "Neutron", "Nova", "Octavia",
             "Pcsd", "Placement", "Rabbit", "Redis", "Sahara", "Swift", "Zaqar", "Tacker", "Qdr",
             "Rpc", "Notify", "CephClientKey", "CephRgwKey", "SnmpdReadonlyUser", "MigrationSshKey",
             "KeystoneCredential0", "KeystoneCredential1", "HeatAuthEncryptionKey", "HorizonSecret")
WORDS = ("max", "workers", "timeout", "debug", "interval", "enabled", "size", "pool", "ttl",
         "retries", "backend", "driver", "region", "cache", "quota", "limit", "ssl", "port")


def _kebab(name: str) -> str:
    return "".join("-" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


@dataclass(frozen=True)
class Service:
    name: str  # NovaApi
    component: str  # Nova
    path: str | None  # its template (None: the registry maps it to OS::Heat::None)

    @property
    def snake(self) -> str:
        return _kebab(self.name).replace("-", "_")


def catalogue() -> list[Service]:
    """TripleO's ~330 services; ~60 % have a template, the deployed ones always."""
    rng = random.Random(7)  # TripleO's own choice: the same in every tree and every run
    deployed = {n for names in ROLE_SERVICES.values() for n in names}
    out: dict[str, Service] = {}
    for line in CATALOGUE.strip().splitlines():
        head, _, subs = line.partition(":")
        for comp in head.split():
            for sub in subs.split():
                name = comp if sub == "-" else comp + sub
                path = f"deployment/{comp.lower()}/{_kebab(name)}-container-puppet.yaml"
                keep = name in deployed or rng.random() < 0.62
                out.setdefault(name, Service(name, comp, path if keep else None))
    return list(out.values())


def chain_of(service: str) -> tuple[str, int]:
    """The component of a deployed service with nested templates below it, and how many levels."""
    deployed = any(service in names for names in ROLE_SERVICES.values())
    comp = next((c for c in CHAINS if service.startswith(c)), "") if deployed else ""
    return comp, CHAINS.get(comp, 0)


# every stack of a tree but the servers and their NetworkConfig: the root, and per role its group,
# its chain, the chain's ResourceChain, its services and what is nested below them
FIXED_STACKS = 1 + sum(3 + sum(1 + chain_of(n)[1] for n in ROLE_SERVICES[r]) for r in DEPLOYED)


def _p(kind: str = "string", default: Any = None, hidden: bool = False, desc: str = "") -> dict:
    d: dict[str, Any] = {"type": kind, "description": desc or f"A {kind} parameter."}
    if default is not None:
        d["default"] = default
    if hidden:
        d["hidden"] = True
    return d


def _hot(description: str, parameters: dict, resources: dict, outputs: dict) -> dict:
    return {"heat_template_version": "wallaby", "description": description,
            "parameters": parameters, "resources": resources, "outputs": outputs}


COMMON_PARAMS = {
    "ServiceData": _p("json", {}, desc="Dictionary packing service data"),
    "ServiceNetMap": _p("json", {}, desc="Mapping of service_name -> network name. Typically set "
                        "via parameter_defaults in the resource registry."),
    "EndpointMap": _p("json", {}, desc="Mapping of service endpoint -> protocol. Typically set via "
                      "parameter_defaults in the resource registry."),
    "RoleName": _p("string", "", desc="Role name on which the service is applied"),
    "RoleParameters": _p("json", {}, desc="Parameters specific to the role"),
}
PASS_THROUGH = {k: {"get_param": k} for k in COMMON_PARAMS}


def _tasks(rng: random.Random, name: str, n: int) -> list[dict]:
    verbs = ("Ensure", "Check", "Create", "Remove", "Set", "Stop", "Enable", "Update")
    return [{"name": f"{rng.choice(verbs)} {name} {rng.choice(WORDS)} {i}",
             rng.choice(("file", "command", "systemd", "lineinfile")): {
                 "path": f"/var/lib/config-data/{name}/{rng.choice(WORDS)}",
                 "state": rng.choice(("present", "directory", "absent", "started"))},
             "when": [f"step|int == {rng.randint(1, 5)}"], "tags": [f"step{rng.randint(0, 5)}"]}
            for i in range(n)]


def service_template(s: Service, rng: random.Random) -> dict:
    """deployment/<comp>/<name>-container-puppet.yaml (~4-6 KB of YAML)."""
    image, config_image = f"Container{s.name}Image", f"Container{s.component}ConfigImage"
    password = f"{s.component}Password" if s.component in PASSWORDS else None
    params = dict(COMMON_PARAMS, **{
        image: _p(desc="image"), config_image: _p(desc="The container image of config_volume"),
        f"{s.name}Workers": _p("number", 0, desc="Number of workers"),
        "EnableInternalTLS": _p("boolean", False),
        f"{s.name}LoggingSource": _p("json", {"tag": f"openstack.{s.snake}",
                                              "file": f"/var/log/containers/{s.snake}.log"})})
    if password:
        params[password] = _p(hidden=True, desc=f"The password of the {s.component} service")
    resources: dict = {
        "ContainersCommon": {"type": "OS::Heat::Value", "properties": {"value": {"volumes": [
            "/etc/hosts:/etc/hosts:ro", "/etc/localtime:/etc/localtime:ro"]}}},
        "RoleParametersValue": {"type": "OS::Heat::Value", "properties": {"type": "json", "value": {
            "map_replace": [{f"{s.name}Workers": f"{s.name}Workers"},
                            {"values": {"get_param": ["RoleParameters"]}}]}}}}
    settings: dict = {f"{s.snake}::{w}": {"get_param": rng.choice(list(params))}
                      for w in rng.sample(WORDS, 10)}
    if password:
        settings[f"{s.component.lower()}::db::mysql::password"] = {"get_param": password}
    comp, depth = chain_of(s.name)
    if depth:
        resources[f"{comp}Base"] = {"type": base_path(comp, 0), "properties": dict(PASS_THROUGH)}
        settings = {"map_merge": [
            {"get_attr": [f"{comp}Base", "role_data", "config_settings"]}, settings]}
    container = {"image": {"get_param": image}, "net": "host", "restart": "always",
                 "healthcheck": {"test": "/openstack/healthcheck"},
                 "volumes": {"list_concat": [{"get_attr": ["ContainersCommon", "value", "volumes"]}, [
                     f"/var/lib/kolla/config_files/{s.snake}.json:/var/lib/kolla/config_files/config.json:ro",
                     f"/var/lib/config-data/puppet-generated/{s.snake}:/var/lib/kolla/config_files/src:ro",
                     f"/var/log/containers/{s.snake}:/var/log/{s.snake}:z"]]},
                 "environment": {"KOLLA_CONFIG_STRATEGY": "COPY_ALWAYS"}}
    role_data = {
        "service_name": s.snake,
        "firewall_rules": {f"1{rng.randint(10, 99)} {s.snake}": {"dport": [rng.randint(1000, 9999)]}},
        "config_settings": settings,
        "puppet_config": {"config_volume": s.snake, "puppet_tags": f"{s.snake}_config",
                          "step_config": f"include tripleo::profile::base::{s.snake}\n",
                          "config_image": {"get_param": config_image}},
        "kolla_config": {f"/var/lib/kolla/config_files/{s.snake}.json": {
            "command": f"/usr/bin/{_kebab(s.name)} --config-file /etc/{s.snake}.conf",
            "config_files": [{"source": "/var/lib/kolla/config_files/src/*", "dest": "/",
                              "merge": True, "preserve_properties": True}],
            "permissions": [{"path": f"/var/log/{s.snake}", "owner": f"{s.snake}:{s.snake}",
                             "recurse": True}]}},
        "docker_config": {f"step_{rng.randint(2, 5)}": {s.snake: container}},
        "host_prep_tasks": _tasks(rng, s.snake, 3),
        "upgrade_tasks": _tasks(rng, s.snake, 2),
        "update_tasks": _tasks(rng, s.snake, 1),
    }
    return _hot(f"OpenStack containerized {s.name} service", params, resources,
                {"role_data": {"description": f"Role data of {s.name}.", "value": role_data}})


def base_path(component: str, level: int) -> str:
    c = component.lower()
    return (f"deployment/{c}/{c}-base-puppet.yaml", f"deployment/logging/files/{c}-common.yaml",
            "deployment/logging/logging-source.yaml")[level]


def base_resource(component: str, level: int) -> str:
    return (f"{component}Base", f"{component}Logging", "LoggingSource")[level]


def base_template(component: str, level: int, depth: int, rng: random.Random) -> dict:
    """What is nested below a service: its component's Base, its Logging, LoggingSource."""
    below = {}
    if level + 1 < depth:
        below[base_resource(component, level + 1)] = {"type": base_path(component, level + 1),
                                                      "properties": dict(PASS_THROUGH)}
    settings = {f"{component.lower()}::{w}": rng.choice(["true", "false", 32, "/etc"])
                for w in rng.sample(WORDS, 12)}
    params = dict(COMMON_PARAMS, **{f"{component}{w.title()}": _p(default=w)
                                    for w in rng.sample(WORDS, 6)})
    return _hot(f"OpenStack {base_resource(component, level)}", params, below,
                {"role_data": {"value": {"service_name": f"{component.lower()}_base",
                                         "config_settings": settings}}})


def role_template(role: str, rng: random.Random) -> dict:
    """puppet/<role>-role.yaml: one server of the role (the members of its group share it)."""
    params = dict(COMMON_PARAMS, **{
        "Hostname": _p(), "NodeIndex": _p("number", 0), "CloudDomain": _p(default="localdomain"),
        "ServiceNames": _p("comma_delimited_list", []), "MonitoringSubscriptions": _p("json", []),
        f"Overcloud{role}Flavor": _p(default="baremetal"), f"{role}Image": _p(default="overcloud-full"),
        "UpdateIdentifier": _p(default=""), "DeployIdentifier": _p(default=""),
        "ServerMetadata": _p("json", {}), f"{role}ExtraConfig": _p("json", {}),
        f"{role}SchedulerHints": _p("json", {}), "KeyName": _p(default="default")})
    resources: dict = {
        role: {"type": f"OS::TripleO::{role}Server", "properties": {
            "image": {"get_param": f"{role}Image"}, "flavor": {"get_param": f"Overcloud{role}Flavor"},
            "name": {"get_param": "Hostname"}, "metadata": {"get_param": "ServerMetadata"}}},
        "NetworkConfig": {"type": f"OS::TripleO::{role}::Net::SoftwareConfig",
                          "properties": {"ServiceNetMap": {"get_param": "ServiceNetMap"}}},
        "NetworkDeployment": {"type": "OS::TripleO::SoftwareDeployment", "properties": {
            "config": {"get_attr": ["NetworkConfig", "OS::stack_id"]},
            "server": {"get_resource": role}}}}
    for name in ("UserData", "NodeAdminUserData", "NodeUserData", "RoleUserData", "UpdateConfig",
                 "UpdateDeployment", "SshHostPubKey", "NodeTLSCAData", "PreNetworkConfig",
                 "NodeExtraConfig", "HostsEntryDeployment", "AllNodesDeployment", f"{role}Config",
                 f"{role}Deployment"):
        kind = "OS::Heat::StructuredDeployment" if name.endswith("Deployment") else "OS::Heat::SoftwareConfig"
        script = "\n".join(f"echo {rng.choice(WORDS)}={rng.randint(0, 9999)}" for _ in range(6))
        resources[name] = {"type": kind, "properties": {
            "group": "script", "config": f"#!/bin/bash\n# {name} of {role}\nset -eux\n{script}"}}
    outputs = {k: {"value": {"get_attr": [role, v]}} for k, v in (
        ("ip_address", "networks"), ("hostname", "name"), ("nova_server_resource", "show"))}
    return _hot(f"OpenStack {role} node configured by Puppet", params, resources, outputs)


def net_config_template(role: str, rng: random.Random) -> dict:
    """network/config/<role>.yaml: os-net-config's bridge and VLANs for one role."""
    vlans = [{"type": "vlan", "vlan_id": {"get_param": f"{n}NetworkVlanID"},
              "addresses": [{"ip_netmask": {"get_param": f"{n}IpSubnet"}}]} for n in NETWORKS[1:]]
    bridge = {"type": "ovs_bridge", "name": "br-ex", "use_dhcp": False,
              "members": [{"type": "interface", "name": "nic2", "primary": True}, *vlans]}
    params = {f"{n}{k}": _p(default=v) for n in NETWORKS for k, v in (
        ("IpSubnet", ""), ("NetworkVlanID", rng.randint(10, 90)), ("Mtu", 1500))}
    config = {"str_replace": {"template": {"get_file": "network/scripts/run-os-net-config.sh"},
                              "params": {"$network_config": {"network_config": [bridge]}}}}
    return _hot(f"os-net-config of the {role} role",
                dict(ServiceNetMap=COMMON_PARAMS["ServiceNetMap"], **params),
                {"OsNetConfigImpl": {"type": "OS::Heat::SoftwareConfig",
                                     "properties": {"group": "script", "config": config}}},
                {"OS::stack_id": {"value": {"get_resource": "OsNetConfigImpl"}}})


def chain_template(role: str) -> dict:
    """common/services/<role>-role.yaml: the role's services as one OS::Heat::ResourceChain."""
    chain = {"type": "OS::Heat::ResourceChain", "properties": {
        "resources": {"get_param": "Services"}, "concurrent": True,
        "resource_properties": dict(PASS_THROUGH)}}
    role_data = {"service_names": {"get_attr": ["ServiceChain", "role_data", "service_name"]},
                 "config_settings": {"map_merge": {"get_attr": ["ServiceChain", "role_data",
                                                                "config_settings"]}}}
    return _hot(f"Services of the {role} role",
                dict(COMMON_PARAMS, Services=_p("comma_delimited_list", [])),
                {"ServiceChain": chain}, {"role_data": {"value": role_data}})


def root_template(rng: random.Random) -> dict:
    """overcloud.yaml (as rendered from overcloud.j2.yaml)."""
    params: dict = {f"{c}Password": _p(hidden=True) for c in PASSWORDS}
    params.update({f"{r}{k}": _p(kind, d) for r in ROLES for k, kind, d in (
        ("Count", "number", 1), ("ExtraConfig", "json", {}), ("Services", "comma_delimited_list", []),
        ("Parameters", "json", {}))})
    params.update({"NtpServer": _p("comma_delimited_list", ["pool.ntp.org"]),
                   "CloudName": _p(default="overcloud.localdomain"), "DeployIdentifier": _p(),
                   "ServiceNetMap": _p("json", {}), "EndpointMap": _p("json", {}),
                   "NodePortMap": _p("json", {}), "ExtraConfig": _p("json", {}),
                   "KeystoneFernetKeys": _p("json", {}, hidden=True)})
    resources: dict = {}
    for role in DEPLOYED:
        member = {"Hostname": f"overcloud-{role.lower()}-%index%", "NodeIndex": "%index%",
                  "ServiceNetMap": {"get_param": "ServiceNetMap"},
                  "ServiceNames": {"get_attr": [f"{role}ServiceChain", "role_data", "service_names"]},
                  "RoleParameters": {"get_param": f"{role}Parameters"}}
        resources[role] = {"type": "OS::Heat::ResourceGroup", "properties": {
            "count": {"get_param": f"{role}Count"},
            "resource_def": {"type": f"OS::TripleO::{role}", "properties": member}}}
        resources[f"{role}ServiceChain"] = {"type": f"OS::TripleO::{role}ServiceChain", "properties":
            dict(PASS_THROUGH, Services={"get_param": f"{role}Services"}, RoleName=role)}
    for name in ("ServiceNetMapValue", "EndpointMapData", "VipMap", "ServerIdMap", "HostsEntryValue",
                 "AllNodesExtraMapData", "BlacklistedIpAddresses", "DeployedServerEnvironment"):
        resources[name] = {"type": "OS::Heat::Value", "properties": {"value": {
            "get_param": rng.choice(["ServiceNetMap", "EndpointMap", "NodePortMap"])}}}
    for name in ("HeatAuthEncryptionKey", "PcsdPassword", "HorizonSecret", "RabbitCookie"):
        resources[name] = {"type": "OS::Heat::RandomString", "properties": {"length": 32}}
    outputs = {
        "KeystoneURL": {"value": {"get_param": ["EndpointMap", "KeystonePublic", "uri"]}},
        "EndpointMap": {"value": {"get_param": "EndpointMap"}},
        "RoleData": {"value": {r: {"get_attr": [f"{r}ServiceChain", "role_data"]} for r in DEPLOYED}},
        "ServerIdData": {"value": {"get_attr": ["ServerIdMap", "value"]}},
        "DeployedServerEnvironment": {"value": {"parameter_defaults": {
            "AdminPassword": {"get_param": "AdminPassword"},
            "NodePortMap": {"get_param": "NodePortMap"}}}}}
    return _hot("Deploy an OpenStack overcloud (TripleO)", params, resources, outputs)


def environment_file(i: int, services: list[Service], rng: random.Random) -> str:
    """environments/*.yaml: what an operator picks with -e (registry and parameter_defaults)."""
    picked = rng.sample(services, 6)
    env = {"resource_registry": {f"OS::TripleO::Services::{s.name}": s.path or "OS::Heat::None"
                                 for s in picked},
           "parameter_defaults": {f"{s.name}{rng.choice(WORDS).title()}": rng.choice(
               [True, False, rng.randint(1, 512), f"{rng.choice(WORDS)}-{i}"]) for s in picked}}
    comment = " ".join(rng.choice(WORDS) for _ in range(40))
    return f"# {comment}\n" + yaml.dump(env, Dumper=_DUMP, sort_keys=False)


# fmt: on


@dataclass
class Templates:
    """TripleO's templates, parsed (what Heat's template endpoint answers) and as files."""

    services: list[Service]
    registry: dict[str, str]
    parsed: dict[str, dict]  # path → template
    files: dict[str, str]  # path → text (~500 files; a site environment is added per tree)


_TEMPLATES: list[Templates] = []


def templates() -> Templates:
    """The templates, made once per process (the same in every tree)."""
    if _TEMPLATES:
        return _TEMPLATES[0]
    rng = random.Random(11)
    services = catalogue()
    registry = {f"OS::TripleO::Services::{s.name}": s.path or "OS::Heat::None" for s in services}
    registry.update(
        {
            f"OS::TripleO::Services::Logging::{s.name}": "OS::Heat::None"
            for s in services
            if s.path and s.component != s.name
        }
    )
    parsed = {s.path: service_template(s, rng) for s in services if s.path}
    for comp, depth in CHAINS.items():
        for level in range(depth):
            parsed.setdefault(base_path(comp, level), base_template(comp, level, depth, rng))
    for role in ROLES:
        r = role.lower()
        parsed[f"puppet/{r}-role.yaml"] = role_template(role, rng)
        parsed[f"network/config/{r}.yaml"] = net_config_template(role, rng)
        parsed[f"common/services/{r}-role.yaml"] = chain_template(role)
        for line in ROLE_REGISTRY.strip().splitlines():
            key, _, target = line.format(role=role, r=r).partition(": ")
            registry[key] = target
    for n in NETWORKS:
        for variant in ("", "deployed_", "from_pool_", "v6_"):
            parsed[f"network/ports/{variant}{_kebab(n)}.yaml"] = _hot(
                f"{n} port ({variant or 'new'})",
                {"PortName": _p(), "ControlPlaneIP": _p(), "IPPool": _p("json", {})},
                {},
                {"ip_address": {"value": {"get_param": "ControlPlaneIP"}}},
            )
        registry[f"OS::TripleO::Network::{n}"] = f"network/{_kebab(n)}.yaml"
        registry[f"OS::TripleO::Network::Ports::{n}VipPort"] = f"network/ports/{_kebab(n)}.yaml"
    parsed["overcloud.yaml"] = root_template(rng)
    files = {p: yaml.dump(t, Dumper=_DUMP, sort_keys=False, width=100) for p, t in parsed.items()}
    files["network/scripts/run-os-net-config.sh"] = "#!/bin/bash\nset -eux\n" + "\n".join(
        f"# step {i}: {' '.join(rng.choice(WORDS) for _ in range(12))}" for i in range(60)
    )
    for i in range(500 - len(files)):
        files[f"environments/{rng.choice(WORDS)}-{i}.yaml"] = environment_file(i, services, rng)
    _TEMPLATES.append(Templates(services, registry, parsed, files))
    return _TEMPLATES[0]


# -- one tree --------------------------------------------------------------------------------------


@dataclass
class Node:
    """One stack of a tree, before it is built."""

    id: str
    name: str
    resource: str | None  # the parent's resource that made it
    template: dict
    passed: dict  # what the parent passed (the environment's parameters)
    children: list[Node] = field(default_factory=list)


@dataclass
class Tree:
    index: int
    defaults: dict  # parameter_defaults
    secrets: dict[str, str]  # parameter → its value: never to be found in a document
    files: dict[str, str]
    ntp: str  # its first NTP server (a value only this tree has)
    counts: dict[str, int]  # servers per role


@dataclass(frozen=True)
class Stack:
    id: str
    version: int
    doc: dict
    summary: dict  # what it passes down (Change.taint)
    tree: Tree


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _suffix(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))


def _secret(rng: random.Random, bits: int = 80) -> str:
    return f"{SECRET_PREFIX}{rng.getrandbits(bits):0{bits // 4}x}"


def parameter_defaults(t: Templates, site: str, counts: dict[str, int], rng: random.Random) -> dict:
    """One overcloud's parameter_defaults (~100 KB)."""
    registry = "undercloud.ctlplane.localdomain:8787/tripleowallaby"
    subnets = {n: f"172.{16 + k}.{rng.randint(0, 255)}." for k, n in enumerate(NETWORKS)}
    pd: dict[str, Any] = {f"{c}Password": _secret(rng) for c in PASSWORDS}
    pd["KeystoneFernetKeys"] = {
        f"/etc/keystone/fernet-keys/{k}": {"content": _secret(rng, 160)} for k in range(3)
    }
    pd.update(
        NtpServer=[f"ntp1.{site}.example.net", f"ntp2.{site}.example.net", "0.pool.ntp.org"],
        DnsServers=["10.11.5.19", "10.11.5.20"],
        CloudName=f"overcloud.{site}.example.net",
        CloudDomain=f"{site}.example.net",
        DeployIdentifier=str(rng.randint(1_700_000_000, 1_800_000_000)),
    )
    for r in ROLES:
        pd.update({f"{r}Count": counts.get(r, 0), f"Overcloud{r}Flavor": "baremetal"})
        pd[f"{r}HostnameFormat"] = f"%stackname%-{r.lower()}-%index%"
    for r in DEPLOYED:
        pd[f"{r}Services"] = [f"OS::TripleO::Services::{n}" for n in ROLE_SERVICES[r]]
    for s in t.services:
        if s.path:
            tag = f"17.1.{rng.randint(1, 4)}-{rng.randint(1, 9)}"
            pd[f"Container{s.name}Image"] = f"{registry}/openstack-{_kebab(s.name)}:{tag}"
    nets = ("internal_api", "storage", "ctlplane", "external", "tenant")
    pd["ServiceNetMap"] = {f"{s.name}Network": rng.choice(nets) for s in t.services[:150]}
    pd["EndpointMap"] = endpoint_map(site, rng)
    pd["NodePortMap"] = {
        f"overcloud-{role.lower()}-{k}": {
            _kebab(n).replace("-", "_"): {
                "ip_address": f"{subnets[n]}{k % 250 + 5}",
                "ip_subnet": f"{subnets[n]}{k % 250 + 5}/24",
                "ip_address_uri": f"{subnets[n]}{k % 250 + 5}",
            }
            for n in NETWORKS[:4]
        }
        for role in DEPLOYED
        for k in range(counts[role])
    }
    values = [True, 4096, "enabled", ["a", "b"], {"k": "v"}]
    for role in ("", *DEPLOYED):
        pd[f"{role}ExtraConfig"] = {
            f"{rng.choice(WORDS)}::{rng.choice(WORDS)}::{rng.choice(WORDS)}_{j}": rng.choice(values)
            for j in range(40)
        }
        pd[f"{role}Parameters"] = {
            "KernelArgs": f"default_hugepagesz=1GB hugepages={rng.randint(16, 64)} intel_iommu=on",
            "TunedProfileName": "cpu-partitioning",
            "NovaReservedHostMemory": 4096,
            "IsolCpusList": "2-19,22-39",
        }
    return pd


def endpoint_map(site: str, rng: random.Random) -> dict:
    apis = ("Aodh Barbican Cinder CinderV3 Designate Glance Gnocchi Heat HeatCfn Horizon Ironic "
            "Keystone Manila Neutron Nova NovaVNCProxy Octavia Placement Swift Zaqar Mistral Ceph")  # fmt: skip
    out = {}
    for api in apis.split():
        port = str(rng.randint(5000, 13999))
        for where, host in (("Admin", "172.16.2.10"), ("Internal", "172.16.2.10"),
                            ("Public", f"overcloud.{site}.example.net")):  # fmt: skip
            out[f"{api}{where}"] = {
                "host": host,
                "port": port,
                "protocol": "https",
                "uri": f"https://{host}:{port}",
            }
    return out


def build_tree(t: Templates, i: int, seed: int) -> tuple[Tree, Node]:
    """One overcloud: its values and its stacks (ids, names, templates, what each is passed)."""
    rng = random.Random(seed * 1_000_003 + i)
    total = rng.randint(312, 363)  # the issue's trees: 312-363 stacks (a server is two here)
    ceph = rng.randint(3, 6)
    counts = {
        "Controller": 3,
        "Compute": (total - FIXED_STACKS) // 2 - 3 - ceph,
        "CephStorage": ceph,
    }
    site = f"site{i:02d}"
    pd = parameter_defaults(t, site, counts, rng)
    secrets = {k: v for k, v in pd.items() if k.endswith("Password")}
    secrets["KeystoneFernetKeys"] = next(iter(pd["KeystoneFernetKeys"].values()))["content"]
    files = dict(t.files)
    site_env = {"parameter_defaults": {"NtpServer": pd["NtpServer"], "CloudName": pd["CloudName"],
                                       **{f"{r}Count": c for r, c in counts.items()}}}  # fmt: skip
    files[f"environments/{site}.yaml"] = yaml.dump(site_env, Dumper=_DUMP)
    tree = Tree(i, pd, secrets, files, pd["NtpServer"][0], counts)

    def node(parent: Node | None, resource: str | None, template: dict, passed: dict) -> Node:
        name = "overcloud" if parent is None else f"{parent.name}-{resource}-{_suffix(rng)}"
        n = Node(_uuid(rng), name, resource, template, passed)
        if parent is not None:
            parent.children.append(n)
        return n

    root = node(None, None, t.parsed["overcloud.yaml"], {})
    nets = {n: [f"172.16.{k}.0/24"] for k, n in enumerate(NETWORKS)}
    common_passed = {"ServiceData": {"net_cidr_map": nets}, "ServiceNetMap": pd["ServiceNetMap"],
                     "EndpointMap": pd["EndpointMap"]}  # fmt: skip
    for role in DEPLOYED:
        r = role.lower()
        services = [f"OS::TripleO::Services::{n}" for n in ROLE_SERVICES[role]]
        # a group's nested template: Heat writes the member definition with its values, per member
        member = {"ServiceNetMap": pd["ServiceNetMap"], "RoleParameters": pd[f"{role}Parameters"],
                  "ServiceNames": [_kebab(n).replace("-", "_") for n in ROLE_SERVICES[role]]}  # fmt: skip
        servers = {
            str(k): dict(member, Hostname=f"overcloud-{r}-{k}", NodeIndex=k)
            for k in range(counts[role])
        }
        group_t = {"heat_template_version": "2015-04-30",
                   "resources": {k: {"type": f"OS::TripleO::{role}", "properties": v} for k, v in servers.items()},
                   "outputs": {"refs": {"value": [{"get_resource": k} for k in servers]}}}  # fmt: skip
        group = node(root, role, group_t, {})
        for index, values in servers.items():
            server = node(group, index, t.parsed[f"puppet/{r}-role.yaml"], values)
            node(server, "NetworkConfig", t.parsed[f"network/config/{r}.yaml"],
                 {"ServiceNetMap": pd["ServiceNetMap"]})  # fmt: skip
        passed = dict(common_passed, RoleName=role, RoleParameters=pd[f"{role}Parameters"])
        chain = node(root, f"{role}ServiceChain", t.parsed[f"common/services/{r}-role.yaml"],
                     dict(passed, Services=services))  # fmt: skip
        chain_t = {"heat_template_version": "2015-04-30", "resources": {
            str(k): {"type": s, "properties": passed} for k, s in enumerate(services)}}  # fmt: skip
        links = node(chain, "ServiceChain", chain_t, {})
        for pos, s in enumerate(services):
            below = node(links, str(pos), t.parsed[t.registry[s]], passed)
            comp, depth = chain_of(s.rsplit("::", 1)[1])
            for level in range(depth):
                below = node(
                    below, base_resource(comp, level), t.parsed[base_path(comp, level)], passed
                )
    return tree, root


def _resolve(value: Any, param: Callable[[str], Any]) -> Any:
    """An output as Heat shows it: functions evaluated (get_attr only named), secrets in clear."""
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "get_param":
            got = param(arg if isinstance(arg, str) else arg[0])
            for key in arg[1:] if isinstance(arg, list) else []:
                got = got.get(key) if isinstance(got, dict) else None
            return got
        if fn == "get_attr":
            return ".".join(str(a) for a in arg)
        if fn == "map_merge":
            merged: dict = {}
            for part in arg if isinstance(arg, list) else [arg]:
                got = _resolve(part, param)
                merged.update(got if isinstance(got, dict) else {})
            return merged
    if isinstance(value, dict):
        return {k: _resolve(v, param) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, param) for v in value]
    return value


def _shown(value: Any) -> str:
    """A parameter's value as Heat's show answers it: a string (JSON for maps)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def snapshot(
    t: Templates, tree: Tree, n: Node, parent: Node | None, at: datetime, rng: random.Random
):
    """Heat's five answers for one stack (``heat.client.StackSnapshot``)."""
    from heatseeker.heat.client import StackSnapshot

    declared = n.template.get("parameters") or {}

    def value(name: str) -> Any:
        if name in n.passed:
            return n.passed[name]
        if name in tree.defaults:
            return tree.defaults[name]
        return (declared.get(name) or {}).get("default", "")

    # Heat's show masks hidden parameters itself; its outputs it shows in clear
    params = {k: "******" if d.get("hidden") else _shown(value(k)) for k, d in declared.items()}
    params.update({"OS::stack_id": n.id, "OS::stack_name": n.name, "OS::project_id": PROJECT})
    outputs = [
        {"output_key": k, "description": o.get("description", "No description given"),
         "output_value": _resolve(o.get("value"), value)}
        for k, o in (n.template.get("outputs") or {}).items()
    ]  # fmt: skip
    nested = {c.resource: c for c in n.children}
    base = f"https://overcloud.example.net:13004/v1/{PROJECT}/stacks"
    resources = []
    for res, definition in (n.template.get("resources") or {}).items():
        child = nested.get(res)
        links = [{"href": f"{base}/{n.name}/{n.id}/resources/{res}", "rel": "self"}]
        if child is not None:
            links.append({"href": f"{base}/{child.name}/{child.id}", "rel": "nested"})
        resources.append({
            "resource_name": res, "logical_resource_id": res, "resource_type": definition.get("type"),
            "resource_status": "CREATE_COMPLETE", "resource_status_reason": "state changed",
            "physical_resource_id": child.id if child else _uuid(rng), "links": links,
            "creation_time": at.isoformat(), "updated_time": at.isoformat(),
        })  # fmt: skip
    show = {
        "id": n.id, "stack_name": n.name, "description": n.template.get("description", ""),
        "parameters": params, "outputs": outputs, "stack_status": "CREATE_COMPLETE",
        "stack_status_reason": "Stack CREATE completed successfully",
        "creation_time": at.isoformat(), "updated_time": None,
        "parent": parent.id if parent else None, "tags": None, "stack_owner": "admin",
        "stack_user_project_id": "0d7e4a0f8c2b4c8e9f1a2b3c4d5e6f70", "timeout_mins": 240,
        "disable_rollback": True, "capabilities": [], "notification_topics": [],
    }  # fmt: skip
    # the same registry and parameter_defaults for every stack of the tree: what Heat answers
    environment = {"parameters": n.passed, "parameter_defaults": tree.defaults,
                   "resource_registry": dict(t.registry, resources={}), "event_sinks": [],
                   "encrypted_param_names": []}  # fmt: skip
    return StackSnapshot(show=show, template=n.template, environment=environment, files=tree.files,
                         resources=resources, read_at=0, region="")  # fmt: skip


def trees(n_trees: int, seed: int = 42) -> Iterator[Stack]:
    """Every stack of ``n_trees`` overclouds, parents before their children, each document built
    as ``sync`` builds it (with what its parent made secret: ``Inherited.from_summary``)."""
    from heatseeker import documents, secrets

    t = templates()
    for i in range(n_trees):
        tree, root = build_tree(t, i, seed)
        rng = random.Random(seed * 7919 + i)
        created = EPOCH + timedelta(days=i)
        version = int(created.timestamp() * 1_000_000)
        todo: list[tuple[Node, Node | None, list, dict | None]] = [(root, None, [], None)]
        while todo:
            n, parent, ancestors, summary = todo.pop()
            version += 1000
            inherited = (
                None if parent is None else secrets.Inherited.from_summary(summary, n.resource)
            )
            built = documents.build_all(
                snapshot(t, tree, n, parent, created, rng), project_id=PROJECT, ancestors=ancestors,
                parent_resource=n.resource, version=version, now=NOW, inherited=inherited,
            )  # fmt: skip
            yield Stack(n.id, version, built.doc, built.summary, tree)
            below = [*ancestors, (n.id, n.name)]
            todo.extend((c, n, below, built.summary) for c in reversed(n.children))


# -- searches: what the generated documents say they must answer -----------------------------------


def queries(first: Tree) -> list[dict]:
    """Name, query string and the predicate on a generated document (and its JSON)."""
    nova, ntp, pw = "OS::TripleO::Services::NovaApi", first.ntp, first.secrets["AdminPassword"]
    nova_file = "deployment/nova/nova-api-container-puppet.yaml"
    return [
        {"name": "a service in a chain (resource type)", "q": f"resources.type:{nova}",
         "match": lambda d, _: any(r["type"] == nova for r in d["resources"])},
        {"name": "the shared registry (every stack)", "q": "registry_types:OS::TripleO::Services::Ntp",
         "match": lambda d, _: "OS::TripleO::Services::Ntp" in d["registry_types"]},
        {"name": "one tree's parameter_defaults", "q": f'environment.parameter_defaults.NtpServer:"{ntp}"',
         "match": lambda d, _: ntp in d["environment"]["parameter_defaults"].get("NtpServer", [])},
        {"name": "a file of the trees", "q": f'files:"{nova_file}"',
         "match": lambda d, _: nova_file in d["files"]},
        {"name": "the servers' network configs", "q": "parent_resource:NetworkConfig AND depth:3",
         "match": lambda d, _: d["parent_resource"] == "NetworkConfig" and d["depth"] == 3},
        {"name": "a password's value (nowhere)", "q": pw, "match": lambda _, text: pw in text},
    ]  # fmt: skip


def search(index: str, specs: list[dict]) -> dict[str, list[str]]:
    """Each query through heatseeker's layer (parse → Searcher, as a cloud admin): every id."""
    from heatseeker.engines.tantivy import TantivyEngine
    from heatseeker.query.querystring import parse
    from heatseeker.query.visibility import Visibility
    from heatseeker.searcher import Searcher

    engine = TantivyEngine(index, read_only=True)
    searcher = Searcher(engine)
    out = {}
    for spec in specs:
        found = searcher.search(
            parse(spec["q"]), view=Visibility.everything(), limit=10_000, fields=("id",)
        )
        ids = sorted(h.id for h in found.hits)
        out[spec["name"]] = ids if found.total == len(ids) else [*ids, f"total {found.total}"]
    engine.close()
    return out


# -- phases ----------------------------------------------------------------------------------------


def _canonical(doc: dict) -> str:
    return json.dumps(doc, sort_keys=True, ensure_ascii=False)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _mb(nbytes: float) -> float:
    return round(nbytes / 2**20, 1)


def _paths(d: str) -> tuple[str, str, str]:
    """The store, the index directory, the expected answers."""
    return (os.path.join(d, "state.sqlite"), os.path.join(d, "index"),
            os.path.join(d, "expected.json"))  # fmt: skip


def store_bytes(path: str) -> int:
    """The record on disk: the database file and its WAL, once checkpointed."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def table_mb(path: str) -> dict[str, float] | None:
    """MB per table and index of at least 0.1 MB (SQLite's dbstat; None without it)."""
    try:
        with sqlite3.connect(path) as db:
            rows = db.execute(
                "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
            ).fetchall()
    except sqlite3.Error:
        return None
    return {name: _mb(size) for name, size in rows if size >= 0.05 * 2**20}


def phase_fill(args: dict) -> dict:
    """The generated documents into a fresh store, as a sync writes them."""
    from heatseeker.indexer import file_digests
    from heatseeker.record import Change, Store

    store_path, _, expected_path = _paths(args["dir"])
    store = Store(store_path)  # history on: the default HistoryPolicy
    key = store.secret_key()
    digests: dict[str, str] = {}
    answers: dict[str, list[str]] = {}
    specs: list[dict] = []
    per_tree: dict[int, int] = {}
    files: tuple[int, dict] = (-1, {})  # a tree's file digests: its stacks share its files
    json_bytes = leaked = 0
    defaults_kb = build_s = 0.0
    batch: list = []
    started = time.perf_counter()
    stacks = trees(args["trees"], args["seed"])
    while True:
        t0 = time.perf_counter()
        s = next(stacks, None)
        build_s += time.perf_counter() - t0
        if s is not None:
            if not specs:
                specs = queries(s.tree)
                answers = {q["name"]: [] for q in specs}
                defaults_kb = round(len(_canonical(s.tree.defaults)) / 1024, 1)
            text = _canonical(s.doc)
            json_bytes += len(text.encode())
            leaked += SECRET_PREFIX in text
            digests[s.id] = _digest(text)
            per_tree[s.tree.index] = per_tree.get(s.tree.index, 0) + 1
            for q in specs:
                if q["match"](s.doc, text):
                    answers[q["name"]].append(s.id)
            if files[0] != s.tree.index:
                files = (s.tree.index, file_digests(s.tree.files, key))
            batch.append(Change(s.id, s.version, s.doc, taint=s.summary, file_digests=files[1]))
        if len(batch) >= BATCH or (s is None and batch):
            store.apply(batch)
            batch = []
        if s is None:
            break
    took = time.perf_counter() - started
    history = store.history_size()
    store.close()
    with open(expected_path, "w") as fh:
        json.dump({"digests": digests, "queries": [{"name": q["name"], "q": q["q"]} for q in specs],
                   "answers": {k: sorted(v) for k, v in answers.items()}}, fh)  # fmt: skip
    with sqlite3.connect(store_path) as db:
        # the stack rows' documents (whole before #16, skeletons after) and the file digests
        # each revision keeps (name → digest of every file of the tree)
        rows = db.execute("SELECT SUM(LENGTH(doc)) FROM stacks").fetchone()[0] or 0
        file_digests_size = db.execute("SELECT SUM(LENGTH(files)) FROM revisions").fetchone()[0]
    size = store_bytes(store_path)
    vacuumed = os.path.join(args["dir"], "vacuumed.sqlite")
    with sqlite3.connect(store_path) as db:
        db.execute("VACUUM INTO ?", (vacuumed,))
    vacuumed_size = os.path.getsize(vacuumed)
    os.remove(vacuumed)
    t, n = templates(), len(digests)
    return {
        "stacks": n,
        "trees": len(per_tree),
        "stacks_per_tree": [min(per_tree.values()), max(per_tree.values())],
        "files_per_tree": len(t.files) + 1,
        "files_mb_per_tree": _mb(sum(len(v.encode()) for v in t.files.values())),
        "registry_entries": len(t.registry),
        "parameter_defaults_kb": defaults_kb,
        "seconds": round(took, 2),
        "build_seconds": round(build_s, 2),
        "stacks_per_s": round(n / took, 1),
        "json_mb": _mb(json_bytes),
        "mean_doc_kb": round(json_bytes / n / 1024, 1),
        "stack_rows_mb": _mb(rows),
        "history": {
            "revisions": history["revisions"],
            "body_mb": _mb(history["body_bytes"]),
            "file_digests_mb": _mb(file_digests_size or 0),
        },  # fmt: skip
        "store_bytes": size,
        "store_mb": _mb(size),
        "store_vacuumed_mb": _mb(vacuumed_size),
        "tables_mb": table_mb(store_path),
        "documents_with_a_secret": leaked,
    }


def phase_rebuild(args: dict) -> dict:
    """``heatseeker reindex``'s work, then the searches on the new generation."""
    from heatseeker.engines.tantivy import TantivyEngine
    from heatseeker.projection import Projector
    from heatseeker.record import Store

    store_path, index, expected_path = _paths(args["dir"])
    store = Store(store_path, create=False)
    engine = TantivyEngine(index)
    started = time.perf_counter()
    n = Projector(store, engine).rebuild()
    took = time.perf_counter() - started
    live = engine.health().get("generation") or ""
    engine.close()
    store.close()
    with open(expected_path) as fh:
        expected = json.load(fh)
    answers = search(index, expected["queries"])
    live_mb = common.du_mb(os.path.join(index, live))
    return {
        "round": args["round"],
        "stacks": n,
        "seconds": round(took, 2),
        "stacks_per_s": round(n / took, 1),
        "generation": live,
        "index_mb": live_mb,
        "index_dir_mb": common.du_mb(index),
        "generations_on_disk": sorted(g for g in os.listdir(index) if g.startswith("gen-")),
        "answers_disagree": [k for k in answers if answers[k] != expected["answers"].get(k)],
    }


def phase_answers(args: dict) -> dict:
    """Every stored document is the generated one, through ``get`` and ``iter_all``."""
    from heatseeker.record import Store

    store_path, _, expected_path = _paths(args["dir"])
    with open(expected_path) as fh:
        want = json.load(fh)["digests"]
    store = Store(store_path, create=False)
    got, get_s = {}, 0.0
    for sid in want:
        started = time.perf_counter()
        rec = store.get(sid)
        get_s += time.perf_counter() - started
        got[sid] = None if rec is None else _digest(_canonical(rec.doc or {}))
    seen = {r.id: _digest(_canonical(r.doc or {})) for r in store.iter_all()}
    store.close()
    wrong = [sid for sid, d in want.items() if got[sid] != d or seen.get(sid) != d]
    return {
        "stacks_compared": len(want),
        "documents_differ": len(wrong) + len(set(seen) - set(want)),
        "examples": wrong[:3],
        "get_ms_per_stack": round(get_s * 1000 / max(1, len(want)), 3),
    }


PHASES = {"fill": phase_fill, "rebuild": phase_rebuild, "answers": phase_answers}


def data_dir(n_trees: int) -> str:
    return os.path.join(common.WORK, f"tripleo-{n_trees}")


def run(n_trees: int, seed: int = 42) -> dict:
    d = common.fresh_dir(data_dir(n_trees))
    timeout = 600 + 300 * n_trees
    common.log(f"store: {n_trees} TripleO-shaped tree(s): generating, filling the store")
    fill = common.run_phase(
        "bench.tripleo", {"phase": "fill", "dir": d, "trees": n_trees, "seed": seed}, timeout
    )
    rebuilds = []
    for i in (1, 2, 3):
        common.log(f"store: rebuild {i} of 3 (what heatseeker reindex does)")
        args = {"phase": "rebuild", "dir": d, "round": i}
        rebuilds.append(common.run_phase("bench.tripleo", args, timeout))
    common.log("store: every stored document against the generated one")
    answers = common.run_phase("bench.tripleo", {"phase": "answers", "dir": d}, timeout)
    disagree = [f"rebuild {r['round']}: {q}" for r in rebuilds for q in r["answers_disagree"]]
    if answers["documents_differ"]:
        disagree.append(f"{answers['documents_differ']} stored documents differ, e.g. "
                        f"{answers['examples']}")  # fmt: skip
    if fill["documents_with_a_secret"]:
        disagree.append(f"{fill['documents_with_a_secret']} documents hold a secret value")
    index_bytes = rebuilds[0]["index_mb"] * 2**20
    ratio = fill["store_bytes"] / index_bytes if index_bytes else None
    last = rebuilds[-1]
    out = {
        "trees": n_trees,
        "seed": seed,
        "stacks": fill["stacks"],
        "json_mb": fill["json_mb"],
        "store_mb": fill["store_mb"],
        "index_mb": rebuilds[0]["index_mb"],
        "store_over_index": None if ratio is None else round(ratio, 2),
        "meets_target": ratio is not None and ratio <= 1.0,
        "index_dir_after_rebuilds_mb": last["index_dir_mb"],
        "generations_after_rebuilds": len(last["generations_on_disk"]),
        "same_answers": not disagree,
        "answers_disagree": disagree,
        "fill": fill,
        "rebuilds": rebuilds,
        "answers": answers,
    }
    common.log(f"store: {out['stacks']:,} stacks, store {out['store_mb']} MB, index "
               f"{out['index_mb']} MB (store ÷ index {out['store_over_index']}), index directory "
               f"after 3 rebuilds {out['index_dir_after_rebuilds_mb']} MB, same answers: "
               f"{out['same_answers']}")  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--phase"]:
        common.phase_main(PHASES)
        return 0
    p = argparse.ArgumentParser(prog="python -m bench.tripleo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--trees", type=int, default=QUICK_TREES,
                   help=f"overclouds to generate (default {QUICK_TREES}; the full run: {FULL_TREES})")  # fmt: skip
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)
    os.makedirs(common.WORK, exist_ok=True)
    print(json.dumps(run(args.trees, args.seed), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
