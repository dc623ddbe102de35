#!/usr/bin/env bash
# Install heatseeker and its test tools into ./.venv, pinned by constraints.txt. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/debs.sh
PY=${PYTHON:-python3}
make_venv "$PY" .venv
# re-install only when the dependency list or the pins changed
stamp=.venv/.heatseeker-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -c constraints.txt -e '.[test]'
  echo "$want" > "$stamp"
fi
# the browser of the web UI's end-to-end tests (Playwright drives Debian's chromium; it downloads none)
ensure_debs chromium libatomic1  # libatomic1: the node binary of Playwright's driver needs it
echo "heatseeker installed in .venv ($(.venv/bin/heatseeker --help >/dev/null && echo ok))"
