"""Several regions in one installation (#15): ``sync`` reads every region's Heat, a region that
fails stops only itself, each region's documents carry it, and the listener needs each other
region's bus. (Against two real Heats: tests/e2e, to come.)"""

from __future__ import annotations

import json
import time

import oslo_messaging
import pytest

from heatseeker import cli, config
from heatseeker.heat.client import HeatError, HeatSource
from heatseeker.listener import _bus
from heatseeker.record import Store

from .fakes import FakeHeat


def run(capsys, conf_file, *argv):
    code = cli.main(["--config-file", conf_file, *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def two_regions(tmp_path, monkeypatch):
    one, two = FakeHeat(region="RegionOne"), FakeHeat(region="RegionTwo")
    one.home, two.home = True, False
    one.add("s1", "web", project="alpha")
    two.add("s2", "web", project="alpha")  # the same name and project, in another region
    two.add("s3", "db", project="beta")
    monkeypatch.setattr(HeatSource, "for_regions", classmethod(lambda cls, conf: [one, two]))
    data = tmp_path / "data"
    conf = tmp_path / "h.conf"
    conf.write_text(f"[DEFAULT]\ndata_dir = {data}\n")
    return str(conf), str(data / "state.sqlite"), one, two


def test_sync_reads_every_region_and_labels_each_stack_with_its_own(capsys, two_regions):
    conf, state, _, _ = two_regions
    code, out, err = run(capsys, conf, "sync")
    assert code == 0, err
    assert "synced 1 stacks in region RegionOne" in out and "synced 2 stacks in region RegionTwo" in out
    store = Store(state, create=False)
    assert {sid: store.get(sid).doc["region"] for sid in ("s1", "s2", "s3")} == {
        "s1": "RegionOne", "s2": "RegionTwo", "s3": "RegionTwo"}
    assert store.regions() == {"RegionOne": 1, "RegionTwo": 2}
    code, out, _ = run(capsys, conf, "search", "--all-projects", "region:RegionTwo")
    assert code == 0 and "2 stack(s)" in out and "s2" in out and "s3" in out and "s1" not in out


def test_a_region_that_fails_stops_only_itself(capsys, two_regions):
    conf, state, one, two = two_regions
    two.down = True
    code, out, err = run(capsys, conf, "sync")
    assert code == 1 and "region RegionTwo" in err and "Heat is down" in err
    assert "synced 1 stacks in region RegionOne" in out
    store = Store(state, create=False)
    assert store.get("s1") is not None and store.get("s2") is None
    two.down = False
    del one.stacks["s1"]  # gone from RegionOne's Heat: its reconcile tombstones it, not RegionTwo's
    assert run(capsys, conf, "sync")[0] == 0
    assert store.get("s1").deleted and not store.get("s2").deleted


def test_each_region_but_the_home_one_needs_its_own_bus(tmp_path):
    conf = config.new_conf()
    path = tmp_path / "h.conf"
    path.write_text("[heat]\nregions = RegionOne, RegionTwo\n"
                    "[region:RegionTwo]\ntransport_url = rabbit://u:p@two:5672/\n")
    conf(["--config-file", str(path)], project="heatseeker", default_config_files=[])
    assert config.regions(conf) == ["RegionOne", "RegionTwo"]
    one, two = FakeHeat(region="RegionOne"), FakeHeat(region="RegionTwo")
    one.home, two.home = True, False
    assert _bus(conf, one) is None  # [DEFAULT] transport_url
    assert _bus(conf, two) == "rabbit://u:p@two:5672/"
    three = FakeHeat(region="RegionThree")
    three.home = False
    conf.set_override("regions", ["RegionOne", "RegionThree"], group="heat")
    config.regions(conf)
    with pytest.raises(HeatError, match=r"\[region:RegionThree\] transport_url"):
        _bus(conf, three)


def test_status_and_the_health_check_say_which_region_is_behind(capsys, two_regions):
    from heatseeker.api.health import StoreAndIndex

    conf, _, _, two = two_regions
    assert run(capsys, conf, "sync")[0] == 0
    two.down = True
    assert run(capsys, conf, "sync")[0] == 1
    code, out, _ = run(capsys, conf, "status", "--json")
    regions = json.loads(out)["regions"]
    assert regions["RegionOne"]["stacks"] == 1 and "behind_since" not in regions["RegionOne"]
    assert regions["RegionTwo"]["stacks"] == 2 and "Heat is down" in regions["RegionTwo"]["error"]
    assert regions["RegionOne"]["last_sync"]["listed"] == 1
    text = run(capsys, conf, "status")[1]
    assert "region RegionOne: 1 stacks" in text and "its Heat answers" in text
    assert "region RegionTwo: 2 stacks" in text and "BEHIND since" in text
    oslo = cli.load_conf(cli.build_parser().parse_args(["--config-file", conf, "status"]))
    oslo.set_override("regions", ["RegionOne", "RegionTwo"], group="heat")
    health = StoreAndIndex(oslo, {}).healthcheck(0)
    assert health.available and "region RegionTwo behind since" in health.reason
    two.down = False
    assert run(capsys, conf, "sync")[0] == 0
    assert "behind_since" not in json.loads(run(capsys, conf, "status", "--json")[1])[
        "regions"]["RegionTwo"]
    assert StoreAndIndex(oslo, {}).healthcheck(0).reason == "OK"


def test_the_listener_marks_its_region_behind_while_its_heat_is_down(tmp_path):
    from heatseeker.indexer import REGION_STATE, Indexer
    from heatseeker.listener import Handler

    from .fakes import notification

    store = Store(str(tmp_path / "state.sqlite"))
    two = FakeHeat(region="RegionTwo")
    two.add("s2", "web", project="alpha")
    handler = Handler(store, Indexer(store, two), sleep=lambda s: None)
    message = notification("s2", "web", "create", "end")
    two.down = True
    assert handler([message]) == oslo_messaging.NotificationResult.REQUEUE
    state = store.get_meta(REGION_STATE + "RegionTwo")
    assert state["behind_since"] and "Heat is down" in state["error"]
    two.down = False
    assert handler([message]) == oslo_messaging.NotificationResult.HANDLED
    assert store.get_meta(REGION_STATE + "RegionTwo") == {"read_at": pytest.approx(time.time(), abs=60)}
