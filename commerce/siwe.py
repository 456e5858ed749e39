"""Sign-In with Ethereum (EIP-4361) messages: a strict parser of the ABNF and its renderer. No I/O.

The message, as the ABNF has it (``%s"..."`` is case-sensitive, ``LF`` is a line feed and
nothing else: a carriage return anywhere is refused)::

    [ scheme "://" ] domain %s" wants you to sign in with your Ethereum account:" LF
    address LF
    LF
    [ statement LF ]
    LF
    %s"URI: " uri LF
    %s"Version: " version LF
    %s"Chain ID: " chain-id LF
    %s"Nonce: " nonce LF
    %s"Issued At: " issued-at
    [ LF %s"Expiration Time: " expiration-time ]
    [ LF %s"Not Before: " not-before ]
    [ LF %s"Request ID: " request-id ]
    [ LF %s"Resources:" *( LF "- " URI ) ]

``domain`` is an RFC 3986 authority, ``uri`` and each resource an RFC 3986 URI, ``address``
``0x`` and 40 hex digits in their EIP-55 checksum case, ``statement`` (when present) one line
of RFC 3986 reserved and unreserved characters and spaces, ``version`` ``1``, ``chain-id``
decimal digits, ``nonce`` at least 8 letters or digits, the times RFC 3339 ``date-time``,
``request-id`` RFC 3986 ``pchar``. Without a statement the address is followed by two empty
lines. :func:`parse` raises :class:`MessageError` naming the first line that breaks the
grammar; :func:`render` writes a :class:`SiweMessage` back, and ``parse(render(m)) == m``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from eth_utils.address import is_checksum_address, to_checksum_address

PREAMBLE = " wants you to sign in with your Ethereum account:"
MAX_MESSAGE_CHARS = 8192
MAX_RESOURCES = 32

# RFC 3986, section by section.
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
_SCHEME = r"[A-Za-z][A-Za-z0-9+\-.]*"
_USERINFO = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*"
_REG_NAME = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*"
_IP_LITERAL = r"\[[^\[\]/?#@]*\]"  # its inside is checked by _ip_literal_ok
_AUTHORITY = re.compile(rf"(?:(?P<userinfo>{_USERINFO})@)?(?P<host>{_IP_LITERAL}|{_REG_NAME})(?::(?P<port>[0-9]*))?")
_SEGMENT = rf"{_PCHAR}*"
_SEGMENT_NZ = rf"{_PCHAR}+"
_QUERY = rf"(?:{_PCHAR}|[/?])*"
_URI = re.compile(
    rf"(?P<scheme>{_SCHEME}):"
    rf"(?:"
    rf"//(?P<authority>[^/?#]*)(?:/{_SEGMENT})*"  # "//" authority path-abempty
    rf"|/(?:{_SEGMENT_NZ}(?:/{_SEGMENT})*)?"  # path-absolute
    rf"|{_SEGMENT_NZ}(?:/{_SEGMENT})*"  # path-rootless
    rf"|"  # path-empty
    rf")(?:\?{_QUERY})?(?:#{_QUERY})?")
_IPV_FUTURE = re.compile(rf"[vV][0-9A-Fa-f]+\.[{_UNRESERVED}{_SUB_DELIMS}:]+")
# RFC 3339 date-time; "T" and "Z" may be lower case (RFC 3339 section 5.6).
_DATE_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))")
_STATEMENT = re.compile(rf"[{_UNRESERVED}:/?#\[\]@{_SUB_DELIMS} ]+")
ADDRESS = r"0x[0-9A-Fa-f]{40}"
_ADDRESS = re.compile(ADDRESS)
_NONCE = re.compile(r"[A-Za-z0-9]{8,}")
_CHAIN_ID = re.compile(r"[0-9]+")
_REQUEST_ID = re.compile(rf"{_PCHAR}*")
_HEADER = re.compile(rf"(?:(?P<scheme>{_SCHEME})://)?(?P<domain>.*){re.escape(PREAMBLE)}")


class MessageError(ValueError):
    """The text is not an EIP-4361 message; ``line`` is the 1-based line that breaks the grammar."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class SiweMessage:
    domain: str
    address: str  # EIP-55 checksum case
    uri: str
    chain_id: int
    nonce: str
    issued_at: datetime
    version: str = "1"
    scheme: str | None = None
    statement: str | None = None
    expiration_time: datetime | None = None
    not_before: datetime | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = ()


