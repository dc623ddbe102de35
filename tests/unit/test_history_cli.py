"""`heatseeker history | diff | changes` over a store (no Heat, no index needed)."""

from __future__ import annotations

import json
import os
import time

import pytest

from heatseeker import cli
from heatseeker.record import Change, Store

from .test_history import doc


@pytest.fixture
def conf_file(tmp_path):
    data = tmp_path / "data"
    path = tmp_path / "h.conf"
    path.write_text(f"[DEFAULT]\ndata_dir = {data}\n")
    st = Store(os.path.join(data, "state.sqlite"))
    now = int(time.time() * 1e6)
    st.apply([Change("a", now - 3000, doc("a", "p1"), request_id="req-1", user_name="alice")])
    st.apply([Change("a", now - 2000, doc("a", "p1", "UPDATE_COMPLETE",
                                         parameters={"image": "ubuntu", "flavor": "m1.small"}),
                      request_id="req-2", user_name="bob")])
    st.apply([Change("b", now - 2000, doc("b", "p2"))])
    return str(path)


def run(capsys, conf_file, *argv):
    code = cli.main(["--config-file", conf_file, *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_history_table_and_json(capsys, conf_file):
    code, out, _ = run(capsys, conf_file, "history", "a")
    assert code == 0 and "req-2" in out and "parameters.image" in out and "bob" in out
    code, out, _ = run(capsys, conf_file, "history", "a", "--json")
    body = json.loads(out)
    assert [r["revision"] for r in body["revisions"]] == [1, 2]
    assert body["revisions"][1]["changed"] == ["parameters.image"]


def test_diff_default_and_explicit(capsys, conf_file):
    code, out, _ = run(capsys, conf_file, "diff", "a")
    assert code == 0 and "~ parameters.image: cirros → ubuntu" in out
    code, out, _ = run(capsys, conf_file, "diff", "a", "1", "2", "--json")
    assert json.loads(out)["changes"][0]["new"] == "ubuntu"
    code, _, err = run(capsys, conf_file, "diff", "a", "1", "7")
    assert code == 4 and "no revision 7" in err


def test_another_project_is_not_found(capsys, conf_file):
    assert run(capsys, conf_file, "history", "a", "--project", "p2")[0] == 4
    assert run(capsys, conf_file, "diff", "a", "--project", "p2")[0] == 4
    code, out, _ = run(capsys, conf_file, "changes", "parameters.image", "--project", "p2", "--json")
    assert code == 0 and json.loads(out)["changes"] == []


def test_changes(capsys, conf_file):
    code, out, _ = run(capsys, conf_file, "changes", "parameters.image", "--since", "7d")
    assert code == 0 and "1 change(s) of parameters.image" in out and "cirros → ubuntu" in out
    code, _, err = run(capsys, conf_file, "changes", "parameters.image", "--since", "yesterday")
    assert code == 2 and err


def test_history_of_one_revision_prints_its_document(capsys, conf_file):
    code, out, _ = run(capsys, conf_file, "history", "a", "--revision", "1")
    assert code == 0 and json.loads(out)["parameters"]["image"] == "cirros"
    assert run(capsys, conf_file, "history", "a", "--revision", "5")[0] == 4
