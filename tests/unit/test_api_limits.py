"""The API's own guards: the trusted-headers mode refused on a public address, and the search
timeout enforced."""

import json
import subprocess
import sys
import time

import webob

from heatseeker import config
from heatseeker.api.app import build_app
from heatseeker.query.tree import SearchResult


def test_trusted_headers_refused_on_a_public_address(tmp_path):
    conf = tmp_path / "h.conf"
    conf.write_text(f"[DEFAULT]\ndata_dir = {tmp_path}/data\n"
                    "[api]\nauth_strategy = trusted-headers\nbind_host = 0.0.0.0\nbind_port = 9399\n")
    proc = subprocess.run([sys.executable, "-m", "heatseeker.cli", "--config-file", str(conf), "serve"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "refusing auth_strategy = trusted-headers on 0.0.0.0" in proc.stderr


class _SlowEngine:
    def search(self, *a, **kw):
        time.sleep(1.0)
        return SearchResult(total=0)

    count = search


class _Searcher:
    def __init__(self):
        self.engine = _SlowEngine()

    def search(self, *a, **kw):
        return self.engine.search()


def test_search_timeout_is_enforced():
    conf = config.new_conf()
    conf([], default_config_files=[])
    conf.set_override("auth_strategy", "trusted-headers", group="api")
    conf.set_override("search_timeout", 0.1, group="api")
    app = build_app(conf, _Searcher())  # type: ignore[arg-type]
    req = webob.Request.blank("/v1/search", method="POST", body=b"{}")
    req.headers.update({"X-Identity-Status": "Confirmed", "X-Project-Id": "p", "X-Roles": "member"})
    resp = req.get_response(app)
    assert resp.status_int == 503
    assert "timed out" in json.loads(resp.body)["error"]["message"]
