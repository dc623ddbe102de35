"""`heatseeker listen` obeys SIGTERM even while the broker does not answer (oslo.messaging retries
inside its server's start): a container's stop or systemd's must not wait for SIGKILL. Nothing
was acknowledged, so nothing is lost."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path


def test_sigterm_while_the_broker_is_unreachable(tmp_path: Path):
    log = tmp_path / "listener.log"
    conf = tmp_path / "hs.conf"
    conf.write_text(f"[DEFAULT]\ndata_dir = {tmp_path / 'data'}\nlog_file = {log}\n"
                    "transport_url = rabbit://guest:guest@127.0.0.1:9/\n"
                    "[heat]\nauth_type = none\nendpoint = http://127.0.0.1:9/v1/admin\n")
    proc = subprocess.Popen([sys.executable, "-m", "heatseeker.cli", "--config-file", str(conf),
                             "listen"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120  # a bound for a broken build, not a timing assertion
        while "Connection failed" not in (log.read_text() if log.exists() else ""):
            assert proc.poll() is None, proc.stdout.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the listener never tried the broker"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == 0
    assert "stopped before the notification transport answered" in log.read_text()
