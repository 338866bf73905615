"""Which credential a call carries, and the headers that carry it (never the URL)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from pipedrive_client.api_domains import ApiDomainPolicy
from pipedrive_client.credentials import ApiTokenCredentials, CredentialStore
from pipedrive_client.errors import InvalidApiKey
from pipedrive_client.oauth import OAuthRefresher


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
        an API token cannot be fixed: `InvalidApiKey`)."""
        credentials = (await self._store.load(tenant_id)).credentials
        if isinstance(credentials, ApiTokenCredentials):
            if rejected is not None:
                raise InvalidApiKey()
            return Authorization(self._policy.accept(credentials.api_domain), credentials.api_token, False)
        if self._refresher is None:
            raise InvalidApiKey("Invalid API key: OAuth credentials stored but no OAuth app configured")
        fresh = await self._refresher.fresh(tenant_id, rejected)
        return Authorization(self._policy.accept(fresh.api_domain), fresh.access_token, True)
