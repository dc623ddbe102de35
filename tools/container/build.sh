#!/usr/bin/env bash
# Build heatseeker's container image with buildah (vfs storage, chroot isolation: no daemon, no
# registry, no user namespaces needed). As root:
#
#   bash tools/container/build.sh [--base IMAGE] [--tag TAG] [--ref GIT_REF] [--fresh-base]
#
# --base IMAGE   a Debian 12+ image with python3 >= 3.11 already in this machine's buildah storage
#                (e.g. one pulled from your registry). Without it, the base is a fresh Debian 12
#                root (mmdebstrap minbase + python3 + ca-certificates, tools/fresh-root.sh's recipe,
#                cached in $HEATSEEKER_FRESH_BASE, default /tmp/heatseeker-bookworm-base.tar)
#                imported as localhost/heatseeker-base:bookworm, once.
# --fresh-base   make that root and its image again (e.g. for Debian's security updates).
# --tag TAG      the image's name (default localhost/heatseeker:latest); the one before it loses
#                the name and is removed.
# --ref REF      build that commit of the checkout; default: the working tree's files (tracked and
#                new, not ignored), as they are now.
#
# The build pip-installs from PyPI: apt and pip in the build stage trust the CA bundle
# $HEATSEEKER_BUILD_CA_BUNDLE (default /etc/ssl/certs/ca-certificates.crt, i.e. this machine's, with
# an egress proxy's CA), passed as a build secret: it is in no layer of the image.
# Export the image: buildah --storage-driver vfs push TAG docker-archive:/tmp/heatseeker.tar
set -euo pipefail
cd "$(dirname "$0")/../.."
source tools/debs.sh

base=
tag=localhost/heatseeker:latest
ref=
fresh=
while [ $# -gt 0 ]; do
  case "$1" in
    --base) base=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --ref) ref=$2; shift 2 ;;
    --fresh-base) fresh=1; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: build.sh [--base IMAGE] [--tag TAG] [--ref GIT_REF] [--fresh-base]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "build.sh: run it as root (buildah's chroot isolation)" >&2; exit 2; }

ensure_debs buildah
B=(buildah --storage-driver vfs)
t0=$SECONDS

if [ -z "$base" ]; then
  base=localhost/heatseeker-base:bookworm
  tarball=${HEATSEEKER_FRESH_BASE:-/tmp/heatseeker-bookworm-base.tar}
  if [ -n "$fresh" ] || [ ! -s "$tarball" ]; then
    ensure_debs mmdebstrap
    echo "== mmdebstrap bookworm -> $tarball"
    mmdebstrap --quiet --format=tar --variant=minbase --include=python3,ca-certificates bookworm "$tarball.part.$$"
    mv "$tarball.part.$$" "$tarball"
    fresh=1
  fi
  if [ -n "$fresh" ] || ! "${B[@]}" inspect --type image "$base" >/dev/null 2>&1; then
    echo "== importing $tarball as $base"
    ctr=$("${B[@]}" from --quiet scratch)
    trap '"${B[@]}" rm "$ctr" >/dev/null 2>&1 || true' EXIT  # an import that fails leaves nothing
    root=$("${B[@]}" mount "$ctr")
    [ -d "$root" ] && [ "$root" != / ] || { echo "build.sh: buildah mount gave '$root'" >&2; exit 1; }
    tar -C "$root" -xf "$tarball"
    # a smaller root: no manuals, translations or docs but the copyright files; dpkg keeps them
    # out of what a derived image installs too
    rm -rf "${root:?}"/usr/share/man/* "${root:?}"/usr/share/info/* "${root:?}"/usr/share/lintian/*
    find "${root:?}/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    find "${root:?}/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    find "${root:?}/usr/share/doc" -mindepth 1 -type d -empty -delete
    printf '%s\n' 'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
      'path-exclude /usr/share/lintian/*' 'path-exclude /usr/share/locale/*' \
      'path-include /usr/share/locale/locale.alias' 'path-exclude /usr/share/doc/*' \
      'path-include /usr/share/doc/*/copyright' > "${root:?}/etc/dpkg/dpkg.cfg.d/heatseeker-slim"
    rm -rf "${root:?}"/var/lib/apt/lists/* "${root:?}"/var/cache/apt/*.bin "${root:?}"/var/cache/apt/archives/*.deb
    "${B[@]}" umount "$ctr" >/dev/null
    "${B[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      --env LANG=C.UTF-8 --cmd /bin/bash --os linux --arch "$(dpkg --print-architecture)" \
      --label org.opencontainers.image.description="Debian 12 minbase + python3 (mmdebstrap)" "$ctr"
    old=$("${B[@]}" images --quiet --no-trunc "$base" 2>/dev/null || true)
    "${B[@]}" commit --quiet --rm "$ctr" "$base" >/dev/null
    trap - EXIT
    # the image it replaced, if nothing else uses it
    [ -n "$old" ] && "${B[@]}" rmi "$old" >/dev/null 2>&1 || true
  fi
fi
"${B[@]}" inspect --type image "$base" >/dev/null \
  || { echo "build.sh: no image $base in buildah's vfs storage" >&2; exit 1; }

context=$(mktemp -d /tmp/heatseeker-image-context.XXXXXX)
trap 'rm -rf "$context"' EXIT
if [ -n "$ref" ]; then
  revision=$(git rev-parse "$ref^{commit}")
  git archive "$revision" | tar -C "$context" -x
else
  revision=$(git rev-parse HEAD)
  git diff --quiet HEAD 2>/dev/null || revision="$revision-dirty"
  git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf - | tar -C "$context" -x
fi

secret=()
bundle=${HEATSEEKER_BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[ -s "$bundle" ] && secret=(--secret "id=cabundle,src=$bundle")

old=$("${B[@]}" images --quiet --no-trunc "$tag" 2>/dev/null || true)
echo "== building $tag from $base ($revision)"
"${B[@]}" build --isolation chroot --quiet -f tools/container/Containerfile \
  --build-arg BASE="$base" --build-arg REVISION="$revision" "${secret[@]}" \
  --tag "$tag" "$context" >/dev/null
new=$("${B[@]}" images --quiet --no-trunc "$tag")
if [ -n "$old" ] && [ "$old" != "$new" ]; then
  "${B[@]}" rmi "$old" >/dev/null 2>&1 || true
fi
size=$("${B[@]}" images --format '{{.Size}}' "$tag" | head -1)
echo "== built $tag ($size) in $((SECONDS - t0))s"
