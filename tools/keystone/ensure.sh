#!/bin/bash
# Make the sandbox Keystone ready for the API's end-to-end tests: set up (venvs, config, DB,
# bootstrap), started, populated (projects, users, roles, the 'search' catalog entry, ids.json).
# Each step is idempotent and skips what is done, so on a ready sandbox this takes ~1-2 s
# (cold: ~1.5 min, mostly pip). Environment as for setup.sh / start.sh / populate.sh
# (HEATSEEKER_SANDBOX, KEYSTONE_PORT, ADMIN_PASSWORD, SEARCH_URL).
#
#   bash tools/keystone/ensure.sh
set -euo pipefail
KS_TOOLS=$(cd "$(dirname "$0")" && pwd)
t0=$(date +%s.%N)
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}'; }

bash "$KS_TOOLS/setup.sh"
bash "$KS_TOOLS/start.sh"
# the first line of populate.sh says what changed; the rest lists users and ids (a pipe to sed,
# not head: head would break populate's pipe)
bash "$KS_TOOLS/populate.sh" | sed -n 1p
echo "[keystone] ready in $(elapsed)s"
