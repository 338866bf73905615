#!/bin/sh
# Container entrypoint: run `python -m $PSYNC_SERVICE`, listening on all interfaces.
# The services default to <SERVICE>_HTTP_HOST=127.0.0.1 (libs/service_runtime/settings.py) and the
# sandbox to SANDBOX_HOST=127.0.0.1 (libs/pipedrive_sandbox/settings.py), unreachable from outside a
# container; default them to 0.0.0.0 unless the environment sets them.
set -eu
: "${PSYNC_SERVICE:?PSYNC_SERVICE is not set (build the image with --build-arg SERVICE=...)}"
if [ "$PSYNC_SERVICE" = pipedrive_sandbox ]; then
    host_var=SANDBOX_HOST
else
    host_var="$(printf '%s' "$PSYNC_SERVICE" | tr '[:lower:]' '[:upper:]')_HTTP_HOST"
fi
eval "export ${host_var}=\"\${${host_var}:-0.0.0.0}\""
exec python -m "$PSYNC_SERVICE" "$@"
