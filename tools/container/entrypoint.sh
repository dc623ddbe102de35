#!/bin/bash
# The container image's entrypoint (tools/container/Containerfile): one mode per container.
#
#   api        the search API and web UI under gunicorn (heatseeker.api.wsgi:application)
#              HEATSEEKER_API_BIND (default 0.0.0.0:9393), HEATSEEKER_API_WORKERS (default 4),
#              HEATSEEKER_API_TIMEOUT (default 60); more gunicorn options in GUNICORN_CMD_ARGS or
#              after the mode (e.g. `api --log-level debug`)
#   listener   heatseeker listen: Heat's notifications -> the record -> the index (its one writer)
#   sync       heatseeker sync: one reconcile with the Heat API (run it from a CronJob or a timer)
#   status     heatseeker-status upgrade check (exit 0 success, 1 warning, 2 failure)
#   db-upgrade heatseeker db upgrade: makes or upgrades the record (a bootstrap / pre-upgrade job)
#   anything else is run as given (`heatseeker search ...`, `heatseeker reindex`, `bash`)
#
# The configuration is HEATSEEKER_CONFIG_FILE (default /etc/heatseeker/heatseeker.conf, mounted;
# several files separated by commas), for every mode; the API also reads HEATSEEKER_CONFIG_DIR.
set -euo pipefail

conf_args=()
IFS=, read -r -a conf_files <<< "${HEATSEEKER_CONFIG_FILE:-/etc/heatseeker/heatseeker.conf}"
for f in "${conf_files[@]}"; do
  f=${f// /}
  [ -n "$f" ] && conf_args+=(--config-file "$f")
done

mode=${1:-api}
[ $# -gt 0 ] && shift
case "$mode" in
  api)
    gunicorn_args=(--workers "${HEATSEEKER_API_WORKERS:-4}" --bind "${HEATSEEKER_API_BIND:-0.0.0.0:9393}"
                   --timeout "${HEATSEEKER_API_TIMEOUT:-60}" --access-logfile -)
    # gunicorn's worker heartbeat files: /dev/shm keeps them off a read-only or slow /tmp
    [ -d /dev/shm ] && [ -w /dev/shm ] && gunicorn_args+=(--worker-tmp-dir /dev/shm)
    exec gunicorn "${gunicorn_args[@]}" "$@" heatseeker.api.wsgi:application ;;
  listener)
    exec heatseeker "${conf_args[@]}" listen "$@" ;;
  sync)
    exec heatseeker "${conf_args[@]}" sync "$@" ;;
  status)
    exec heatseeker-status "${conf_args[@]}" upgrade check "$@" ;;
  db-upgrade)
    exec heatseeker "${conf_args[@]}" db upgrade "$@" ;;
  *)
    exec "$mode" "$@" ;;
esac