def _ip_literal_ok(host: str) -> bool:
    inside = host[1:-1]
    if _IPV_FUTURE.fullmatch(inside):
        return True
    try:
        ipaddress.IPv6Address(inside)
    except ValueError:
        return False
    return "%" not in inside  # RFC 3986 has no zone identifiers


def is_authority(text: str) -> bool:
    """``text`` is an RFC 3986 authority: ``[ userinfo "@" ] host [ ":" port ]``."""
    match = _AUTHORITY.fullmatch(text)
    if match is None:
        return False
    host = match.group("host")
    return not host.startswith("[") or _ip_literal_ok(host)


def is_uri(text: str) -> bool:
    """``text`` is an RFC 3986 URI (absolute, with a scheme; a fragment allowed)."""
    match = _URI.fullmatch(text)
    if match is None:
        return False
    authority = match.group("authority")
    return authority is None or is_authority(authority)


def address_problem(value: object) -> str | None:
    """Why a ``0x`` address in mixed case is not in its EIP-55 checksum case, or None (all one case is fine)."""
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
        return None
    digits = value[2:]
    if digits.lower() == digits or digits.upper() == digits or is_checksum_address(value):
        return None
    return f"is not in its EIP-55 checksum case ({to_checksum_address(value)})"


def parse_time(text: str) -> datetime:
    """An RFC 3339 ``date-time`` as an aware datetime; fractions past microseconds are cut."""
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise ValueError("is not an RFC 3339 date-time (such as 2026-01-31T12:00:00Z)")
    year, month, day, hour, minute, second = (int(match.group(n)) for n in range(1, 7))
    fraction = match.group(7) or ""
    micro = int((fraction + "000000")[:6])
    if match.group(8):
        zone = UTC
    else:
        sign = 1 if match.group(9) == "+" else -1
        off_h, off_m = int(match.group(10)), int(match.group(11))
        if off_h > 23 or off_m > 59:
            raise ValueError("has an offset out of range")
        zone = timezone(sign * timedelta(hours=off_h, minutes=off_m))
    if second == 60:
        raise ValueError("is a leap second, which cannot be checked against a clock")
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
    except ValueError as exc:
        raise ValueError(f"is not a real date and time ({exc})") from None


def format_time(at: datetime) -> str:
    """An aware datetime in RFC 3339, UTC, with milliseconds when it has any (``...T12:00:00.250Z``)."""
    utc = at.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


class _Lines:
    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        self.at = 0

    def has_more(self) -> bool:
        return self.at < len(self.lines)

    def peek(self) -> str | None:
        return self.lines[self.at] if self.at < len(self.lines) else None

    def take(self, what: str) -> str:
        if self.at >= len(self.lines):
            raise MessageError(self.at + 1, f"the message ends where {what} was expected")
        self.at += 1
        return self.lines[self.at - 1]

    def tagged(self, tag: str, what: str) -> str:
        line = self.take(what)
        if not line.startswith(tag):
            raise MessageError(self.at, f"expected {tag.strip()!r} here")
        return line[len(tag):]

    def fail(self, reason: str) -> MessageError:
        return MessageError(self.at, reason)


def _time_field(lines: _Lines, value: str, name: str) -> datetime:
    try:
        return parse_time(value)
    except ValueError as exc:
        raise lines.fail(f"{name} {exc}") from None


