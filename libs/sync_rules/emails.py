"""Email addresses: trimmed, lowercased, syntax-checked (never DNS), personal addresses flagged.

The whole address is lowercased: local parts are case-sensitive in theory, but no mail system in use
treats them so, and Pipedrive's own person search compares them case-insensitively. The domain is kept in
A-label form, the same canonical form as :mod:`sync_rules.domains`.
"""

from dataclasses import dataclass

from sync_rules.errors import SyncRuleError
from sync_rules.freemail_domains import FREEMAIL_DOMAINS


class InvalidEmailError(SyncRuleError):
    """The value is not a syntactically valid email address; ``value`` is what was given."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(f"{value!r} is not a valid email address: {reason}")
        self.value = value
        self.reason = reason


@dataclass(frozen=True)
class NormalizedEmail:
    """A canonical email address, its domain (A-label) and whether it is on a freemail domain."""

    address: str
    domain: str
    is_personal: bool


def normalize_email(value: str, *, freemail_domains: frozenset[str] = FREEMAIL_DOMAINS) -> NormalizedEmail:
    """Return the canonical form of an email address, flagged personal when its domain is freemail.

    Raises :class:`InvalidEmailError` when the trimmed value is empty or not a valid address.
    """
    # Imported at the first address, not with the module: email_validator compiles its grammar's regular
    # expressions on import (about 0.05 s of every service process's start), and a process that
    # normalizes no address never needs them. After the first call this is a lookup in sys.modules.
    from email_validator import EmailNotValidError, validate_email

    text = value.strip()
    if not text:
        raise InvalidEmailError(value, "it is empty")
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidEmailError(value, str(error)) from error
    domain = checked.ascii_domain.lower()
    address = f"{checked.local_part.lower()}@{domain}"
    return NormalizedEmail(address=address, domain=domain, is_personal=domain in freemail_domains)


def try_normalize_email(value: str | None) -> NormalizedEmail | None:
    """Return :func:`normalize_email` of ``value``, or None when it is empty or invalid."""
    if value is None or not value.strip():
        return None
    try:
        return normalize_email(value)
    except InvalidEmailError:
        return None


def is_personal_email(value: str, *, freemail_domains: frozenset[str] = FREEMAIL_DOMAINS) -> bool:
    """Tell whether a valid address is on a free personal mailbox domain (gmail.com, web.de, ...)."""
    return normalize_email(value, freemail_domains=freemail_domains).is_personal
