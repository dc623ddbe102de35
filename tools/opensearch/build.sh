#!/usr/bin/env bash
# Build the OpenSearch test node (Launcher + its classpath) with Maven; quick when already built.
# Output: $HEATSEEKER_SANDBOX/opensearch/build/{opensearch-launcher-1.0.jar,lib/}
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
sandbox="${HEATSEEKER_SANDBOX:-$repo/.sandbox}"
build="$sandbox/opensearch/build"
m2="${HEATSEEKER_M2:-$sandbox/m2}"
stamp="$build/.built"
if [[ -f "$stamp" && "$stamp" -nt "$here/pom.xml" && "$stamp" -nt "$here/build.sh" \
      && -z "$(find "$here/src" -newer "$stamp" -type f | head -1)" ]]; then
    exit 0
fi
source "$repo/tools/debs.sh"
ensure_debs maven openjdk-17-jdk-headless
rm -rf "$build/lib"
mkdir -p "$build" "$m2"
mvn -B -q -Dmaven.repo.local="$m2" -Dheatseeker.build.dir="$build" -f "$here/pom.xml" package
touch "$stamp"
echo "opensearch launcher built in $build"
