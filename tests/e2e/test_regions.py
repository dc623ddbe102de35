"""Two regions of one Keystone (#15): the sandbox's Keystone-mode Heat (RegionOne, port 8014,
vhost heat_keystone) and a second one (tools/sandbox/keystone-heat.sh with
``KEYSTONE_HEAT_REGION=RegionTwo``: its own heat-api on 8024, database and vhost, in the catalog
as RegionTwo). alice (alpha) and bob (beta) make stacks in both. One heatseeker with ``[heat]
regions = RegionOne, RegionTwo`` finds each Heat in the catalog, syncs both, listens to both buses,
and serves its API behind Keystone; every answer is compared with each region's Heat. Then
RegionTwo's Heat is stopped: RegionOne keeps converging, and ``status`` names the region behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from heatseeker.query import tree as t
from heatseeker.query.visibility import Visibility
from tools.keystone import keystonelab as kl
from tools.sandbox import heatlab as hl

from .api_support import Api
from .conftest import wait_for
from .test_keystone_heat import (
    API_URL,
    KEYSTONE_HEAT,
    KeystoneHeatseeker,
    keystone_heat_up,
    password_options,
)

ONE, TWO = "RegionOne", hl.REGION_TWO
FIELDS = ["id", "name", "project_id", "region", "status"]
View = dict[str, tuple]  # stack id -> (name, project id, region, status)

REGION_TWO_ENV = {"KEYSTONE_HEAT_REGION": TWO, "KEYSTONE_HEAT_PORT": str(hl.REGION_TWO_PORT)}


def region_two(action: str) -> None:
    proc = subprocess.run(["bash", KEYSTONE_HEAT, action], capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, **REGION_TWO_ENV))
    if proc.returncode != 0:
        pytest.fail(f"keystone-heat.sh {action} ({TWO}) exited {proc.returncode}:\n"
                    f"{proc.stdout}\n{proc.stderr}")


class Regions:
    """Both regions' Heat as alice, bob and the cloud admin see them (the catalog's endpoints)."""

    def __init__(self) -> None:
        ids = kl.ids()
        self.alpha, self.beta = ids["ALPHA_ID"], ids["BETA_ID"]
        self.hc = {(user, region): hl.hc_keystone(*kl.USERS[user], region=region)
                   for user in ("alice", "bob", "admin") for region in (ONE, TWO)}

    def view(self, user: str, project: str, region: str) -> View:
        """A project's stacks (nested ones included) as its user lists them in one region."""
        return {s.id: (s.stack_name, project, region, s.stack_status)
                for s in self.hc[user, region].stacks.list(show_nested=True)}

    def every(self) -> View:
        """Every project's stacks in both regions, as the cloud admin lists them."""
        return {s.id: (s.stack_name, s.project, region, s.stack_status)
                for region in (ONE, TWO)
                for s in self.hc["admin", region].stacks.list(global_tenant=True, show_nested=True)}


@pytest.fixture(scope="module")
def regions() -> Regions:
    keystone_heat_up()
    region_two("up")
    return Regions()


@pytest.fixture(scope="module")
def stacks(regions: Regions) -> Iterator[dict[tuple[str, str], str]]:
    """(user, region) -> a stack with a nested one, made through Keystone in that region."""
    tag = uuid.uuid4().hex[:6]
    made: dict[tuple[str, str], str] = {}
    try:
        for user in ("alice", "bob"):
            for region in (ONE, TWO):
                made[user, region] = hl.create(regions.hc[user, region], f"rg-{user}-{region}-{tag}",
                                               "app.yaml", "env.yaml", wait=False)
        for (user, region), sid in made.items():
            hl.wait_status(regions.hc[user, region], sid, "CREATE_COMPLETE", timeout=300)
        yield made
    finally:
        for (user, region), sid in made.items():
            with contextlib.suppress(Exception):
                regions.hc[user, region].stacks.delete(sid)
        for (user, region), sid in made.items():
            with contextlib.suppress(Exception):
                hl.wait_deleted(regions.hc[user, region], sid, timeout=180)


