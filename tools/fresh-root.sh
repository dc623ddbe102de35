#!/usr/bin/env bash
# Prove the README's two commands on a machine that has nothing: a fresh Debian 12 root built with
# mmdebstrap from Debian's registry (python3 and ca-certificates only, as the README asks), this
# checkout's HEAD copied in (git archive), then tools/demo.sh and/or tools/test.sh run inside it
# with CI=true, as CI runs .ci/run.
#
#   bash tools/fresh-root.sh [demo|test|both] [ROOT_DIR]      (as root; default: both)
#
# The root shares this machine's network: stop this machine's sandbox services first (they use the
# same loopback ports): bash tools/sandbox/stop.sh; bash tools/keystone/stop.sh;
# bash tools/opensearch/stop.sh 1. The machine's own extra CA certificates (an egress proxy's) are
# copied in, as the host's CA bundle must be for pip and Maven to verify the registries here.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/debs.sh
what=${1:-both}
root=$(realpath -m "${2:-/tmp/heatseeker-fresh-root}")
case "$what" in demo|test|both) ;; *) echo "usage: fresh-root.sh [demo|test|both] [ROOT]" >&2; exit 2 ;; esac
ensure_debs mmdebstrap
base=${HEATSEEKER_FRESH_BASE:-/tmp/heatseeker-bookworm-base.tar}
if [ ! -s "$base" ]; then
  echo "== mmdebstrap bookworm -> $base"
  mmdebstrap --quiet --format=tar --variant=minbase --include=python3,ca-certificates bookworm "$base.part"
  mv "$base.part" "$base"
fi

in_root() {  # the pids of every process running inside the root (a service a run left behind)
  local p r
  for p in /proc/[0-9]*; do
    r=$(readlink "$p/root" 2>/dev/null) || continue
    case "$r" in "$root"|"$root (deleted)") echo "${p#/proc/}" ;; esac
  done
}
umount_all() {
  local pids
  pids=$(in_root)
  [ -z "$pids" ] || { kill $pids 2>/dev/null; sleep 2; kill -9 $(in_root) 2>/dev/null || true; }
  for m in dev/pts dev proc sys; do umount -l "$root/$m" 2>/dev/null || true; done
  umount -l "$root" 2>/dev/null || true
}
umount_all
rm -rf "$root"
mkdir -p "$root"
tar -C "$root" -xf "$base"
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
fi
# a machine's own name resolves on any Debian install (the installer writes /etc/hosts); a bare
# mmdebstrap root has no /etc/hosts, so it gets this machine's (RabbitMQ's node is rabbit@<host>)
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
cp -L /etc/hosts "$root/etc/hosts"
mkdir -p "$root/root/heatseeker"
git archive HEAD | tar -C "$root/root/heatseeker" -x
echo "== installed in the root: $(chroot "$root" dpkg-query -W -f='${db:Status-Status}:${binary:Package} ' \
  python3 ca-certificates curl python3-venv rabbitmq-server mariadb-server chromium maven systemd \
  2>/dev/null | tr ' ' '\n' | sed -n 's/^installed://p' | tr '\n' ' ')"
# the root is a mount point of its own: inside the chroot, /proc/self/mounts then has an entry for
# "/" (Java's file stores, OpenSearch's among them, look their mount up there)
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
trap umount_all EXIT
chroot "$root" update-ca-certificates >/dev/null

run() {  # run COMMAND: as CI would, in the copied checkout, with a plain environment
  echo "== in the fresh root: $1"
  local t0=$SECONDS
  chroot "$root" env -i HOME=/root LANG=C.UTF-8 CI=true TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    bash -c "cd /root/heatseeker && $1" </dev/null
  echo "== '$1' passed in the fresh root in $((SECONDS - t0))s"
}
stop_services() {
  chroot "$root" bash -c 'cd /root/heatseeker && { bash tools/sandbox/stop.sh; bash tools/keystone/stop.sh; bash tools/opensearch/stop.sh 1;
    [ -f .sandbox/demo/serve.pid ] && kill "$(cat .sandbox/demo/serve.pid)"; } >/dev/null 2>&1 || true'
}
[ "$what" = test ] || { run "bash tools/demo.sh"; stop_services; }
[ "$what" = demo ] || { run "bash tools/test.sh"; stop_services; }
echo "fresh root: all asked passed"
