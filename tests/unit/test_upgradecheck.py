"""heatseeker-status upgrade check: the checks the sandbox cannot break for real (Heat's policy
refusing the global listing, Keystone without an admin project), with those answers stubbed; the
rest runs against the real parts in tests/e2e/test_upgradecheck.py."""

from __future__ import annotations

import pytest
from oslo_upgradecheck.upgradecheck import Code

from heatseeker import config, upgradecheck
from heatseeker.heat import client, keystone


class RefusingHeat:
    page_size = retries = 0

    def list_stacks(self):
        raise client.HeatForbidden(
            "Heat refused list stacks (page 1) (HTTP 403: ERROR: You are not authorized to use "
            f"global_index.): {client.FORBIDDEN_HINT}")
        yield  # pragma: no cover


@pytest.fixture
def checks():
    conf = config.new_conf()
    conf([], default_config_files=[])
    return upgradecheck.Checks(conf)


def test_a_policy_that_refuses_the_global_listing_names_the_rule_and_the_fix(checks, monkeypatch):
    monkeypatch.setattr(client.HeatSource, "from_conf", classmethod(lambda cls, conf: RefusingHeat()))
    result = checks._heat()
    assert result.code == Code.FAILURE
    assert "global_index" in result.details and '"rule:context_is_admin"' in result.details


def test_keystone_without_an_admin_project_is_a_warning(checks, monkeypatch):
    monkeypatch.setattr(keystone, "admin_project_caveat", lambda conf: keystone.ADMIN_PROJECT_CAVEAT)
    result = checks._keystone()
    assert result.code == Code.WARNING and "admin_project_name" in result.details
    monkeypatch.setattr(keystone, "admin_project_caveat", lambda conf: None)
    assert checks._keystone().code == Code.SUCCESS


def test_the_check_list_and_the_exit_code(tmp_path, capsys):
    conf = tmp_path / "hs.conf"
    conf.write_text(f"[DEFAULT]\ndata_dir = {tmp_path}/data\n[heat]\nauth_type = none\n"
                    "endpoint = http://127.0.0.1:9/v1/admin\nretries = 0\n"
                    "[DEFAULT]\ntransport_url = rabbit://guest:guest@127.0.0.1:9/\n")
    rc = upgradecheck.main(["--config-file", str(conf), "upgrade", "check"])
    out = capsys.readouterr().out
    assert rc == Code.FAILURE
    for name in ("store", "index", "heat", "keystone", "notifications"):
        assert f"Check: {name}" in out
