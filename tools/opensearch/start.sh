#!/usr/bin/env bash
# Start OpenSearch test node N (1-9) on 127.0.0.1: HTTP 92N0, transport 93N0, heap <= 512 MB,
# data under $HEATSEEKER_SANDBOX/opensearch/nodeN. Idempotent: a running node is left alone.
#
#   start.sh N                 a single-node cluster (discovery.type=single-node)
#   start.sh N M1,M2,...       node N as a member of a cluster of nodes M1,M2,... (all
#                              cluster-manager eligible); start every member, then wait for health
#   --fresh (first argument)   wipe node N's data first
# Waits until node N answers HTTP (and, for a single node, until the cluster is yellow or green).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
sandbox="${HEATSEEKER_SANDBOX:-$repo/.sandbox}"
fresh=0
if [[ "${1:-}" == "--fresh" ]]; then fresh=1; shift; fi
n="${1:?usage: start.sh [--fresh] N [M1,M2,...]}"
members="${2:-}"
heap="${HEATSEEKER_OPENSEARCH_HEAP:-512m}"
build="$sandbox/opensearch/build"
dir="$sandbox/opensearch/node$n"
http=$((9200 + 10 * n))
transport=$((9300 + 10 * n))
url="http://127.0.0.1:$http"

bash "$here/build.sh"
if [[ -f "$dir/pid" ]] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    if curl -sf "$url/" >/dev/null; then exit 0; fi
fi
if (( fresh )); then rm -rf "$dir"; fi
mkdir -p "$dir/home" "$dir/data" "$dir/logs"

settings=(
    "path.home=$dir/home" "path.data=$dir/data" "path.logs=$dir/logs"
    "node.name=node$n" "network.host=127.0.0.1"
    "http.port=$http" "transport.port=$transport"
    "cluster.routing.allocation.disk.threshold_enabled=false"
    "action.auto_create_index=false"
    "node.processors=2"
)
if [[ -z "$members" ]]; then
    settings+=("cluster.name=heatseeker-node$n" "discovery.type=single-node")
else
    seeds=() names=()
    IFS=, read -ra ms <<<"$members"
    for m in "${ms[@]}"; do seeds+=("127.0.0.1:$((9300 + 10 * m))"); names+=("node$m"); done
    settings+=(
        "cluster.name=heatseeker-cluster-${members//,/-}"
        "discovery.seed_hosts=$(IFS=,; echo "${seeds[*]}")"
        "cluster.initial_cluster_manager_nodes=$(IFS=,; echo "${names[*]}")"
    )
fi

nohup java -Xms"$heap" -Xmx"$heap" -XX:+UseSerialGC -Xss1m \
    -Djava.io.tmpdir="$dir/home" -Dlog4j2.disable.jmx=true -Djava.awt.headless=true \
    -Dopensearch.networkaddress.cache.ttl=60 -Dfile.encoding=UTF-8 \
    -cp "$build/opensearch-launcher-1.0.jar:$build/lib/*" \
    org.heatseeker.opensearch.Launcher "${settings[@]}" >"$dir/node.log" 2>&1 &
echo $! >"$dir/pid"

for _ in $(seq 1 240); do
    if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
        echo "opensearch node$n died; last lines of $dir/node.log:" >&2
        tail -30 "$dir/node.log" >&2
        exit 1
    fi
    if curl -sf "$url/" >/dev/null; then
        if [[ -n "$members" ]]; then exit 0; fi
        if curl -sf "$url/_cluster/health?wait_for_status=yellow&timeout=30s" >/dev/null; then
            echo "opensearch node$n up at $url"
            exit 0
        fi
    fi
    sleep 0.5
done
echo "opensearch node$n did not answer at $url; see $dir/node.log" >&2
exit 1
