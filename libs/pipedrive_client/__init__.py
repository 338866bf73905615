"""The shared Pipedrive client: credentials (encrypted), OAuth, the budget shared by all replicas,
typed resources over API v2 (and the v1 operations still current), and errors with the activity log's
messages.

A service's bootstrap installs the schema (`install_schema`) and builds one `PipedriveClientFactory`;
`factory.for_tenant(tenant_id)` gives a `PipedriveClient`.
"""

from pipedrive_client.api_domains import ApiDomainPolicy
from pipedrive_client.budget import Budget, BudgetPolicy, ExhaustedBudget
from pipedrive_client.client import PipedriveClient, PipedriveClientFactory
from pipedrive_client.clock import Clock, SystemClock
from pipedrive_client.credentials import (
    ApiTokenCredentials,
    CredentialStore,
    OAuthCredentials,
    RefusedConnection,
    refused_connections,
)
from pipedrive_client.crypto import CredentialCipher
from pipedrive_client.database import install_schema
from pipedrive_client.errors import (
    ApiDomainRejected,
    BudgetExhausted,
    CredentialsUnreadable,
    InvalidApiKey,
    NotFound,
    OAuthFailed,
    PipedriveError,
    PipedriveUnavailable,
    RateLimitExceeded,
    RequestRejected,
    UnexpectedResponse,
)
from pipedrive_client.filters import ListFilters
from pipedrive_client.http import RetryPolicy
from pipedrive_client.oauth import IssuedState, OAuthApp, OAuthStateStore, authorize_url, new_state
from pipedrive_client.pagination import Page
from pipedrive_client.plans import Plan
from pipedrive_client.settings import PipedriveClientSettings
from pipedrive_client.webhooks import WebhookSubscription

__all__ = [
    "ApiDomainPolicy",
    "ApiDomainRejected",
    "ApiTokenCredentials",
    "Budget",
    "BudgetExhausted",
    "BudgetPolicy",
    "Clock",
    "CredentialCipher",
    "CredentialStore",
    "CredentialsUnreadable",
    "ExhaustedBudget",
    "InvalidApiKey",
    "IssuedState",
    "ListFilters",
    "NotFound",
    "OAuthApp",
    "OAuthCredentials",
    "OAuthFailed",
    "OAuthStateStore",
    "Page",
    "PipedriveClient",
    "PipedriveClientFactory",
    "PipedriveClientSettings",
    "PipedriveError",
    "PipedriveUnavailable",
    "Plan",
    "RateLimitExceeded",
    "RefusedConnection",
    "RequestRejected",
    "RetryPolicy",
    "SystemClock",
    "UnexpectedResponse",
    "WebhookSubscription",
    "authorize_url",
    "install_schema",
    "new_state",
    "refused_connections",
]
