"""Website domains: from whatever admins type into a website field to one canonical match key.

Canonical form is the IDNA A-label (punycode, ASCII). Reasons: it is what DNS, the HTTP ``Host`` header
and Pipedrive search compare byte for byte, it sorts and indexes the same in Postgres under any
collation, and Kafka keys built from it are plain ASCII. ``bücher.de`` and ``xn--bcher-kva.de`` both
become ``xn--bcher-kva.de``; use :func:`display_domain` to show the Unicode form.

The registrable domain comes from the Public Suffix List snapshot bundled with tldextract; the list is
never fetched (``suffix_list_urls=()``, no cache directory). Private PSL sections are honoured, so
``acme.myshopify.com`` stays its own company instead of collapsing every shop into ``myshopify.com``.
"""

import ipaddress
import re
from functools import cache, lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import idna

from sync_rules.errors import SyncRuleError

if TYPE_CHECKING:
    import tldextract

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_ASCII_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# A name whose every label _ASCII_LABEL accepts (checked at once: the common case).
_ASCII_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")
# A website typed the usual way: an optional http(s) scheme, ASCII labels of letters, digits and hyphens
# (none empty), at most one trailing dot, an optional port, then nothing or a path, query or fragment of
# visible ASCII. `plain_host` reads its host without urlsplit; any other text (user info, other schemes,
# brackets, spaces, a backslash or underscore in the host, Unicode) takes the general path.
_PLAIN_WEBSITE = re.compile(
    r"(?:https?://)?((?:[a-z0-9-]+\.)+[a-z0-9-]+)\.?(?::[0-9]*)?(?:[/?#][!-~]*)?", re.IGNORECASE
)
# The same of ASCII text lowercased first: case-sensitive classes match a character in one step, where
# IGNORECASE folds each (for ASCII text the two accept the same texts and read the same host).
_PLAIN_LOWERCASE_WEBSITE = re.compile(_PLAIN_WEBSITE.pattern)
_FORBIDDEN_HOST_CHARACTERS = re.compile(r"[\s/\\<>\"'`{}|^%]")
# Dots that IDNA (UTS 46) treats as label separators, as typed on CJK keyboards.
_IDEOGRAPHIC_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_EXAMPLE = "enter the company's website, for example example.com"


class InvalidDomainError(SyncRuleError):
    """The value cannot be turned into a website domain; ``value`` is what was given."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(f"{value!r} is not a usable website domain: {reason}; {_EXAMPLE}")
        self.value = value
        self.reason = reason


@cache
def _public_suffix_extractor() -> "tldextract.TLDExtract":
    # No URLs and no cache directory: tldextract falls back to the snapshot shipped in the wheel. Imported
    # at the first domain, not with the module: tldextract imports requests (about 0.2 s of a process's
    # start-up), and a process that normalizes no domain (a mapper replaying) never needs it.
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


@lru_cache(maxsize=65536)  # pure and hot: an import normalizes the same websites again and again
def normalize_domain(value: str, *, keep_subdomains: bool = False) -> str:
    """Return the canonical registrable domain of a website, URL or host name.

    ``https://www.Example.co.uk/about`` gives ``example.co.uk``. Scheme, credentials, port, path, query,
    fragment, a trailing dot and a leading ``www.`` are dropped; internationalized names come back as
    A-labels. With ``keep_subdomains`` the subdomains (other than a leading ``www``) are kept.
    Raises :class:`InvalidDomainError` for IP addresses, single labels, public suffixes and garbage.
    """
    host, plain = _host_of(value)
    labels = host.split(".")
    suffix, registrable = public_suffix(host, labels) if plain else _extracted_suffix(host)
    if not suffix:
        raise InvalidDomainError(value, f"{host!r} does not end in a known public suffix such as .com")
    if not registrable:
        raise InvalidDomainError(value, f"{host!r} is a public suffix, not a company's domain")
    registrable_size = registrable.count(".") + suffix.count(".") + 2
    kept = labels if keep_subdomains else labels[-registrable_size:]
    if kept[0] == "www" and len(kept) > registrable_size:
        kept = kept[1:]
    domain = ".".join(kept)
    if plain and len(domain) <= 63 and "-" not in domain and domain.isascii():
        return domain  # labels `plain_host` read: none empty, none longer than the name, no hyphen at all
    if _ASCII_NAME.fullmatch(domain) and "xn--" not in domain:
        return domain  # every label is a valid ASCII label already, as _to_a_label finds one by one
    return ".".join(_to_a_label(value, label) for label in kept)


def public_suffix(host: str, labels: list[str]) -> tuple[str, str]:
    """The public suffix of a host `plain_host` read (`labels`: its labels) and the label before it ("" for
    none): tldextract's `extract_str(host)` suffix and domain, looked up in its suffix trie straight.
    `extract_str` first takes the host out of a URL (scheme, user, port, path, IPv6 brackets, trailing
    dots, ideographic dots), none of which such a host holds, then does the same lookup: a third of the
    time the normalizing of a domain took. tests/unit/sync_rules/test_domains.py compares the two on
    every rule of the bundled Public Suffix List. The trie is walked here as `suffix_index` walks it (its
    labels are lowercase already): `suffix_index` decodes every label in a call of its own, half the
    lookup's time; a punycode label (`xn--`), which it compares decoded, goes to it."""
    node = _suffix_trie().tlds_incl_private_trie
    start = position = len(labels)
    for label in reversed(labels):
        if label.startswith("xn--"):
            return _indexed_suffix(labels)
        child = node.matches.get(label)
        if child is None:
            if "*" in node.matches:  # a wildcard rule: the label is part of the suffix unless excepted
                start = position if "!" + label in node.matches else position - 1
            break
        position -= 1
        node = child
        if node.end:
            start = position
    if start == len(labels):
        return "", labels[-1]  # as tldextract answers (an IPv4 address, rejected before, aside)
    return ".".join(labels[start:]), labels[start - 1] if start > 0 else ""


