"""The generated sample config stays current, and the option names the contract promises exist."""

import os
import subprocess
import sys

from heatseeker import config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_sample_is_current(tmp_path):
    out = tmp_path / "sample.conf"
    gen = os.path.join(os.path.dirname(sys.executable), "oslo-config-generator")
    subprocess.run(
        [gen, "--config-file", os.path.join(ROOT, "etc/oslo-config-generator/heatseeker.conf"),
         "--output-file", str(out)],
        check=True, cwd=ROOT, capture_output=True,
    )
    with open(os.path.join(ROOT, "etc/heatseeker.conf.sample")) as f:
        current = f.read()
    assert out.read_text() == current, (
        "etc/heatseeker.conf.sample is stale: run "
        "oslo-config-generator --config-file etc/oslo-config-generator/heatseeker.conf"
    )


def test_contract_option_names(tmp_path):
    conf = config.new_conf()
    cfgfile = tmp_path / "h.conf"
    cfgfile.write_text(
        "[DEFAULT]\ndata_dir = /tmp/x\n"
        "[heat]\nauth_type = none\nendpoint = http://127.0.0.1:8004/v1/admin\nconcurrency = 3\n"
        "[listener]\nexchange = heat\ntopics = notifications\npool = heatseeker\n"
        "batch_size = 10\nbatch_timeout = 0.2\n[engine]\nbackend = tantivy\n"
    )
    conf(["--config-file", str(cfgfile)])
    assert conf.data_dir == "/tmp/x"
    assert conf.heat.auth_type == "none" and conf.heat.concurrency == 3
    assert conf.heat.endpoint_override is None
    assert (conf.listener.exchange, conf.listener.topics, conf.listener.pool) == (
        "heat", ["notifications"], "heatseeker")
    assert conf.engine.backend == "tantivy"


def test_policy_sample_is_current(tmp_path):
    out = tmp_path / "policy.yaml"
    gen = os.path.join(os.path.dirname(sys.executable), "oslopolicy-sample-generator")
    subprocess.run(
        [gen, "--config-file", os.path.join(ROOT, "etc/oslo-policy-generator/heatseeker.conf"),
         "--output-file", str(out)],
        check=True, cwd=ROOT, capture_output=True,
    )
    with open(os.path.join(ROOT, "etc/policy.yaml.sample")) as f:
        assert out.read_text() == f.read(), (
            "etc/policy.yaml.sample is stale: run "
            "oslopolicy-sample-generator --config-file etc/oslo-policy-generator/heatseeker.conf"
        )
