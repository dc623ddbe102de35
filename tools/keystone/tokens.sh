#!/bin/bash
# Print a project-scoped Keystone token (domain Default), e.g.
#   TOKEN=$(bash tools/keystone/tokens.sh alice alicepw alpha)
#   curl -H "X-Auth-Token: $TOKEN" http://127.0.0.1:9393/v1/search/plugins
# Keystone: $OS_AUTH_URL, else http://127.0.0.1:${KEYSTONE_PORT:-5000}/v3.
# Exits 1 with Keystone's answer on stderr if no token is issued.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: tokens.sh USER PASSWORD PROJECT" >&2; exit 2; }
URL=${OS_AUTH_URL:-http://127.0.0.1:${KEYSTONE_PORT:-5000}/v3}
URL=${URL%/}
esc() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '%s' "$s"; }  # JSON string
body='{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"'$(esc "$1")'","domain":{"id":"default"},"password":"'$(esc "$2")'"}}},"scope":{"project":{"name":"'$(esc "$3")'","domain":{"id":"default"}}}}}'
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
code=$(curl -sS --max-time 30 -D "$tmp" -o "$tmp.body" -w '%{http_code}' \
  -H 'Content-Type: application/json' -d "$body" "$URL/auth/tokens") || code=000
token=$(awk 'tolower($1)=="x-subject-token:"{print $2}' "$tmp" | tr -d '\r')
if [ "$code" != 201 ] || [ -z "$token" ]; then
  echo "tokens.sh: no token for $1 in project $3 from $URL (HTTP $code): $(cat "$tmp.body" 2>/dev/null)" >&2
  rm -f "$tmp.body"
  exit 1
fi
rm -f "$tmp.body"
echo "$token"
