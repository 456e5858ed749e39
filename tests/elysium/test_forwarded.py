from __future__ import annotations

import pytest

from elysium.forwarded import client_address, parse_networks

LOCAL = parse_networks("127.0.0.1/32, 10.0.0.0/8")


def test_with_no_trusted_proxy_the_peer_is_the_client_whatever_the_header_says() -> None:
    assert client_address("203.0.113.9", "198.51.100.1", ()) == "203.0.113.9"


def test_behind_a_trusted_proxy_the_forwarded_client_counts() -> None:
    assert client_address("127.0.0.1", "198.51.100.7", LOCAL) == "198.51.100.7"


def test_addresses_a_client_wrote_itself_left_of_the_real_one_prove_nothing() -> None:
    # The client sent "X-Forwarded-For: 1.2.3.4"; the gateway appended the address it saw.
    assert client_address("127.0.0.1", "1.2.3.4, 198.51.100.7", LOCAL) == "198.51.100.7"


def test_every_trusted_hop_is_passed() -> None:
    assert client_address("10.1.2.3", "198.51.100.7, 10.9.9.9", LOCAL) == "198.51.100.7"


def test_a_peer_that_is_not_trusted_is_the_client_even_with_the_header() -> None:
    assert client_address("203.0.113.9", "198.51.100.7", LOCAL) == "203.0.113.9"


def test_missing_peer() -> None:
    assert client_address(None, None, LOCAL) == "unknown"


def test_bad_network_is_named() -> None:
    with pytest.raises(ValueError, match="'10.0.0.0/33'"):
        parse_networks("127.0.0.1, 10.0.0.0/33")
