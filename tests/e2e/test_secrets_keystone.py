"""Credentials Heat fills in at run time never rest in heatseeker (issue #11 point 5), with the real
Heat behind Keystone (the sandbox's Keystone mode: a wait condition handle needs Keystone, which
the noauth Heat cannot give it). The handle's ``token`` is a live Keystone token, its ``curl_cli``
a command holding it; both reach outputs, a ``str_replace``, and a child made by ``OS::Heat::Stack``
through its parameters and back out through its outputs. Heat shows them in clear (checked first,
so the test can fail); after ``heatseeker sync`` no byte under data_dir, no stored document and no
API answer holds one, and the value that is not a secret stays searchable."""

from __future__ import annotations

import contextlib
import json
import os
from urllib.parse import urlencode

import pytest

from heatseeker.engines.tantivy import TantivyEngine
from heatseeker.query import tree as t
from heatseeker.query.analysis import words
from heatseeker.query.visibility import Visibility
from heatseeker.searcher import Searcher
from tools.sandbox import heatlab as hl

from .conftest import ROOT, unique
from .test_keystone_heat import (
    KeystoneHeat,
    KeystoneHeatseeker,
    keystone_heat_up,
    password_options,
)
from .test_secrets import _api, _data_dir_bytes, _search_ids

TEMPLATE = os.path.join(ROOT, "tests", "e2e", "templates", "secrets_wch_root.yaml")


@pytest.fixture(scope="module")
def ks_heat() -> KeystoneHeat:
    return keystone_heat_up()


@pytest.fixture
def handle_stack(ks_heat: KeystoneHeat):
    kheat = ks_heat
    name = unique("e2e-wch")
    sid = hl.create(kheat.alice, name, TEMPLATE, wait=False)
    try:
        hl.wait_status(kheat.alice, sid, "CREATE_COMPLETE", timeout=300)
        yield sid
    finally:
        with contextlib.suppress(Exception):
            kheat.alice.stacks.delete(sid)
        with contextlib.suppress(Exception):
            hl.wait_deleted(kheat.alice, sid, timeout=180)


def test_live_credentials_never_rest(ks_heat: KeystoneHeat, handle_stack: str, tmp_path):
    kheat = ks_heat
    outputs = {o["output_key"]: o["output_value"]
               for o in kheat.alice.stacks.get(handle_stack).to_dict()["outputs"]}
    token, curl = outputs["token"], outputs["curl"]
    # Heat shows the credentials in clear: what heatseeker must not keep
    assert isinstance(token, str) and len(token) > 20 and token in curl
    assert outputs["child_cmd"] == curl and token in outputs["wrapped"]
    assert outputs["plain"] == "not-a-secret-value"
    children = [s.id for s in kheat.admin.stacks.list(global_tenant=True, show_nested=True)
                if s.stack_name.startswith(kheat.alice.stacks.get(handle_stack).stack_name + "-child")]
    assert children, "the OS::Heat::Stack child"
    secrets = {token, curl}

    hs = KeystoneHeatseeker(str(tmp_path), "wch", password_options())
    try:
        hs.sync()
        for where, data in _data_dir_bytes(hs.data_dir):
            for s in secrets:
                assert s.encode() not in data, f"a credential in {where}"
        engine = TantivyEngine(os.path.join(hs.data_dir, "index"), read_only=True)
        try:
            res = Searcher(engine).search(t.MatchAll(), view=Visibility.everything(), limit=1000)
            stored = json.dumps([h.source for h in res.hits])
        finally:
            engine.close()
        assert handle_stack in stored and children[0] in stored
        assert not any(s in stored for s in secrets)
        for method, path, body in (("GET", f"/v1/search/stacks/{handle_stack}", None),
                                   ("GET", f"/v1/search/stacks/{children[0]}", None),
                                   ("POST", "/v1/search", {"query": {"match_all": {}}, "size": 100})):
            status, text = _api(hs, method, path, body)
            assert status == 200, (path, text[:300])
            assert not any(s in text for s in secrets), path
        for value in (token, curl):
            status, text = _api(hs, "GET", "/v1/search/uses?" + urlencode({"value": value}))
            if words(value):  # the answer echoes the value asked, and finds no stack
                assert status == 200 and json.loads(text)["stacks"] == [], text[:300]
            else:
                # A token of base64url is one long word unless a '-' or '_' cuts it into a piece
                # shorter than 40 characters: then nothing can be looked up, and the refusal says
                # why without repeating the value.
                assert status == 400 and "shorter than 40 characters" in text, text[:300]
                assert value not in text
        # the token cannot be searched for; the plain value passed beside it still can
        for query in ({"term": {"outputs.value": token}}, {"term": {"outputs.value": curl}},
                      {"prefix": {"outputs.value": token[:30]}},
                      {"wildcard": {"outputs.value": f"*{token[:30]}*"}}):
            assert not _search_ids(hs, query), query
        found = words(token)
        if len(found) >= 2:  # by phrase; one word alone, if short ("a", "e2e"), may be anywhere
            assert not _search_ids(hs, {"query_string": {"query": f'"{token}"'}})
        elif found and len(found[0]) >= 8:
            assert not _search_ids(hs, {"query_string": {"query": found[0]}})
        assert handle_stack in _search_ids(hs, {"term": {"outputs.value": "not-a-secret-value"}})
    finally:
        hs.close()
