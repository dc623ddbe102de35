# Debian packages and the Python venv module, checked by what they provide. Source it, don't run it.
# shellcheck shell=bash
#
# Every install step asks dpkg about the exact package it needs, never a stand-in command: a
# `command -v a b c` guard once skipped apt-get when only one of them existed (curl), so a fresh
# machine never got RabbitMQ or MariaDB.

# ensure_debs PKG...: install those of the packages dpkg does not report as installed.
ensure_debs() {
  local missing=() p
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  for p in "${missing[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] \
      || { echo "apt: $p is still not installed" >&2; return 1; }
  done
}

# ensure_venv_module PYTHON: PYTHON can make a venv with pip in it (Debian ships ensurepip in
# python3-venv; a pyenv or upstream Python has it built in).
ensure_venv_module() {
  "$1" -c 'import ensurepip, venv' 2>/dev/null && return 0
  ensure_debs python3-venv
  "$1" -c 'import ensurepip, venv' 2>/dev/null \
    || { echo "$1 still cannot make a venv (no ensurepip)" >&2; return 1; }
}

# make_venv PYTHON DIR: DIR is a venv with a working pip; a half-made one (an earlier run that
# stopped before pip was in) is made again.
make_venv() {
  if [ -x "$2/bin/python" ] && "$2/bin/python" -m pip --version >/dev/null 2>&1; then
    return 0
  fi
  ensure_venv_module "$1"
  rm -rf "$2"
  "$1" -m venv "$2"
}
