"""`python -m pipedrive_sandbox`: serve the sandbox in the foreground, configured by SANDBOX_* variables."""

from __future__ import annotations

import argparse

from aiohttp import web

from pipedrive_sandbox.app import create_app
from pipedrive_sandbox.config import SandboxConfig
from pipedrive_sandbox.settings import SandboxSettings


def main() -> None:
    """Read settings (environment, then command-line overrides), print credentials, serve forever."""
    settings = SandboxSettings()
    parser = argparse.ArgumentParser(prog="python -m pipedrive_sandbox", description=__doc__)
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument("--organizations", type=int, default=settings.organizations)
    args = parser.parse_args()
    base_url = settings.public_url or f"http://{args.host}:{args.port}"
    config = SandboxConfig(
        plan=settings.plan,
        seats=settings.seats,
        seed=settings.seed,
        organizations=args.organizations,
        public_url=base_url,
    )
    if settings.api_token is not None:
        config = config.model_copy(update={"api_token": settings.api_token.get_secret_value()})
    if settings.oauth_client_id and settings.oauth_client_secret is not None:
        secret = settings.oauth_client_secret.get_secret_value()
        config = config.model_copy(
            update={"oauth_client_id": settings.oauth_client_id, "oauth_client_secret": secret}
        )
    print(f"Pipedrive sandbox on {base_url} (plan {config.plan.value}, {config.seats} seat(s))", flush=True)
    if settings.api_token is None:
        print(f"  API token:           {config.api_token}", flush=True)
    print(f"  OAuth client id:     {config.oauth_client_id}", flush=True)
    print(f"  OAuth client secret: {config.oauth_client_secret}", flush=True)
    print(f"  admin API:           {base_url}/_sandbox/state", flush=True)
    web.run_app(create_app(config), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
