import socket

import pytest
import tldextract
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sync_rules.domains import (
    _ASCII_LABEL,
    _ASCII_NAME,
    _PLAIN_WEBSITE,
    _SCHEME,
    InvalidDomainError,
    _parsed_host,
    display_domain,
    normalize_domain,
    plain_host,
    public_suffix,
    try_normalize_domain,
)


def test_design_example_reduces_to_registrable_domain() -> None:
    assert normalize_domain("https://www.Example.co.uk/about") == "example.co.uk"


@pytest.mark.parametrize(
    "value",
    [
        "example.com",
        "EXAMPLE.COM",
        "www.example.com",
        "http://example.com",
        "https://www.example.com/",
        "https://user:secret@www.example.com:8443/path?q=1#top",
        "example.com.",
        "  example.com  ",
        "example.com:80",
        "blog.shop.example.com",
        "HTTPS://WWW.EXAMPLE.COM./About",
    ],
)
def test_url_forms_of_one_site_give_one_domain(value: str) -> None:
    assert normalize_domain(value) == "example.com"


def test_keep_subdomains_keeps_them_but_drops_www() -> None:
    assert normalize_domain("https://www.shop.Example.com/x", keep_subdomains=True) == "shop.example.com"


def test_keep_subdomains_strips_only_a_leading_www() -> None:
    assert normalize_domain("a.www.example.com", keep_subdomains=True) == "a.www.example.com"


def test_www_that_is_the_registrable_label_is_kept() -> None:
    assert normalize_domain("www.com") == "www.com"


def test_unicode_and_punycode_forms_give_the_same_a_label() -> None:
    assert normalize_domain("https://www.Bücher.de/") == normalize_domain("xn--bcher-kva.de")
    assert normalize_domain("bücher.de") == "xn--bcher-kva.de"


def test_unicode_public_suffix_is_recognised() -> None:
    assert normalize_domain("пример.рф") == "xn--e1afmkfd.xn--p1ai"


def test_ideographic_full_stop_separates_labels() -> None:
    assert normalize_domain("example\u3002com") == "example.com"


def test_display_domain_shows_unicode() -> None:
    assert display_domain("xn--bcher-kva.de") == "bücher.de"


def test_private_suffix_keeps_each_shop_apart() -> None:
    assert normalize_domain("https://acme.myshopify.com") == "acme.myshopify.com"


def test_junk_subdomain_is_ignored_when_subdomains_are_dropped() -> None:
    assert normalize_domain("my_site.example.com") == "example.com"


@pytest.mark.parametrize(
    ("value", "reason_part"),
    [
        ("http://192.168.1.10/", "IP address"),
        ("10.0.0.1:8080", "IP address"),
        ("[2001:db8::1]", "IP address"),
        ("https://[::1]:443/", "IP address"),
        ("localhost", "single label"),
        ("intranet", "single label"),
        ("co.uk", "public suffix"),
        ("server.internal-zone", "public suffix such as .com"),
        ("", "empty"),
        ("   ", "empty"),
        ("https://", "no host"),
        ("foo bar.com", "characters"),
        ("a..b.com", "characters"),
        ("-bad-.com", "not a valid host name part"),
    ],
)
def test_unusable_values_raise_an_actionable_error(value: str, reason_part: str) -> None:
    with pytest.raises(InvalidDomainError) as caught:
        normalize_domain(value)

    assert reason_part in caught.value.reason
    assert "example.com" in str(caught.value)
    assert caught.value.value == value


def test_try_normalize_returns_none_for_unusable_values() -> None:
    assert try_normalize_domain(None) is None
    assert try_normalize_domain("127.0.0.1") is None
    assert try_normalize_domain("www.Acme.io") == "acme.io"


def test_bundled_suffix_list_is_used_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the Public Suffix List must not be fetched")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    extractor = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)

    assert extractor.extract_str("www.example.co.uk").suffix == "co.uk"
    assert normalize_domain("www.example.co.uk") == "example.co.uk"


def _hosts_around_every_rule() -> list[str]:
    """Plain hosts at, under and beside every rule of the bundled Public Suffix List (wildcards filled in,
    exceptions as written), in A-labels as `plain_host` reads them."""
    trie = _EXTRACTOR._get_tld_extractor()
    hosts = []
    for rule in [*trie.public_tlds, *trie.private_tlds]:
        name = rule.lstrip("!").replace("*", "wild")
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            continue  # not expressible as a plain host
        hosts += [name, f"acme.{name}", f"www.acme.{name}", f"xn--bcher-kva.{name}", f"{name}.zz"]
    return [h for h in hosts if plain_host(h) == h]


def test_public_suffix_is_tldextracts_suffix_and_domain_of_every_plain_host() -> None:
    hosts = _hosts_around_every_rule()
    assert len(hosts) > 30_000
    for host in hosts:
        parts = _EXTRACTOR.extract_str(host)
        assert public_suffix(host, host.split(".")) == (parts.suffix, parts.domain), host


_labels = st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True)
_suffixes = st.sampled_from(["com", "co.uk", "de", "io", "com.au", "org"])
_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


def _assume_registrable(label: str, suffix: str) -> None:
    # "gov.uk" or "blogspot.com" are public suffixes themselves, not a company's domain.
    assume(_EXTRACTOR.extract_str(f"{label}.{suffix}").domain == label)


