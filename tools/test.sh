#!/usr/bin/env bash
# Everything, on a fresh machine: install, start the real services, lint, type-check, run every
# test (unit, engine conformance, end to end against the real Heat sandbox and RabbitMQ).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
bash tools/install.sh
# systemd-analyze checks the operator's units (etc/systemd); nothing is started with it
source tools/debs.sh && ensure_debs systemd
bash tools/sandbox/setup.sh
bash tools/sandbox/start.sh
echo "== opensearch"; bash tools/opensearch/build.sh; bash tools/opensearch/start.sh 1
echo "== keystone"; bash tools/keystone/ensure.sh
echo "== heat behind keystone"; bash tools/sandbox/keystone-heat.sh up
# a second region of the same Keystone (tests/e2e/test_regions.py): its own heat-api on 8024
echo "== a second region"; KEYSTONE_HEAT_REGION=RegionTwo KEYSTONE_HEAT_PORT=8024 \
  bash tools/sandbox/keystone-heat.sh up
echo "== ruff"; .venv/bin/ruff check heatseeker tests tools bench
echo "== mypy"; .venv/bin/mypy
echo "== pytest"
mkdir -p artifacts
# the unit tests are CPU-bound and independent (each process its own temporary files and its own
# throw-away MariaDB database): two processes (pytest-xdist) on the 2 cores; the engine
# conformance and end-to-end tests share the one sandbox, so they run in one process after them
.venv/bin/python -m pytest -q -ra -n 2 --junitxml=artifacts/junit-unit.xml tests/unit "$@"
.venv/bin/python -m pytest -q -ra --junitxml=artifacts/junit.xml tests/conformance tests/e2e "$@"
# the benchmarks' smoke run (bench/README.md): every benchmark runs at its quick size and every
# comparison in it answers the same on both sides; its report is kept under artifacts/bench
echo "== bench smoke"; .venv/bin/python -m bench.run --quick --strict --out artifacts/bench
echo "all checks passed in $(( $(date +%s) - t0 ))s"