class RegionsHeatseeker(KeystoneHeatseeker):
    """A heatseeker of both regions: ``[heat] regions``, RegionTwo's bus in ``[region:RegionTwo]``."""

    def __init__(self, base: str):
        super().__init__(base, "regions", password_options())
        with open(self.conf) as f:
            text = f.read()
        text = text.replace("[heat]\n", f"[heat]\nregions = {ONE}, {TWO}\n", 1)
        text += f"[region:{TWO}]\ntransport_url = {hl.REGION_TWO_TRANSPORT_URL}\n"
        with open(self.conf, "w") as f:
            f.write(text)

    def region_view(self, project: str, region: str) -> View:
        found = self.searcher().search(
            t.Bool(filter=(t.Term("region", region),)), view=Visibility(frozenset({project})),
            limit=1000, fields=FIELDS)
        return {h.id: (h.source["name"], h.source["project_id"], h.source["region"],
                       h.source["status"]) for h in found.hits}

    def status(self) -> dict:
        return json.loads(self.run("status", "--json").stdout)


def test_one_heatseeker_for_two_regions(regions, stacks, tmp_path):
    hs = RegionsHeatseeker(str(tmp_path))
    try:
        out = hs.sync()
        assert f"in region {ONE}" in out and f"in region {TWO}" in out
        # each region's stacks, project by project, as that region's Heat lists them
        for user, project in (("alice", regions.alpha), ("bob", regions.beta)):
            for region in (ONE, TWO):
                heat = regions.view(user, project, region)
                assert stacks[user, region] in heat
                assert hs.region_view(project, region) == heat, (user, region)
        every = regions.every()
        assert {h["_id"]: (h["_source"]["name"], h["_source"]["project_id"],
                           h["_source"]["region"], h["_source"]["status"])
                for h in hs.search("", "--all-projects", "--limit", "1000", "--fields",
                                   ",".join(FIELDS))["hits"]["hits"]} == every
        assert len(every) == len({sid for sid in every})  # no id in two regions
        # the query string's region:NAME
        two = hs.search(f"region:{TWO}", "--project", "alpha", "--limit", "1000")
        assert {h["_id"] for h in two["hits"]["hits"]} == set(regions.view("alice", regions.alpha, TWO))
        status = hs.status()["regions"]
        assert set(status) == {ONE, TWO}
        assert all("behind_since" not in s for s in status.values())

        # an OS::Heat::Stack of a RegionOne stack makes its stack in RegionTwo (context
        # region_name): Heat gives the child no parent, its id is the resource's physical id, so
        # heatseeker links it to its creator across the regions, as within one
        creator = hl.create(regions.hc["alice", ONE], f"rg-xr-{uuid.uuid4().hex[:6]}",
                            "remote-region-two.yaml", timeout=300)
        try:
            (inner,) = [r.physical_resource_id for r in regions.hc["alice", ONE].resources.list(
                creator) if r.resource_type == "OS::Heat::Stack"]
            assert inner in regions.view("alice", regions.alpha, TWO)
            hs.sync()
            child = hs.indexed(inner)
            assert child["region"] == TWO and hs.indexed(creator)["region"] == ONE
            assert (child["created_by"], child["link"], child["root_id"], child["parent_id"]) == (
                creator, "OS::Heat::Stack", creator, creator)
            under = hs.search("", "--project", "alpha", "--under", creator, "--limit", "100")
            assert {h["_id"] for h in under["hits"]["hits"]} >= {inner}
        finally:
            regions.hc["alice", ONE].stacks.delete(creator)
            hl.wait_deleted(regions.hc["alice", ONE], creator, timeout=180)
        hs.sync()  # both gone, in both regions
        assert hs.indexed(creator) is None and hs.indexed(inner) is None
        # isolation through the API behind Keystone: a user's projects' stacks, in every region,
        # nothing else (each user's whole answer against both regions' Heat)
        hs.serve()
        api = Api(API_URL)
        for user, project in (("alice", regions.alpha), ("bob", regions.beta)):
            token = kl.token(*kl.USERS[user])
            hits = api.hits(token, {"query": {"match_all": {}}, "limit": 1000,
                                    "_source": ["region", "project_id"]})
            heat = {**regions.view(user, project, ONE), **regions.view(user, project, TWO)}
            assert {h["_id"]: h["_source"]["region"] for h in hits} == {
                sid: v[2] for sid, v in heat.items()}, user
            facets = api.call("GET", "/v1/search/facets", token).body["OS::Heat::Stack"]
            (region_facet,) = [f for f in facets["facets"] if f["name"] == "region"]
            assert {o["key"]: o["doc_count"] for o in region_facet["options"]} == {
                r: sum(1 for v in heat.values() if v[2] == r) for r in (ONE, TWO)}
        # bob tries for alice's RegionTwo stack: by its id, by the region, by its name
        bob = kl.token(*kl.USERS["bob"])
        theirs = stacks["alice", TWO]
        name = regions.view("alice", regions.alpha, TWO)[theirs][0]
        for query in ({"term": {"_id": theirs}}, {"query_string": {"query": f"region:{TWO}"}},
                      {"query_string": {"query": f'name:"{name}"'}}):
            got = {h["_id"] for h in api.hits(bob, {"query": query, "limit": 1000})}
            assert theirs not in got and got <= set(regions.view("bob", regions.beta, TWO)), query

        # the listener hears both regions' buses
        hs.start_listener()
        wait_for(hs.queue_exists, 60, "the listener's queue on RegionOne's bus")
        name = f"rg-live-{uuid.uuid4().hex[:6]}"
        live = hl.create(regions.hc["alice", TWO], name, "app.yaml", "env.yaml", wait=False)
        try:
            hl.wait_status(regions.hc["alice", TWO], live, "CREATE_COMPLETE", timeout=300)
            wait_for(lambda: hs.region_view(regions.alpha, TWO)
                     == regions.view("alice", regions.alpha, TWO), 120,
                     f"the index to show {name} in {TWO} as its Heat does")
            assert hs.indexed(live)["region"] == TWO

            # RegionTwo's Heat stops: RegionOne keeps converging, status names RegionTwo
            region_two("stop")
            try:
                first = stacks["alice", ONE]
                tpl, files, env = hl.contents("app.yaml", "env.yaml")
                regions.hc["alice", ONE].stacks.update(first, template=tpl, files=files,
                                                       environment=env,
                                                       parameters={"image": "rg-image-2"})
                hl.wait_status(regions.hc["alice", ONE], first, "UPDATE_COMPLETE")
                wait_for(lambda: (hs.indexed(first) or {}).get("parameters", {}).get("image")
                         == "rg-image-2" and hs.region_view(regions.alpha, ONE)
                         == regions.view("alice", regions.alpha, ONE), 120,
                         "RegionOne to converge while RegionTwo is down")
                failed = hs.run("sync", check=False)
                assert failed.returncode == 1 and f"region {TWO}" in failed.stderr
                assert f"in region {ONE}" in failed.stdout
                status = hs.status()["regions"]
                assert "behind_since" in status[TWO] and "behind_since" not in status[ONE]
                assert f"region {TWO}:" in hs.run("status").stdout
                assert "BEHIND" in hs.run("status").stdout
            finally:
                region_two("up")
            out = hs.sync()
            assert f"in region {TWO}" in out
            assert "behind_since" not in hs.status()["regions"][TWO]
        finally:
            with contextlib.suppress(Exception):
                regions.hc["alice", TWO].stacks.delete(live)
            with contextlib.suppress(Exception):
                hl.wait_deleted(regions.hc["alice", TWO], live, timeout=180)
    finally:
        hs.close()
