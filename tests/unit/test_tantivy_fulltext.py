"""The embedded engine's full text is one value per document, its strings joined by GAP_WORD
(engines/tantivy.py): phrases still stay within one string, the gap word is never indexed, and a
reader process that opens the index afresh analyses it the same way."""

from __future__ import annotations

import pytest

from heatseeker.engines.conformance import make_doc
from heatseeker.engines.tantivy import GAP_WORD, TantivyEngine
from heatseeker.query.tree import MatchAll, Phrase, Text


def ids(result) -> list[str]:
    return sorted(hit.id for hit in result.hits)


@pytest.fixture
def engine(tmp_path):
    eng = TantivyEngine(str(tmp_path / "index"), writer_memory_mb=32)
    eng.upsert(
        [
            (make_doc("a", description="quota exceeded", parameters={"k": "again now"}), 1),
            (make_doc("b", description="quota", parameters={"k": "exceeded"}), 1),
            (make_doc("c", description=f"quota {GAP_WORD} exceeded"), 1),
        ]
    )
    eng.commit()
    yield eng
    eng.close()


def test_a_phrase_stays_within_one_string(engine):
    assert ids(engine.search(Phrase(None, "quota exceeded"), limit=10)) == ["a"]
    assert ids(engine.search(Phrase(None, "again now"), limit=10)) == ["a"]
    # "b" holds both words, in two strings one after the other
    assert ids(engine.search(Text(None, "quota exceeded", operator="and"), limit=10)) == [
        "a", "b", "c"
    ]
    # in the full text the key "k" is a string of its own, between the description and the value
    assert ids(engine.search(Phrase(None, "k again"), limit=10)) == []


def test_the_gap_word_is_not_indexed(engine):
    assert ids(engine.search(Text(None, GAP_WORD), limit=10)) == []
    # ... and leaves its position empty even where a document holds it
    assert ids(engine.search(Phrase(None, "quota exceeded"), limit=10)) == ["a"]


def test_a_reader_process_analyses_like_the_writer(engine, tmp_path):
    reader = TantivyEngine(str(tmp_path / "index"), read_only=True)
    try:
        assert reader.count(MatchAll()) == 3
        assert ids(reader.search(Phrase(None, "quota exceeded"), limit=10)) == ["a"]
    finally:
        reader.close()


def test_a_writer_reopened_indexes_with_the_gap(tmp_path):
    path = str(tmp_path / "index")
    TantivyEngine(path, writer_memory_mb=32).close()
    eng = TantivyEngine(path, writer_memory_mb=32)
    try:
        eng.upsert([(make_doc("d", description="one", tags=["two"]), 1)])
        eng.commit()
        assert ids(eng.search(Phrase(None, "one two"), limit=10)) == []
        assert ids(eng.search(Text(None, "one two", operator="and"), limit=10)) == ["d"]
    finally:
        eng.close()


def test_a_rebuild_indexes_with_the_gap(tmp_path):
    eng = TantivyEngine(str(tmp_path / "index"), writer_memory_mb=32)
    try:
        doc = make_doc("e", description="left", parameters={"k": "right"})
        assert eng.rebuild([(doc, "e", 1)], checkpoint=1) == 1
        assert ids(eng.search(Text(None, "left right", operator="and"), limit=10)) == ["e"]
        assert ids(eng.search(Phrase(None, "left k"), limit=10)) == []
    finally:
        eng.close()
