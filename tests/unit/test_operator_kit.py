"""The operator's kit under etc/: systemd units that systemd itself accepts, and samples that name
what the code provides."""

from __future__ import annotations

import configparser
import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from heatseeker.api import wsgi

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "etc" / "systemd").iterdir())
BIN = Path(sys.executable).parent


def test_the_units_are_there():
    assert {u.name for u in UNITS} == {"heatseeker-api.service", "heatseeker-listener.service",
                                       "heatseeker-sync.service", "heatseeker-sync.timer"}


def test_systemd_accepts_the_units(tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: tools/test.sh installs Debian's systemd"
    for unit in UNITS:  # the programs of this venv stand for /opt/heatseeker's
        (tmp_path / unit.name).write_text(unit.read_text().replace("/opt/heatseeker/bin", str(BIN)))
    proc = subprocess.run([analyze, "verify", "--man=no", *sorted(map(str, tmp_path.iterdir()))],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr
    broken = tmp_path / "heatseeker-listener.service"
    broken.write_text(broken.read_text().replace(str(BIN / "heatseeker"), "/nonexistent/heatseeker"))
    proc = subprocess.run([analyze, "verify", "--man=no", str(broken)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0  # the check can fail


def _exec_start(name: str) -> str:
    text = (ROOT / "etc" / "systemd" / name).read_text()
    return re.search(r"^ExecStart=(.*)$", text, re.M).group(1)  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["heatseeker-listener.service", "heatseeker-sync.service"])
def test_the_commands_exist(name):
    argv = _exec_start(name).split()
    assert argv[0] == "/opt/heatseeker/bin/heatseeker" and argv[1] == "--config-file"
    from heatseeker.cli import build_parser

    build_parser().parse_args(argv[3:])  # a known subcommand


def test_the_wsgi_servers_name_the_application_and_its_config():
    api = _exec_start("heatseeker-api.service")
    unit = (ROOT / "etc" / "systemd" / "heatseeker-api.service").read_text()
    assert f"Environment={wsgi.CONFIG_FILE_ENV}={wsgi.DEFAULT_CONFIG_FILE}" in unit
    uwsgi = configparser.ConfigParser(strict=False, interpolation=None)
    uwsgi.read(ROOT / "etc" / "uwsgi" / "heatseeker-api.ini")
    assert uwsgi["uwsgi"]["env"] == f"{wsgi.CONFIG_FILE_ENV}={wsgi.DEFAULT_CONFIG_FILE}"
    for target in (api.split()[-1], uwsgi["uwsgi"]["module"]):
        module, _, name = target.partition(":")
        assert callable(getattr(importlib.import_module(module), name)), target
