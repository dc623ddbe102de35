#!/usr/bin/env bash
# Everything, on a fresh machine: install, start the real services, lint, type-check, run every
# test (unit, engine conformance, end to end against the real Heat sandbox and RabbitMQ).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
bash tools/install.sh
bash tools/sandbox/setup.sh
bash tools/sandbox/start.sh
echo "== opensearch"; bash tools/opensearch/build.sh; bash tools/opensearch/start.sh 1
echo "== keystone"; bash tools/keystone/ensure.sh
echo "== ruff"; .venv/bin/ruff check heatseeker tests tools bench
echo "== mypy"; .venv/bin/mypy
echo "== pytest"
mkdir -p artifacts
.venv/bin/python -m pytest -q -ra --junitxml=artifacts/junit.xml tests "$@"
echo "all checks passed in $(( $(date +%s) - t0 ))s"
