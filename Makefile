# Benchmarks only (see bench/README.md). Tests: bash tools/test.sh
PY ?= .venv/bin/python

.PHONY: bench bench-quick

# the full run at the default sizes (10k and 100k stacks): bench/results/latest.{md,json}
bench:
	-bash tools/sandbox/start.sh
	$(PY) -m bench.run

# a smoke run (1k stacks, the small sandbox set): bench/results/latest-quick.{md,json}
bench-quick:
	-bash tools/sandbox/start.sh
	$(PY) -m bench.run --quick
