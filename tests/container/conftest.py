"""The container image's suite (tests/container) builds an image: minutes of CPU, root, buildah and
PyPI. It runs only when asked for, by path or by marker:

    .venv/bin/python -m pytest -v tests/container          # or: pytest tests -m container

A run that names neither (``pytest tests``, as tools/test.sh runs) does not collect it at all: no
test of it is skipped, reported or run.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def _asked(config) -> bool:
    if "container" in (config.option.markexpr or "").replace("not container", ""):
        return True
    for arg in config.args:
        path = (config.invocation_params.dir / str(arg).split("::", 1)[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path, config):
    if collection_path.suffix == ".py" and collection_path.name.startswith("test_") \
            and not _asked(config):
        return True
    return None
