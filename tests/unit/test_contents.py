"""record/contents.py: which parts of a document are stored by content, and the cache of them."""

import pytest

from heatseeker.record import contents as C


def _doc():
    return {
        "id": "s1", "name": "n", "status": "CREATE_COMPLETE", "tags": ["a"],
        "template": {"heat_template_version": "wallaby", "description": "d" * 600},
        "environment": {"parameters": {"x": 1}, "parameter_defaults": {f"P{i}": i for i in range(100)},
                        "resource_registry": {}, "event_sinks": []},
        "parameters": {"x": 1},
        "resources": [{"name": f"r{i}", "type": "OS::Nova::Server"} for i in range(30)],
    }


def test_big_parts_leave_the_skeleton_small_ones_stay():
    doc = _doc()
    skeleton, parts, texts = C.split(doc)
    assert sorted(parts) == ["environment.parameter_defaults", "resources", "template"]
    assert skeleton["environment"] == {"parameters": {"x": 1}, "resource_registry": {}, "event_sinks": []}
    assert skeleton["parameters"] == {"x": 1} and "template" not in skeleton
    assert set(texts) == set(parts.values())
    assert all(C.digest_of(t) == d for d, t in texts.items())
    assert doc == _doc()  # the document itself is left as it was
    assert C.join(skeleton, parts, texts) == doc


def test_the_fields_the_record_queries_are_never_parts():
    doc = dict(_doc(), tags=[f"t{i}" * 20 for i in range(50)], status_reason="r" * 2000)
    skeleton, parts, _ = C.split(doc)
    assert skeleton["tags"] == doc["tags"] and skeleton["status_reason"] == doc["status_reason"]
    assert not {"tags", "status_reason", "name", "status"} & set(parts)


def test_equal_parts_have_one_digest_whatever_the_key_order():
    a = {"template": {"b": 1, "a": "x" * 600}}
    b = {"template": {"a": "x" * 600, "b": 1}}
    assert C.split(a)[1] == C.split(b)[1]


def test_join_gives_fresh_objects():
    skeleton, parts, texts = C.split(_doc())
    one = C.join(dict(skeleton), parts, texts)
    one["template"]["description"] = "changed"
    assert C.join(dict(skeleton), parts, texts)["template"]["description"] == "d" * 600


def test_the_cache_fetches_once_evicts_and_says_what_is_missing():
    calls = []
    store = {"a": "1" * 40, "b": "2" * 40, "c": "3" * 40}

    def fetch(ds):
        calls.append(sorted(ds))
        return {d: store[d] for d in ds if d in store}

    cache = C.Cache(max_bytes=100)
    assert cache.texts(["a", "b", "a"], fetch) == {"a": store["a"], "b": store["b"]}
    assert cache.texts(["a"], fetch) == {"a": store["a"]} and calls == [["a", "b"]]
    cache.texts(["c"], fetch)  # 120 bytes > 100: the least recently used ("b") goes
    cache.texts(["b"], fetch)
    assert calls[-1] == ["b"]
    with pytest.raises(LookupError, match="lacks content zz"):
        cache.texts(["zz"], fetch)
    assert C.unpack(C.pack("é" * 10)) == "é" * 10


def test_a_read_of_many_records_fetches_their_contents_at_once(tmp_path):
    """A reindex reads 50-100 records at a time: the contents they name come in one query (the
    query, not the rows, cost most), and a second read finds them in the cache."""
    from heatseeker.record import Change, Store

    store = Store(str(tmp_path / "state.sqlite"))
    docs = [dict(_doc(), id=f"s{i}", template={"description": f"{i}" * 600}) for i in range(60)]
    store.apply([Change(d["id"], 1, d) for d in docs])
    reader = Store(str(tmp_path / "state.sqlite"), create=False)  # its cache is empty
    fetched: list[int] = []
    real = reader._fetch_contents
    reader._fetch_contents = lambda ds: (fetched.append(len(ds)), real(ds))[1]  # type: ignore[method-assign]

    def parts(records):
        return [(r.id, r.doc["template"], r.doc["environment"], r.doc["resources"]) for r in records]

    expected = [(d["id"], d["template"], d["environment"], d["resources"]) for d in docs]
    assert parts(reader.changes_since(0, 60)) == expected
    assert fetched == [62]  # 60 templates, the shared parameter_defaults and resources: one query
    assert parts(reader.changes_since(0, 60)) == expected and fetched == [62]
