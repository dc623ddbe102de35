"""The conformance suite against the embedded tantivy engine."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from heatseeker.engines.tantivy import TantivyEngine
from heatseeker.engines.testing import EngineConformance

_SHM = "/dev/shm"
_created: list[str] = []


def _index_dir(tmp_path: Path) -> Path:
    """Where the index of a test lives: on tmpfs when there is one.

    Every tantivy commit fsyncs (30-150 ms on the CI disk) and the suite commits a few hundred
    times; semantics do not depend on the disk. Durability after a crash is a unit test on the
    real disk (tests/unit/test_tantivy_engine.py).
    """
    link = tmp_path / "index"
    if link.exists() or link.is_symlink() or not os.access(_SHM, os.W_OK):
        return link
    target = tempfile.mkdtemp(prefix="heatseeker-conformance-", dir=_SHM)
    _created.append(target)
    link.symlink_to(target)
    return link


@pytest.fixture(scope="module", autouse=True)
def _remove_tmpfs_dirs():
    yield
    while _created:
        shutil.rmtree(_created.pop(), ignore_errors=True)


class TestTantivyConformance(EngineConformance):
    property_examples = 150

    def make_engine(self, tmp_path):
        return TantivyEngine(str(_index_dir(tmp_path)), writer_memory_mb=32)
