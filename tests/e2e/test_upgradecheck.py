"""``heatseeker-status upgrade check`` against the real parts: a healthy installation (synced from
the real Heat, its listener bound on the real RabbitMQ, a notification received) passes every check;
each broken part fails its own check with a message that says what to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from heatseeker.record import Store

from .conftest import create, delete_stacks, unique, wait_for

SUCCESS, WARNING, FAILURE = 0, 1, 2


def check(conf: str) -> tuple[int, dict[str, tuple[int, str]]]:
    proc = subprocess.run([sys.executable, "-m", "heatseeker.upgradecheck", "--config-file", conf,
                           "upgrade", "check", "--json"], capture_output=True, text=True,
                          timeout=300)
    out = json.loads(proc.stdout)
    return proc.returncode, {c["check"]: (c["result"], c["details"] or "") for c in out["checks"]}


def variant(hs, name: str, extra: str) -> str:
    """A copy of the installation's config with ``extra`` appended (later values win)."""
    path = os.path.join(hs.dir, f"{name}.conf")
    with open(hs.conf) as src, open(path, "w") as dst:
        dst.write(src.read() + "\n" + extra)
    return path


@pytest.fixture(scope="module")
def healthy(heat, tmp_path_factory):
    from .conftest import Heatseeker

    hs = Heatseeker(str(tmp_path_factory.mktemp("upgradecheck")))
    hc = heat("admin")
    made = []
    try:
        hs.sync()
        hs.start_listener()
        made.append((hc, create(hc, unique("e2eupg"), "app.yaml", "env.yaml")))
        wait_for(lambda: hs.store().get_meta("last_event"), 120, "a notification to arrive")
        yield hs
    finally:
        delete_stacks(made)
        hs.close()


def test_a_healthy_installation_passes(healthy):
    rc, results = check(healthy.conf)
    assert rc == SUCCESS, results
    assert set(results) == {"store", "index", "heat", "keystone", "notifications"}
    assert all(code == SUCCESS for code, _ in results.values()), results


def test_no_record(healthy, tmp_path):
    rc, results = check(variant(healthy, "norecord", f"[DEFAULT]\ndata_dir = {tmp_path}\n"))
    assert rc == FAILURE and results["store"][0] == FAILURE
    assert "no record" in results["store"][1] and "data_dir" in results["store"][1]
    assert not (tmp_path / "state.sqlite").exists()  # the check never makes one


def test_heat_unreachable(healthy):
    rc, results = check(variant(healthy, "noheat", "[heat]\nendpoint = http://127.0.0.1:9/v1/admin\n"
                                "retries = 0\n"))
    assert rc == FAILURE and results["heat"][0] == FAILURE
    assert "unavailable" in results["heat"][1] and "[heat]" in results["heat"][1]


def test_no_queue_no_exchange_no_broker(healthy):
    rc, results = check(variant(healthy, "noqueue", "[listener]\npool = heatseeker-no-such-queue\n"))
    assert rc == FAILURE and "start heatseeker listen" in results["notifications"][1]
    rc, results = check(variant(healthy, "noexchange", "[listener]\nexchange = no-such-exchange\n"))
    assert rc == FAILURE and "driver = messagingv2" in results["notifications"][1]
    rc, results = check(variant(healthy, "nobroker",
                                "[DEFAULT]\ntransport_url = rabbit://guest:guest@127.0.0.1:9/\n"))
    assert rc == FAILURE and "does not answer" in results["notifications"][1]


def test_notifications_that_stopped(healthy):
    store = Store(os.path.join(healthy.data_dir, "state.sqlite"))
    last = store.get_meta("last_event")
    old = dict(last, timestamp_us=int((time.time() - 3 * 86400) * 1e6))
    healthy.kill_listener()  # it would write a newer one
    try:
        store.set_meta(last_event=old)
        rc, results = check(healthy.conf)
        assert rc == WARNING and results["notifications"][0] == WARNING, results
        assert "72 h ago" in results["notifications"][1]
    finally:
        store.set_meta(last_event=last)
        store.close()


def test_an_index_of_another_schema(healthy):
    healthy.kill_listener()  # the index's one writer: the file is changed under nobody's feet
    index = os.path.join(healthy.data_dir, "index")
    with open(os.path.join(index, "CURRENT")) as f:
        meta = os.path.join(index, f.read().strip(), "heatseeker.json")
    with open(meta) as f:
        good = f.read()
    try:
        with open(meta, "w") as f:
            f.write(json.dumps(dict(json.loads(good), schema_version=-1)))
        rc, results = check(healthy.conf)
        assert rc == FAILURE and results["index"][0] == FAILURE
        assert "heatseeker reindex" in results["index"][1]
    finally:
        with open(meta, "w") as f:
            f.write(good)


def test_the_backlog_is_read_over_every_broker_host(healthy):
    """status and the check reach the queue as the listener does: a dead first host of the
    transport URL is passed over for the next one (here the real RabbitMQ)."""
    conf = variant(healthy, "twohosts", "[DEFAULT]\ntransport_url = "
                   "rabbit://guest:guest@127.0.0.1:9,guest:guest@127.0.0.1:5672/\n")
    proc = subprocess.run([sys.executable, "-m", "heatseeker.cli", "--config-file", conf, "status",
                           "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert isinstance(json.loads(proc.stdout)["backlog"]["queued_notifications"], int)
    rc, results = check(conf)
    assert results["notifications"][0] != FAILURE, results["notifications"]
