"""Who is calling: an API token (`x-api-token` header or `api_token` query) or an OAuth bearer token."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from pipedrive_sandbox.ledger import token_fingerprint
from pipedrive_sandbox.state import SandboxState


@dataclass(frozen=True)
class Credential:
    """An authenticated caller: the user, how they authenticated, and a non-secret id of the token."""

    user_id: int
    company_id: int
    is_oauth: bool
    token_id: str

    @property
    def kind(self) -> str:
        """`oauth` or `api_token`."""
        return "oauth" if self.is_oauth else "api_token"


def authenticate(request: web.Request, state: SandboxState) -> Credential | None:
    """The caller's credential, or None when it is missing, unknown, expired or revoked."""
    company_id = state.config.company_id
    authorization = request.headers.get("Authorization", "")
    if authorization.lower().startswith("bearer "):
        access_token = authorization[7:].strip()
        grant = state.oauth.authenticate(access_token)
        if grant is None:
            return None
        return Credential(grant.user_id, company_id, True, token_fingerprint(access_token))
    api_token = request.headers.get("x-api-token") or request.query.get("api_token")
    if not api_token or api_token in state.revoked_api_tokens:
        return None
    user = state.account.user_by_token(api_token)
    if user is None:
        return None
    return Credential(user.id, company_id, False, token_fingerprint(api_token))
