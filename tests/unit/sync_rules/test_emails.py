import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_rules.emails import InvalidEmailError, is_personal_email, normalize_email, try_normalize_email
from sync_rules.freemail_domains import FREEMAIL_DOMAINS


def test_email_is_trimmed_and_lowercased() -> None:
    result = normalize_email("  Jane.Doe@Acme.COM \n")

    assert result.address == "jane.doe@acme.com"
    assert result.domain == "acme.com"
    assert result.is_personal is False


def test_freemail_address_is_flagged_personal() -> None:
    assert normalize_email("someone@GMail.com").is_personal is True
    assert is_personal_email("x@web.de") is True
    assert is_personal_email("x@acme.de") is False


def test_international_domain_is_kept_as_a_label() -> None:
    assert normalize_email("Max@Bücher.de").address == "max@xn--bcher-kva.de"


def test_custom_freemail_list_can_be_given() -> None:
    assert normalize_email("a@acme.com", freemail_domains=frozenset({"acme.com"})).is_personal is True


@pytest.mark.parametrize(
    "value", ["", "   ", "jane", "jane@", "@acme.com", "jane@acme", "a b@acme.com", "x@y..com"]
)
def test_invalid_email_raises_with_the_reason(value: str) -> None:
    with pytest.raises(InvalidEmailError) as caught:
        normalize_email(value)

    assert caught.value.value == value
    assert "not a valid email address" in str(caught.value)
    assert caught.value.reason


def test_syntax_check_does_not_look_up_dns() -> None:
    assert (
        normalize_email("someone@no-such-domain-for-sure-4711.com").domain
        == "no-such-domain-for-sure-4711.com"
    )


def test_try_normalize_email_returns_none_for_unusable() -> None:
    assert try_normalize_email(None) is None
    assert try_normalize_email("not-an-email") is None
    assert try_normalize_email(" A@B.io ") is not None


def test_freemail_list_is_lowercase_ascii() -> None:
    assert all(domain == domain.lower() and domain.isascii() for domain in FREEMAIL_DOMAINS)
    assert {"gmail.com", "outlook.com", "yahoo.com"} <= FREEMAIL_DOMAINS


@settings(max_examples=50, deadline=None)
@given(
    local=st.from_regex(r"[A-Za-z][A-Za-z0-9._+-]{0,15}[A-Za-z0-9]", fullmatch=True),
    host=st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,10}", fullmatch=True),
)
def test_normalizing_an_email_twice_changes_nothing(local: str, host: str) -> None:
    if ".." in local:
        return
    once = normalize_email(f" {local}@{host}.Com ").address

    assert normalize_email(once).address == once
