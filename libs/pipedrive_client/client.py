"""`PipedriveClient`: every resource of one tenant, and `PipedriveClientFactory`, which builds clients
from the shared pieces a service's bootstrap creates once (session, pool, cipher, OAuth app, budget)."""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp
import asyncpg
from pydantic import SecretBytes, SecretStr

from pipedrive_client.account import FieldsResource, PipelinesResource, StagesResource, UsersResource
from pipedrive_client.activities import ActivitiesResource
from pipedrive_client.api_domains import ApiDomainPolicy
from pipedrive_client.authorization import CredentialAuthorizer
from pipedrive_client.budget import Budget, BudgetPolicy
from pipedrive_client.clock import Clock, SystemClock
from pipedrive_client.credentials import CredentialStore
from pipedrive_client.crypto import CredentialCipher
from pipedrive_client.database import DEFAULT_SCHEMA
from pipedrive_client.http import PipedriveHttp, RetryPolicy
from pipedrive_client.models import Deal, Organization, Person
from pipedrive_client.oauth import OAuthApp, OAuthRefresher, OAuthTokenClient
from pipedrive_client.recents import RecentsResource
from pipedrive_client.resources import EntityResource
from pipedrive_client.settings import PipedriveClientSettings
from pipedrive_client.webhooks import WebhooksResource


class PipedriveClient:
    """The Pipedrive API of one tenant: typed resources over one `PipedriveHttp`."""

    def __init__(self, http: PipedriveHttp) -> None:
        self.http = http
        self.organizations = EntityResource(http, "organizations", Organization)
        self.persons = EntityResource(http, "persons", Person)
        self.deals = EntityResource(http, "deals", Deal)
        self.fields = FieldsResource(http)
        self.users = UsersResource(http)
        self.pipelines = PipelinesResource(http)
        self.stages = StagesResource(http)
        self.webhooks = WebhooksResource(http)
        self.activities = ActivitiesResource(http)
        self.recents = RecentsResource(http)

    @property
    def tokens_spent(self) -> int:
        """Tokens charged for this client's calls so far (what a run reports as spent)."""
        return self.http.tokens_spent


class PipedriveClientFactory:
    """Builds per-tenant clients; holds the credential store, the budget and the OAuth machinery."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        pool: asyncpg.Pool,
        credentials_key: bytes | SecretBytes | SecretStr,
        *,
        old_credentials_keys: Sequence[bytes | SecretBytes | SecretStr] = (),
        oauth_app: OAuthApp | None = None,
        policy: ApiDomainPolicy | None = None,
        budget_policy: BudgetPolicy | None = None,
        retry: RetryPolicy | None = None,
        schema: str = DEFAULT_SCHEMA,
        clock: Clock | None = None,
        refresh_margin_seconds: float = 300,
    ) -> None:
        self._session = session
        self._retry = retry
        self._clock = clock or SystemClock()
        self.policy = policy or ApiDomainPolicy()
        cipher = CredentialCipher(credentials_key, old_credentials_keys)
        self.credentials = CredentialStore(pool, cipher, schema)
        self.budget = Budget(pool, schema, budget_policy, self._clock)
        self.oauth_tokens = (
            OAuthTokenClient(session, oauth_app, self.policy, self._clock) if oauth_app else None
        )
        refresher = (
            OAuthRefresher(self.credentials, self.oauth_tokens, self._clock, refresh_margin_seconds)
            if self.oauth_tokens
            else None
        )
        self._authorizer = CredentialAuthorizer(self.credentials, self.policy, refresher)

    @classmethod
    def from_settings(
        cls,
        session: aiohttp.ClientSession,
        pool: asyncpg.Pool,
        settings: PipedriveClientSettings,
        *,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        default_redirect_uri: str = "",
    ) -> PipedriveClientFactory:
        """The factory a service's bootstrap builds from the shared `PIPEDRIVE_*` settings
        (`default_redirect_uri`: the connector's own OAuth callback, unless one is configured)."""
        return cls(
            session,
            pool,
            settings.current_credentials_key,
            old_credentials_keys=settings.old_credentials_keys,
            oauth_app=oauth_app_of(settings, default_redirect_uri),
            policy=settings.api_domains,
            budget_policy=settings.budget_policy,
            retry=retry,
            schema=settings.client_schema,
            clock=clock,
        )

    def for_tenant(self, tenant_id: str) -> PipedriveClient:
        """A client that calls Pipedrive with the tenant's stored credentials and budget."""
        http = PipedriveHttp(
            self._session, tenant_id, self._authorizer, self.budget, retry=self._retry, clock=self._clock
        )
        return PipedriveClient(http)


def oauth_app_of(settings: PipedriveClientSettings, default_redirect_uri: str = "") -> OAuthApp | None:
    """The marketplace app, when its client id and secret are configured; its redirect URI is the one
    configured, else `default_redirect_uri` (the connector's own callback)."""
    if not settings.oauth_configured:
        return None
    return OAuthApp(
        settings.oauth_client_id,
        settings.oauth_client_secret,
        settings.oauth_redirect_uri or default_redirect_uri,
        settings.oauth_base_url,
    )
