"""Which credential a call carries, and the headers that carry it (never the URL)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from pipedrive_client.api_domains import ApiDomainPolicy
from pipedrive_client.credentials import ApiTokenCredentials, CredentialStore
from pipedrive_client.errors import InvalidApiKey
from pipedrive_client.oauth import OAuthRefresher

API_TOKEN_REFUSED = "Pipedrive refused the API token (revoked or changed)"


@dataclass(frozen=True)
class Authorization:
    """A credential ready to use: base URL, the secret, and whether it is OAuth."""

    api_domain: str
    token: SecretStr
    is_oauth: bool

    def headers(self) -> dict[str, str]:
        """`x-api-token` for API tokens, `Authorization: Bearer` for OAuth."""
        secret = self.token.get_secret_value()
        if self.is_oauth:
            return {"Authorization": f"Bearer {secret}"}
        return {"x-api-token": secret}


class CredentialAuthorizer:
    """Reads the tenant's stored credentials (refreshing OAuth tokens when due) for each call."""

    def __init__(
        self, store: CredentialStore, policy: ApiDomainPolicy, refresher: OAuthRefresher | None = None
    ) -> None:
        self._store = store
        self._policy = policy
        self._refresher = refresher

    async def authorize(self, tenant_id: str, rejected: SecretStr | None = None) -> Authorization:
        """The credential to send; `rejected` is one Pipedrive just refused with 401 (OAuth refreshes,
        an API token cannot be fixed: it is marked refused and `InvalidApiKey` raised). Credentials
        Pipedrive refused for good are not sent again: `InvalidApiKey` until the tenant reconnects."""
        stored = await self._store.load(tenant_id)
        if stored.refused_reason is not None:
            raise InvalidApiKey(f"{InvalidApiKey.message}: {stored.refused_reason}; reconnect Pipedrive")
        credentials = stored.credentials
        if isinstance(credentials, ApiTokenCredentials):
            if rejected is not None:
                await self._store.mark_refused(tenant_id, stored.version, API_TOKEN_REFUSED)
                raise InvalidApiKey()
            return Authorization(self._policy.accept(credentials.api_domain), credentials.api_token, False)
        if self._refresher is None:
            raise InvalidApiKey("Invalid API key: OAuth credentials stored but no OAuth app configured")
        fresh = await self._refresher.fresh(tenant_id, rejected, stored)
        return Authorization(self._policy.accept(fresh.api_domain), fresh.access_token, True)
