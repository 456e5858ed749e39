"""The strict EIP-4361 parser and renderer (commerce/siwe.py), driven without sockets or databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from commerce import siwe

ADDRESS = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
AT = datetime(2026, 12, 2, 7, 30, tzinfo=UTC)
FULL = (
    "https://service.org wants you to sign in with your Ethereum account:\n"
    f"{ADDRESS}\n"
    "\n"
    "I accept the ServiceOrg Terms of Service: https://service.org/tos\n"
    "\n"
    "URI: https://service.org/login\n"
    "Version: 1\n"
    "Chain ID: 1\n"
    "Nonce: 32891756\n"
    "Issued At: 2021-09-30T16:25:24Z\n"
    "Expiration Time: 2021-09-30T16:35:24.5Z\n"
    "Not Before: 2021-09-30T16:20:24Z\n"
    "Request ID: some_id-1\n"
    "Resources:\n"
    "- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/\n"
    "- https://example.com/my-web2-claim.json")
MINIMAL = (
    "service.org wants you to sign in with your Ethereum account:\n"
    f"{ADDRESS}\n"
    "\n"
    "\n"
    "URI: https://service.org/login\n"
    "Version: 1\n"
    "Chain ID: 131277322940537\n"
    "Nonce: abcdefgh\n"
    "Issued At: 2021-09-30T16:25:24+02:00")


def _with(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def test_a_full_message_parses_field_by_field() -> None:
    m = siwe.parse(FULL)
    assert (m.scheme, m.domain, m.address, m.chain_id, m.nonce) == ("https", "service.org", ADDRESS, 1, "32891756")
    assert m.statement == "I accept the ServiceOrg Terms of Service: https://service.org/tos"
    assert m.uri == "https://service.org/login" and m.version == "1"
    assert m.issued_at == datetime(2021, 9, 30, 16, 25, 24, tzinfo=UTC)
    assert m.expiration_time == datetime(2021, 9, 30, 16, 35, 24, 500000, tzinfo=UTC)
    assert m.not_before == datetime(2021, 9, 30, 16, 20, 24, tzinfo=UTC)
    assert m.request_id == "some_id-1"
    assert m.resources == ("ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
                           "https://example.com/my-web2-claim.json")
    assert siwe.render(m) == FULL


def test_a_message_without_statement_has_two_empty_lines_and_keeps_its_offset() -> None:
    m = siwe.parse(MINIMAL)
    assert m.statement is None and m.scheme is None and m.resources == () and m.expiration_time is None
    assert m.issued_at == datetime(2021, 9, 30, 14, 25, 24, tzinfo=UTC)
    assert m.issued_at.utcoffset() == timedelta(hours=2)
    assert siwe.parse(siwe.render(m)) == m


def test_render_then_parse_gives_the_same_message() -> None:
    m = siwe.SiweMessage(domain="localhost:7380", address=ADDRESS, uri="https://localhost:7380/", chain_id=5,
                         nonce="0123456789abcdef", issued_at=AT, statement="Link this wallet.",
                         expiration_time=AT + timedelta(minutes=5), resources=("urn:elysium:items",))
    text = siwe.render(m)
    assert text.startswith("localhost:7380 wants you to sign in with your Ethereum account:\n" + ADDRESS + "\n\n")
    assert "Issued At: 2026-12-02T07:30:00Z\nExpiration Time: 2026-12-02T07:35:00Z\nResources:\n" in text
    assert siwe.parse(text) == m


@pytest.mark.parametrize("text, line, reason", [
    ("", 1, "the first line"),
    (_with(FULL, " wants you", " want you"), 1, "the first line"),
    (_with(MINIMAL, "service.org wants", "serv ice.org wants"), 1, "authority"),
    (_with(MINIMAL, "service.org wants", " wants"), 1, "authority"),
    (_with(MINIMAL, ADDRESS, ADDRESS.lower()[:-1]), 2, "40 hex digits"),
    (_with(MINIMAL, ADDRESS, ADDRESS.replace("C02", "c02")), 2, "EIP-55"),
    (_with(MINIMAL, ADDRESS, ADDRESS.lower()), 2, "EIP-55"),
    (_with(MINIMAL, f"{ADDRESS}\n\n\n", f"{ADDRESS}\n\n"), 4, "two empty lines"),
    (_with(FULL, "Terms of Service:", "Terms of Service %"), 4, "statement"),
    (_with(FULL, "Terms of Service:", "Terms of \"Service\":"), 4, "statement"),
    (_with(FULL, "/tos\n\n", "/tos\n"), 5, "empty line"),
    (_with(MINIMAL, "URI: https://service.org/login", "URI: not a uri"), 5, "RFC 3986 URI"),
    (_with(MINIMAL, "URI: https://service.org/login", "URI: https://exa mple.org/"), 5, "RFC 3986 URI"),
    (_with(MINIMAL, "URI: https://service.org/login", "URI: https://[::zz]/"), 5, "RFC 3986 URI"),
    (_with(MINIMAL, "URI: ", "Uri: "), 5, "'URI:'"),
    (_with(MINIMAL, "Version: 1", "Version: 2"), 6, "version must be 1"),
    (_with(MINIMAL, "Chain ID: 131277322940537", "Chain ID: 0x1"), 7, "decimal"),
    (_with(MINIMAL, "Chain ID: 131277322940537", "Chain ID: "), 7, "decimal"),
    (_with(MINIMAL, "Nonce: abcdefgh", "Nonce: abcdefg"), 8, "at least 8"),
    (_with(MINIMAL, "Nonce: abcdefgh", "Nonce: abcdefgh!"), 8, "at least 8"),
    (_with(MINIMAL, "+02:00", ""), 9, "RFC 3339"),
    (_with(MINIMAL, "2021-09-30T16:25:24", "2021-02-30T16:25:24"), 9, "real date"),
    (_with(MINIMAL, "16:25:24", "16:25:60"), 9, "leap second"),
    (_with(MINIMAL, "+02:00", "+24:00"), 9, "offset"),
    (MINIMAL + "\n", 10, "unexpected"),
    (MINIMAL + "\nNot Before: 2021-09-30T16:25:24Z\nExpiration Time: 2021-09-30T16:25:24Z", 11, "unexpected"),
    (MINIMAL + "\nExpiration Time: 2021-09-30T16:25:24Z\nExpiration Time: 2021-09-30T16:25:24Z", 11, "unexpected"),
    (MINIMAL + "\nExpiration Time: soon", 10, "Expiration Time is not an RFC 3339"),
    (MINIMAL + "\nRequest ID: a b", 10, "pchar"),
    (MINIMAL + "\nResources:\n-https://example.com", 11, "resource"),
    (MINIMAL + "\nResources:\n- not a uri", 11, "resource"),
    (MINIMAL + "\nSomething: else", 10, "unexpected"),
    (MINIMAL.replace("\n", "\r\n"), 1, "CR"),
    (MINIMAL[:MINIMAL.index("\nNonce")], 8, "ends"),
])
def test_anything_off_the_grammar_is_refused_naming_its_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(siwe.MessageError) as caught:
        siwe.parse(text)
    assert caught.value.line == line, caught.value
    assert reason in str(caught.value)


def test_oversized_messages_and_resource_lists_are_refused() -> None:
    with pytest.raises(siwe.MessageError, match="longer than"):
        siwe.parse(MINIMAL + "\nRequest ID: " + "a" * siwe.MAX_MESSAGE_CHARS)
    many = MINIMAL + "\nResources:" + "".join(f"\n- https://example.com/{n}" for n in range(siwe.MAX_RESOURCES + 1))
    with pytest.raises(siwe.MessageError, match="more than"):
        siwe.parse(many)


@pytest.mark.parametrize("authority, ok", [
    ("example.com", True), ("localhost:8080", True), ("127.0.0.1:3000", True), ("[::1]:80", True),
    ("user:pw@example.com", True), ("[v1.fe]", True), ("exa%41mple.com", True), ("", True),
    ("exa mple.com", False), ("[::1", False), ("[fe80::1%25eth0]", False), ("host:port", False),
    ("a/b", False), ("exa%4mple.com", False),
])
def test_authorities_follow_rfc_3986(authority: str, ok: bool) -> None:
    assert siwe.is_authority(authority) is ok


@pytest.mark.parametrize("uri, ok", [
    ("https://example.com", True), ("https://example.com/a/b?c=d#e", True), ("urn:elysium:items", True),
    ("mailto:a@example.com", True), ("did:pkh:eip155:1:0xabc", True), ("file:///etc/x", True), ("a:", True),
    ("example.com", False), ("1http://x", False), ("https://exa mple.com", False), ("https://x/%zz", False),
    ("https://x/a b", False), ("https://x/\u00e9", False),
])
def test_uris_follow_rfc_3986(uri: str, ok: bool) -> None:
    assert siwe.is_uri(uri) is ok


def test_times_are_rfc_3339_and_format_back_in_utc() -> None:
    assert siwe.parse_time("2026-12-02t07:30:00.123456789z") == AT.replace(microsecond=123456)
    assert siwe.parse_time("2026-12-02T08:30:00+01:00") == AT
    assert siwe.parse_time("2026-12-02T08:30:00+01:00").tzinfo == timezone(timedelta(hours=1))
    assert siwe.format_time(AT) == "2026-12-02T07:30:00Z"
    assert siwe.format_time(AT.replace(microsecond=250000)) == "2026-12-02T07:30:00.25Z"
    for bad in ("2026-12-02 07:30:00Z", "2026-12-02T07:30Z", "2026-12-02T07:30:00", "26-12-02T07:30:00Z"):
        with pytest.raises(ValueError):
            siwe.parse_time(bad)


def test_mixed_case_addresses_must_be_checksummed() -> None:
    assert siwe.address_problem(ADDRESS) is None
    assert siwe.address_problem(ADDRESS.lower()) is None
    assert siwe.address_problem("0x" + ADDRESS[2:].upper()) is None
    problem = siwe.address_problem(ADDRESS.replace("C02", "c02"))
    assert problem is not None and ADDRESS in problem
