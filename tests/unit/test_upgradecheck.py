"""heatseeker-status upgrade check: the checks the sandbox cannot break for real (Heat's policy
refusing the global listing, Keystone without an admin project), with those answers stubbed; the
rest runs against the real parts in tests/e2e/test_upgradecheck.py."""

from __future__ import annotations

import pytest
from heatclient import exc as heat_exc
from oslo_upgradecheck.upgradecheck import Code

from heatseeker import config, upgradecheck
from heatseeker.heat import client, keystone


class RefusingHeat:
    page_size = retries = 0

    def list_stacks(self):
        # what heatclient raises for Heat's stock policy, through the client's own translation
        raise client.translate(heat_exc.HTTPForbidden(
            "You are not authorized to use stacks:global_index."), "list stacks (page 1)")
        yield  # pragma: no cover


@pytest.fixture
def checks():
    conf = config.new_conf()
    conf([], default_config_files=[])
    return upgradecheck.Checks(conf)


def test_a_policy_that_refuses_the_global_listing_names_the_rule_and_the_fix(checks, monkeypatch):
    monkeypatch.setattr(client.HeatSource, "for_regions", classmethod(lambda cls, conf: [RefusingHeat()]))
    result = checks._heat()
    assert result.code == Code.FAILURE
    assert "global_index" in result.details and '"rule:context_is_admin"' in result.details


def test_keystone_without_an_admin_project_is_a_warning(checks, monkeypatch):
    monkeypatch.setattr(keystone, "admin_project_known", lambda conf: False)
    result = checks._keystone()
    assert result.code == Code.WARNING and "admin_project_name" in result.details
    monkeypatch.setattr(keystone, "admin_project_known", lambda conf: True)
    assert checks._keystone().code == Code.SUCCESS


def test_keystone_that_cannot_be_asked_is_a_warning_not_a_success(tmp_path):
    conf_file = tmp_path / "hs.conf"
    conf_file.write_text("[heat]\nauth_type = password\nauth_url = http://127.0.0.1:9/v3\n"
                         "username = admin\npassword = x\nproject_name = admin\n"
                         "user_domain_name = Default\nproject_domain_name = Default\n")
    conf = config.new_conf()
    conf(["--config-file", str(conf_file)], default_config_files=[])
    result = upgradecheck.Checks(conf)._keystone()
    assert result.code == Code.WARNING and "could not be asked" in result.details
    assert "auth_url" in result.details


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


def test_documents_built_by_older_rules_fail_until_a_full_sync(tmp_path):
    """A record from before the current documents.RULES_VERSION (e.g. secrets by structure) must
    be read again from Heat: the check says so until `heatseeker sync --full` has run."""
    from heatseeker import documents
    from heatseeker.indexer import DOCUMENTS_VERSION, Indexer, stale_documents
    from heatseeker.record import Store

    from .fakes import FakeHeat

    heat = FakeHeat()
    heat.add("s1", "web", project="alpha")
    store = Store(str(tmp_path / "data" / "state.sqlite"))
    Indexer(store, heat).reconcile()
    assert store.get_meta(DOCUMENTS_VERSION) == documents.RULES_VERSION  # a new record
    store.set_meta(**{DOCUMENTS_VERSION: documents.RULES_VERSION - 1})  # as an older release left it
    conf = config.new_conf()
    conf([], default_config_files=[])
    conf.set_override("data_dir", str(tmp_path / "data"))
    result = upgradecheck.Checks(conf)._store()
    assert result.code == Code.FAILURE and "heatseeker sync --full" in result.details
    Indexer(store, heat).reconcile()  # an ordinary sync reads only what changed: still stale
    assert stale_documents(store.get_meta(DOCUMENTS_VERSION), 1)
    Indexer(store, heat).reconcile(full=True)
    assert store.get_meta(DOCUMENTS_VERSION) == documents.RULES_VERSION
    assert upgradecheck.Checks(conf)._store().code == Code.SUCCESS
    assert stale_documents(None, 0) is None  # an empty record has nothing to rebuild


def test_the_broker_connection_follows_the_transport_hosts_and_tls(tmp_path):
    """heatseeker status and the upgrade check connect as oslo.messaging would: every host of the
    URL in order, and [oslo_messaging_rabbit]'s TLS options (no connection is made here)."""
    from heatseeker.listener import broker

    conf_file = tmp_path / "hs.conf"
    conf_file.write_text(
        "[DEFAULT]\ntransport_url = rabbit://u:p@mq1:5671,u:p@mq2:5671,u:p@mq3/vh\n"
        "[oslo_messaging_rabbit]\nssl = true\nssl_ca_file = /etc/ssl/private-ca.pem\n")
    conf = config.new_conf()
    conf(["--config-file", str(conf_file)], default_config_files=[])
    conn = broker(conf)
    assert [a.split("@")[-1] for a in conn.alt] == ["mq1:5671/vh", "mq2:5671/vh", "mq3:5671/vh"]
    assert conn.ssl == {"ca_certs": "/etc/ssl/private-ca.pem", "cert_reqs": 2}
    conf_file.write_text("[DEFAULT]\ntransport_url = rabbit://u:p@mq1/\n")
    conf = config.new_conf()
    conf(["--config-file", str(conf_file)], default_config_files=[])
    plain = broker(conf)
    assert plain.ssl is False and plain.alt[0].endswith("@mq1:5672//")