@settings(max_examples=60, deadline=None)
@given(label=_labels, suffix=_suffixes, sub=st.lists(_labels, max_size=2))
def test_normalizing_twice_changes_nothing(label: str, suffix: str, sub: list[str]) -> None:
    _assume_registrable(label, suffix)
    host = ".".join([*sub, label, suffix])
    once = normalize_domain(host, keep_subdomains=True)

    assert normalize_domain(once, keep_subdomains=True) == once
    assert normalize_domain(normalize_domain(host)) == normalize_domain(host)


@settings(max_examples=60, deadline=None)
@given(
    label=_labels,
    suffix=_suffixes,
    scheme=st.sampled_from(["", "http://", "https://", "HTTPS://"]),
    www=st.sampled_from(["", "www.", "WWW."]),
    port=st.sampled_from(["", ":80", ":8443"]),
    trailing_dot=st.booleans(),
    path=st.sampled_from(["", "/", "/about", "/a/b?x=1#y"]),
    upper=st.booleans(),
)
def test_every_url_form_of_one_site_yields_one_key(
    label: str, suffix: str, scheme: str, www: str, port: str, trailing_dot: bool, path: str, upper: bool
) -> None:
    _assume_registrable(label, suffix)
    host = f"{label}.{suffix}"
    typed_host = host.upper() if upper else host
    url = f"{scheme}{www}{typed_host}{'.' if trailing_dot else ''}{port}{path}"

    assert normalize_domain(url) == host


@settings(max_examples=400, deadline=None)
@given(text=st.from_regex(_PLAIN_WEBSITE, fullmatch=True).map(str.strip).filter(bool))
def test_a_plainly_typed_website_gives_the_host_urlsplit_gives(text: str) -> None:
    # The fast path (no urlsplit) for websites typed the usual way finds what the general path finds.
    host = plain_host(text)
    try:
        parsed = _parsed_host(text, text)
    except InvalidDomainError:
        parsed = None
    assert host is None or host == parsed


@pytest.mark.parametrize(
    "text", ["shop.com://x", "http.com://a.b", "a.com:", "http://a.com://x", "a.com./x", "A.COM.:80?q#f"]
)
def test_plain_host_agrees_with_urlsplit_at_the_edges(text: str) -> None:
    assert plain_host(text) in {None, _parsed_host(text, text)}


@settings(max_examples=400, deadline=None)
@given(name=st.text(alphabet="ab09-.", min_size=1, max_size=80) | st.just("a" * 63 + ".com"))
def test_a_name_is_taken_at_once_exactly_when_each_label_is_valid(name: str) -> None:
    each = all(_ASCII_LABEL.match(label) for label in name.split("."))
    assert (_ASCII_NAME.fullmatch(name) is not None) == each


def _plain_host_folding_case(text: str) -> str | None:
    """`plain_host` as it read every text before ASCII text was lowercased first: the IGNORECASE pattern
    and the scheme checked on the text as typed."""
    plain = _PLAIN_WEBSITE.fullmatch(text)
    if plain is None:
        return None
    scheme = _SCHEME.match(text)
    if scheme is not None and scheme.group().lower() not in {"http://", "https://"}:
        return None
    return plain[1].lower()


_TYPED = st.text(alphabet="aAbZ09-.:/?#_@ \u212a\u017f", max_size=30)


@settings(max_examples=600, deadline=None)
@given(
    text=st.from_regex(_PLAIN_WEBSITE, fullmatch=True)
    | _TYPED
    | st.tuples(st.sampled_from(["", "http://", "HTTPS://", "Http.com://", "ftp://", "a+b://"]), _TYPED).map(
        "".join
    )
)
def test_plain_host_reads_what_the_case_folding_pattern_reads(text: str) -> None:
    assert plain_host(text) == _plain_host_folding_case(text)


@pytest.mark.parametrize(
    "text",
    [
        "shop.com://x",
        "HTTP://A.COM/x",
        "Https://a.com",
        "ftp://a.com",
        "1shop.com://x",
        "\u212aelvin.com",
        "\u017fhop.com",
    ],
)
def test_plain_host_at_the_schemes_and_case_edges(text: str) -> None:
    assert plain_host(text) == _plain_host_folding_case(text)


@settings(max_examples=600, deadline=None)
@given(name=st.text(alphabet="ab09-.w", min_size=1, max_size=80), suffix=st.sampled_from([".com", ".co.uk"]))
def test_a_plain_name_is_kept_exactly_when_each_label_is_valid(name: str, suffix: str) -> None:
    # Short plain names without a hyphen skip the label-by-label check: the answer stays the same.
    value = name + suffix
    host = plain_host(value)
    assume(host is not None)
    assert host is not None
    labels = host.split(".")
    if not all(_ASCII_LABEL.match(label) for label in labels):
        with pytest.raises(InvalidDomainError, match="is not a valid host name part"):
            normalize_domain(value, keep_subdomains=True)
        return
    registrable_size = 1 + suffix.count(".")
    kept = labels[1:] if labels[0] == "www" and len(labels) > registrable_size else labels
    assert normalize_domain(value, keep_subdomains=True) == ".".join(kept)


@pytest.mark.parametrize("value", ["", " ", "\t\n", "\u2003", "\x1c\x1f", "\u3000 "])
def test_try_normalize_returns_none_for_blank_values(value: str) -> None:
    assert try_normalize_domain(value) is None
