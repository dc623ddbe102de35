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
bash tools/sandbox/start.sh   # MariaDB (the unit tests use it), RabbitMQ, Heat
mkdir -p artifacts
# what only the conformance and end-to-end tests use is installed and started meanwhile, in the
# background (its output in artifacts/services.log, shown when it ends)
services() {
  echo "== opensearch"; bash tools/opensearch/build.sh; bash tools/opensearch/start.sh 1
  echo "== keystone"; bash tools/keystone/ensure.sh
  echo "== heat behind keystone"; bash tools/sandbox/keystone-heat.sh up
  # a second region of the same Keystone (tests/e2e/test_regions.py): its own heat-api on 8024
  echo "== a second region"; KEYSTONE_HEAT_REGION=RegionTwo KEYSTONE_HEAT_PORT=8024 \
    bash tools/sandbox/keystone-heat.sh up
}
(set -euo pipefail; services) > artifacts/services.log 2>&1 &
services_pid=$!
trap 'kill "$services_pid" ${stream1:-} ${stream2:-} 2>/dev/null || true' EXIT
echo "== ruff"; .venv/bin/ruff check heatseeker tests tools bench
echo "== mypy"; .venv/bin/mypy
echo "== pytest"
# the unit tests are CPU-bound and independent (each process its own temporary files and its own
# throw-away MariaDB database): two processes (pytest-xdist) on the 2 cores
.venv/bin/python -m pytest -q -ra -n 2 --junitxml=artifacts/junit-unit.xml tests/unit "$@"
echo "== services for the end-to-end tests (artifacts/services.log)"
services_rc=0; wait "$services_pid" || services_rc=$?
cat artifacts/services.log
[ "$services_rc" -eq 0 ] || { echo "starting the services failed (exit $services_rc)" >&2; exit 1; }
# the engine conformance and end-to-end tests mostly wait for Heat: two pytest processes share
# the one sandbox at once, each with its own modules (HEATSEEKER_TEST_STREAM, tests/conftest.py);
# their outputs are shown when both end. Then the tests that need Heat to themselves (marked
# `alone`) run one at a time. Exit 5 is "none selected" (a -k or -m given to this script may leave
# a pass nothing to run).
e2e_stream() {
  local i=$1; shift
  HEATSEEKER_TEST_STREAM="$i/2" .venv/bin/python -m pytest -q -ra -p no:cacheprovider \
    -m "not alone" --junitxml="artifacts/junit-e2e-$i.xml" tests/conformance tests/e2e "$@" \
    > "artifacts/e2e-stream-$i.log" 2>&1
}
passed() { [ "$1" -eq 0 ] || [ "$1" -eq 5 ]; }
junit() {  # the passes' reports as one, artifacts/junit.xml
  .venv/bin/python tools/junit_merge.py artifacts/junit.xml artifacts/junit-e2e-1.xml \
    artifacts/junit-e2e-2.xml artifacts/junit-alone.xml
}
rm -f artifacts/junit.xml artifacts/junit-e2e-?.xml artifacts/junit-alone.xml
echo "== conformance and end-to-end tests: two streams (artifacts/e2e-stream-{1,2}.log)"
e2e_stream 1 "$@" & stream1=$!
e2e_stream 2 "$@" & stream2=$!
rc1=0; wait "$stream1" || rc1=$?
rc2=0; wait "$stream2" || rc2=$?
for i in 1 2; do echo "-- stream $i of 2"; cat "artifacts/e2e-stream-$i.log"; done
passed "$rc1" && passed "$rc2" || { junit; echo "end-to-end streams failed (exit $rc1, $rc2)" >&2; exit 1; }
echo "== the end-to-end tests marked alone, one at a time"
rc=0; .venv/bin/python -m pytest -q -ra -m alone --junitxml=artifacts/junit-alone.xml tests/e2e "$@" \
  || rc=$?
junit
passed "$rc" || exit "$rc"
# the benchmarks' smoke run (bench/README.md): every benchmark runs at its quick size and every
# comparison in it answers the same on both sides; its report is kept under artifacts/bench
echo "== bench smoke"; .venv/bin/python -m bench.run --quick --strict --out artifacts/bench
echo "all checks passed in $(( $(date +%s) - t0 ))s"