def parse(text: str) -> SiweMessage:
    """The message ``text`` holds, or :class:`MessageError` naming the first line that breaks the grammar."""
    if len(text) > MAX_MESSAGE_CHARS:
        raise MessageError(1, f"the message is longer than {MAX_MESSAGE_CHARS} characters")
    if "\r" in text:
        raise MessageError(text[:text.index("\r")].count("\n") + 1, "lines end with LF alone, never CR")
    lines = _Lines(text)
    header = _HEADER.fullmatch(lines.take("the header"))
    if header is None:
        raise lines.fail(f"the first line must be the domain followed by {PREAMBLE!r}")
    domain = header.group("domain")
    if not is_authority(domain) or not domain:
        raise lines.fail("the domain is not an RFC 3986 authority (host, and an optional port)")
    address = lines.take("the address")
    if not _ADDRESS.fullmatch(address):
        raise lines.fail("the address must be 0x and 40 hex digits")
    if not is_checksum_address(address):
        raise lines.fail(f"the address is not in its EIP-55 checksum case ({to_checksum_address(address)})")
    if lines.take("an empty line") != "":
        raise lines.fail("an empty line must follow the address")
    statement: str | None = lines.take("a statement or an empty line")
    if statement:
        if statement.startswith("URI: "):
            raise lines.fail("without a statement, two empty lines separate the address from the URI")
        if not _STATEMENT.fullmatch(statement):
            raise lines.fail("the statement holds a character outside RFC 3986's reserved and unreserved ones")
        if lines.take("an empty line") != "":
            raise lines.fail("an empty line must follow the statement")
    else:
        statement = None
    uri = lines.tagged("URI: ", "the URI")
    if not is_uri(uri):
        raise lines.fail("the URI is not an RFC 3986 URI")
    if lines.tagged("Version: ", "the version") != "1":
        raise lines.fail("the version must be 1")
    chain = lines.tagged("Chain ID: ", "the chain id")
    if not _CHAIN_ID.fullmatch(chain) or len(chain) > 78:
        raise lines.fail("the chain id must be decimal digits")
    nonce = lines.tagged("Nonce: ", "the nonce")
    if not _NONCE.fullmatch(nonce):
        raise lines.fail("the nonce must be at least 8 letters or digits")
    issued_at = _time_field(lines, lines.tagged("Issued At: ", "the issue time"), "Issued At")
    fields: dict[str, datetime | str | None] = {"expiration_time": None, "not_before": None, "request_id": None}
    for tag, key in (("Expiration Time: ", "expiration_time"), ("Not Before: ", "not_before"),
                     ("Request ID: ", "request_id")):
        line = lines.peek()
        if line is not None and line.startswith(tag):
            value = lines.take(tag)[len(tag):]
            if key == "request_id":
                if not _REQUEST_ID.fullmatch(value):
                    raise lines.fail("the request id holds a character outside RFC 3986's pchar")
                fields[key] = value
            else:
                fields[key] = _time_field(lines, value, tag.rstrip(": "))
    resources: list[str] = []
    if lines.peek() == "Resources:":
        lines.take("Resources:")
        while lines.has_more():
            line = lines.take("a resource")
            if not line.startswith("- ") or not is_uri(line[2:]):
                raise lines.fail("a resource must be '- ' and an RFC 3986 URI")
            resources.append(line[2:])
            if len(resources) > MAX_RESOURCES:
                raise lines.fail(f"more than {MAX_RESOURCES} resources")
    if lines.has_more():
        lines.take("")
        raise lines.fail("unexpected text: the fields are out of order, repeated or unknown")
    expiration, not_before, request_id = fields["expiration_time"], fields["not_before"], fields["request_id"]
    assert expiration is None or isinstance(expiration, datetime)
    assert not_before is None or isinstance(not_before, datetime)
    assert request_id is None or isinstance(request_id, str)
    return SiweMessage(domain=domain, address=address, uri=uri, chain_id=int(chain), nonce=nonce,
                       issued_at=issued_at, scheme=header.group("scheme"), statement=statement,
                       expiration_time=expiration, not_before=not_before, request_id=request_id,
                       resources=tuple(resources))


def render(m: SiweMessage) -> str:
    """The text of ``m``, to sign with ``personal_sign`` (EIP-191)."""
    head = f"{m.scheme}://{m.domain}" if m.scheme else m.domain
    out = [head + PREAMBLE, m.address, ""]
    if m.statement:
        out.append(m.statement)
    out += ["", f"URI: {m.uri}", f"Version: {m.version}", f"Chain ID: {m.chain_id}", f"Nonce: {m.nonce}",
            f"Issued At: {format_time(m.issued_at)}"]
    if m.expiration_time is not None:
        out.append(f"Expiration Time: {format_time(m.expiration_time)}")
    if m.not_before is not None:
        out.append(f"Not Before: {format_time(m.not_before)}")
    if m.request_id is not None:
        out.append(f"Request ID: {m.request_id}")
    if m.resources:
        out.append("Resources:")
        out += [f"- {r}" for r in m.resources]
    return "\n".join(out)
