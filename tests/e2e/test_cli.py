"""The operator's commands on the real sandbox: show, reindex, status, and sync beside a listener."""

from __future__ import annotations

import json

import pytest

from .conftest import create, heat_quiet, unique, wait_for, wait_heat
from .test_sync import seeded  # noqa: F401 - the module fixture that seeds the sandbox


def _ids(result: dict) -> list[str]:
    return [h["_id"] for h in result["hits"]["hits"]]


@pytest.mark.alone  # its counts are all of Heat's
def test_show_reindex_status(seeded, heat, make_heatseeker):  # noqa: F811
    heat_quiet()  # other tests' creates and deletes over: Heat holds still
    hs = make_heatseeker()
    hs.sync()
    before = hs.search("depth:>=0", "--all-projects", "--limit", "1000", "--sort", "name")
    roots = hs.search("depth:0 AND project_id:alpha", "--all-projects", "--limit", "100")
    nested_root = next(h for h in roots["hits"]["hits"]
                       if hs.count_descendants(h["_id"]) > 0)
    tree = json.loads(hs.run("show", "--json", nested_root["_id"]).stdout)
    assert tree["stack"]["id"] == nested_root["_id"] and tree["children"]
    for child in tree["children"]:
        assert child["stack"]["parent_id"] == nested_root["_id"]
    text = hs.run("show", nested_root["_id"]).stdout
    assert "tree:" in text and tree["children"][0]["stack"]["name"] in text
    missing = hs.run("show", "00000000-0000-0000-0000-000000000000", check=False)
    assert missing.returncode == 4 and "no stack" in missing.stderr

    out = hs.run("reindex").stdout
    assert out.startswith("reindexed ")
    after = hs.search("depth:>=0", "--all-projects", "--limit", "1000", "--sort", "name")
    assert _ids(after) == _ids(before) and after["hits"]["total"] == before["hits"]["total"]
    # the same reindex made by worker processes (what a big record gets by default)
    text_query = ("parameters.image:* OR resources.type:OS\\:\\:Heat\\:\\:ResourceGroup "
                  "OR server")  # fmt: skip
    one = hs.search(text_query, "--all-projects", "--limit", "1000", "--sort", "name")
    assert hs.run("reindex", "--workers", "2").stdout.startswith("reindexed ")
    for query, expected in (("depth:>=0", after), (text_query, one)):
        again = hs.search(query, "--all-projects", "--limit", "1000", "--sort", "name")
        assert again["hits"] == expected["hits"]  # every hit, its source and score, in order
    assert one["hits"]["total"] > 0
    bad = hs.run("reindex", "--workers", "0", check=False)
    assert bad.returncode == 2 and "at least 1" in bad.stderr

    status = json.loads(hs.run("status", "--json").stdout)
    assert status["store"]["stacks"] == before["hits"]["total"]
    # the sandbox's Heat has no [heat] region_name: every stack is Keystone's default region's
    assert list(status["regions"]) == ["RegionOne"]
    one = status["regions"]["RegionOne"]
    assert one["stacks"] == before["hits"]["total"] and "behind_since" not in one
    assert one["last_sync"]["listed"] == before["hits"]["total"]
    assert status["index"]["ok"] and status["backlog"]["unprojected_changes"] == 0
    assert status["last_sync"]["listed"] == before["hits"]["total"]


def test_sync_beside_a_running_listener(heat, make_heatseeker):
    alpha = heat("alpha")
    hs = make_heatseeker()
    # a stack whose notifications nobody heard: only sync can bring it in
    sid = create(alpha, unique("beside"), "slow.yaml", parameters={"wait": 0})
    try:
        wait_heat(alpha, sid, "CREATE_COMPLETE")
        hs.start_listener()  # holds the index writer
        assert hs.indexed(sid) is None
        out = hs.sync()
        assert "the running listener projects the changes" in out
        # whatever sync wrote reaches the index through the listener
        wait_for(lambda: hs.indexed_status(sid) == "CREATE_COMPLETE", 60, "the synced stack")
        assert hs.listener.poll() is None
        busy = hs.run("reindex", check=False)
        assert busy.returncode == 1 and "listener" in busy.stderr
    finally:
        alpha.stacks.delete(sid)
        wait_heat(alpha, sid, "DELETE_COMPLETE")