def _indexed_suffix(labels: list[str]) -> tuple[str, str]:
    """`public_suffix` by tldextract's own `suffix_index` (which decodes punycode labels)."""
    found = _suffix_trie().suffix_index(labels, include_psl_private_domains=True)
    if not found:
        return "", labels[-1]
    start = found[0][0]
    return ".".join(labels[start:]), labels[start - 1] if start > 0 else ""


def _extracted_suffix(host: str) -> tuple[str, str]:
    """The public suffix and the label before it of any host, as tldextract extracts them."""
    parts = _public_suffix_extractor().extract_str(host)
    return parts.suffix, parts.domain


@cache
def _suffix_trie() -> "tldextract.tldextract._PublicSuffixListTLDExtractor":
    return _public_suffix_extractor()._get_tld_extractor()


def load_public_suffix_list() -> None:
    """Load the Public Suffix List now (import tldextract, read its snapshot, build the suffix trie:
    0.14 to 0.16 s of CPU on a quiet machine) instead of at the first domain normalized. A service that
    normalizes domains in its handlers calls it while it starts, so the first batch it applies does not
    wait for it."""
    _suffix_trie()


def try_normalize_domain(value: str | None, *, keep_subdomains: bool = False) -> str | None:
    """Return :func:`normalize_domain` of ``value``, or None when it is empty or not a usable domain."""
    if value is None or not value or value.isspace():  # what `not value.strip()` says, without a copy
        return None
    try:
        return normalize_domain(value, keep_subdomains=keep_subdomains)
    except InvalidDomainError:
        return None


def display_domain(domain: str) -> str:
    """Return the Unicode form of a canonical (A-label) domain, for showing to people."""
    try:
        return idna.decode(domain)
    except idna.IDNAError:
        return domain


def _host_of(value: str) -> tuple[str, bool]:
    """The host of a website, and whether `plain_host` read it (a host of ASCII labels only)."""
    text = value.strip()
    if not text:
        raise InvalidDomainError(value, "it is empty")
    host = plain_host(text)
    plain = host is not None
    if host is None:
        host = _parsed_host(value, text)
    if _is_ip_address(host):
        raise InvalidDomainError(value, "it is an IP address")
    if "." not in host:
        raise InvalidDomainError(value, f"{host!r} is a single label, not a domain")
    return host, plain


def plain_host(text: str) -> str | None:
    """The host of a website typed the usual way (`_PLAIN_WEBSITE`), lowercased: what `_parsed_host`
    makes of it, without urlsplit; None for any other text."""
    if not text.isascii():  # IGNORECASE matches a few non-ASCII letters too ("\u212a", Kelvin, as "k")
        plain = _PLAIN_WEBSITE.fullmatch(text)
        if plain is None:
            return None
        scheme = _SCHEME.match(text)
        if scheme is not None and scheme.group().lower() not in {"http://", "https://"}:
            return None  # "shop.com://x": urlsplit reads "shop.com" as the scheme
        return plain[1].lower()
    lowered = text.lower()
    plain = _PLAIN_LOWERCASE_WEBSITE.fullmatch(lowered)
    if plain is None:
        return None
    if "://" in lowered and not lowered.startswith(("http://", "https://")) and _SCHEME.match(lowered):
        return None  # "shop.com://x": urlsplit reads "shop.com" as the scheme (a scheme ends at "://")
    return plain[1]


def _parsed_host(value: str, text: str) -> str:
    """The host of any text as urlsplit finds it, lowercased, checked for what a host cannot hold."""
    netloc = urlsplit(text if _SCHEME.match(text) else f"//{text}").netloc
    host = netloc.rpartition("@")[2]
    if host.startswith("["):
        raise InvalidDomainError(value, "it is an IP address")
    host = host.rpartition(":")[0] if re.search(r":\d*$", host) else host
    host = host.translate(_IDEOGRAPHIC_DOTS).rstrip(".").lower()
    if not host:
        raise InvalidDomainError(value, "it has no host name")
    if _FORBIDDEN_HOST_CHARACTERS.search(host) or ":" in host or ".." in host:
        raise InvalidDomainError(value, f"{host!r} contains characters a host name cannot have")
    return host


def _is_ip_address(host: str) -> bool:
    # Hosts with ':' are rejected before this, so only dotted IPv4 can remain; most hosts have letters,
    # and the parse (which fails by raising) is the slow part of normalizing a website.
    if not host.replace(".", "").isdigit():
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _to_a_label(value: str, label: str) -> str:
    if label.isascii() and not label.startswith("xn--"):
        if not _ASCII_LABEL.match(label):
            raise InvalidDomainError(value, f"the label {label!r} is not a valid host name part")
        return label
    try:
        return idna.encode(label, uts46=True).decode("ascii")
    except idna.IDNAError as error:
        raise InvalidDomainError(value, f"the label {label!r} is not a valid international name") from error
