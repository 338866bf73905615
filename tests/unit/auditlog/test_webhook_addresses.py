"""A tenant's webhook reaches only public addresses, unless its host is allowed (a local receiver): the
rule, the check of a URL naming an address, and the resolver the delivery worker connects through."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from auditlog.alert_delivery import PublicAddressResolver, literal_address_refusal
from auditlog.alert_rules import address_of_host, address_refusal, webhook_refusal

NOT_PUBLIC = [
    "127.0.0.1",  # loopback
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",  # private
    "169.254.169.254",  # link-local: cloud metadata
    "100.64.0.1",  # shared address space (carrier NAT)
    "0.0.0.0",
    "224.0.0.1",  # multicast
    "::1",
    "fe80::1%eth0",
    "fd00::1",
    "::ffff:10.0.0.1",  # IPv4-mapped
]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_private_loopback_link_local_and_reserved_addresses_are_refused(address: str) -> None:
    assert address_refusal("hooks.example.com", address, frozenset()) is not None


def test_public_addresses_and_allowed_hosts_are_reachable() -> None:
    assert address_refusal("hooks.slack.com", "34.120.1.1", frozenset()) is None
    assert address_refusal("hooks.slack.com", "2606:4700::1111", frozenset()) is None
    assert address_refusal("localhost", "127.0.0.1", frozenset({"localhost"})) is None
    assert address_refusal("hooks.example.com", "not-an-address", frozenset()) is not None


def test_a_url_naming_a_private_address_is_refused_when_saved_and_when_delivered() -> None:
    hosts = frozenset({"127.0.0.1"})
    refused = "webhook_url: must not be a private, loopback or link-local address"
    assert webhook_refusal("https://169.254.169.254/latest/meta-data", hosts) == refused
    assert webhook_refusal("https://[::1]:8443/hook", hosts) == refused
    assert webhook_refusal("http://127.0.0.1:9000/hook", hosts) is None
    assert webhook_refusal("https://hooks.slack.com/services/x", hosts) is None
    assert literal_address_refusal("https://10.0.0.5/hook", hosts) is not None
    assert literal_address_refusal("http://127.0.0.1:9000/hook", hosts) is None
    assert literal_address_refusal("https://hooks.slack.com/services/x", hosts) is None  # checked resolved
    # Shorthands the C resolver reads as 127.0.0.1 are addresses, not names, whatever the allowed hosts.
    for shorthand in ("https://127.1/hook", "https://2130706433/hook", "https://0x7f.0.0.1/hook"):
        assert webhook_refusal(shorthand, frozenset()) == refused, shorthand
        assert literal_address_refusal(shorthand, frozenset()) is not None, shorthand
    assert webhook_refusal("https://hooks.slack.com/services/x", frozenset()) is None


@pytest.mark.parametrize(
    "host",
    ["127.1", "2130706433", "0x7f.0.0.1", "0177.0.0.1", "10.1.65535", "1.2.3.4", "0", "0x", "08", "1.2.3.4.5",
     "256.1", "1.16777216", "example.com", "a.b", "1..2", "4294967296", "0xffffffff", "127.0.0.1 x", ""],
)  # fmt: skip
def test_ipv4_shorthands_read_as_the_c_resolver_reads_them(host: str) -> None:
    try:
        expected: str | None = str(ipaddress.IPv4Address(socket.inet_aton(host)))
    except OSError:
        expected = None
    if host == "127.0.0.1 x":  # glibc ignores what follows a space; a URL's host has none
        expected = None
    assert address_of_host(host) == expected


class FixedAnswers(AbstractResolver):
    """A DNS that answers every name with the same addresses."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=a, port=port, family=family, proto=0, flags=0)
            for a in self.addresses
        ]

    async def close(self) -> None:
        return None


async def test_the_resolver_keeps_only_public_addresses_and_fails_when_none_is_left() -> None:
    mixed = PublicAddressResolver(frozenset(), FixedAnswers("10.0.0.7", "34.120.1.1"))
    assert [r["host"] for r in await mixed.resolve("hooks.example.com", 443)] == ["34.120.1.1"]

    rebound = PublicAddressResolver(frozenset(), FixedAnswers("169.254.169.254"))
    with pytest.raises(OSError, match="private, loopback, link-local or reserved"):
        await rebound.resolve("hooks.example.com", 443)

    local = PublicAddressResolver(frozenset({"receiver.local"}), FixedAnswers("10.0.0.7"))
    assert [r["host"] for r in await local.resolve("receiver.local", 80)] == ["10.0.0.7"]
