"""Docker HEALTHCHECK: exit 0 when the process in this image answers its health URL with 200.

Services: GET /healthz on `<SERVICE>_HTTP_PORT`, else the service's default port (the same fixed ports as
deploy/local/services.sh). The Pipedrive sandbox has no /healthz: its admin API (`GET /_sandbox/faults`)
on `SANDBOX_PORT` (default 8765) stands in. python:3.11-slim has no curl, hence the stdlib.
"""

import os
import sys
import urllib.request

DEFAULT_PORTS = {"console": 8080, "connector": 8081, "mapper": 8082, "pusher": 8083, "auditlog": 8084}

service = os.environ["PSYNC_SERVICE"]
if service == "pipedrive_sandbox":
    port, path = os.environ.get("SANDBOX_PORT") or 8765, "/_sandbox/faults"
else:
    port = os.environ.get(f"{service.upper()}_HTTP_PORT") or DEFAULT_PORTS.get(service, 8080)
    path = "/healthz"
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:  # any failure is "unhealthy"; say why in `docker inspect`
    print(f"unhealthy: {exc}", file=sys.stderr)
    sys.exit(1)
