#!/usr/bin/env bash
# Install heatseeker and its test tools into ./.venv, pinned by constraints.txt. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# re-install only when the dependency list or the pins changed
stamp=.venv/.heatseeker-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -c constraints.txt -e '.[test]'
  echo "$want" > "$stamp"
fi
# the browser of the web UI's end-to-end tests (Playwright drives Debian's chromium; it downloads none)
if [ ! -x /usr/bin/chromium ]; then
  apt-cache show chromium >/dev/null 2>&1 || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
fi
echo "heatseeker installed in .venv ($(.venv/bin/heatseeker --help >/dev/null && echo ok))"
