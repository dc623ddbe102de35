"""The conformance suite against the embedded tantivy engine."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from heatseeker.engines.conformance import EngineConformance

_SHM = "/dev/shm"
_created: list[str] = []


def _on_tmpfs(tmp_path: Path) -> Path:
    """``tmp_path`` with its ``index`` directory on tmpfs when there is one.

    Every tantivy commit fsyncs (30-150 ms on the CI disk) and the suite commits a few hundred
    times; semantics do not depend on the disk. Durability after a crash is a unit test on the
    real disk (tests/unit/test_tantivy_engine.py).
    """
    link = tmp_path / "index"
    if link.exists() or link.is_symlink() or not os.access(_SHM, os.W_OK):
        return tmp_path
    target = tempfile.mkdtemp(prefix="heatseeker-conformance-", dir=_SHM)
    _created.append(target)
    link.symlink_to(target)
    return tmp_path


@pytest.fixture(scope="module", autouse=True)
def _remove_tmpfs_dirs():
    yield
    while _created:
        shutil.rmtree(_created.pop(), ignore_errors=True)


class TestTantivyConformance(EngineConformance):
    backend = "tantivy"
    property_examples = 150
    api_noninterference = (3_300, 3_500)  # generated requests, compared requests at least
    small_caps = {"SCORE_TIE_WINDOW": 200}  # score ties examined at a page boundary

    def engine_options(self, tmp_path):
        return {"DEFAULT": {"data_dir": str(_on_tmpfs(tmp_path))}, "engine": {"writer_memory_mb": 32}}

    def discard(self, engine):
        engine.close()
        index = Path(engine.path)
        if index.is_symlink():
            target = os.readlink(index)
            shutil.rmtree(target, ignore_errors=True)
            if target in _created:
                _created.remove(target)
