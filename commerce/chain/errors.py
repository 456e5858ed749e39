"""Revert data from the chain turned into readable errors.

A reverted call returns bytes: a 4-byte selector and ABI-encoded arguments. They are one of
`Error(string)` (a `require` with a message), `Panic(uint256)` (an assertion, an overflow, an
index out of bounds) or a custom error declared in a contract's ABI. `decode_revert` names it,
decodes its arguments and writes a sentence a player or an operator can read.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from eth_abi.abi import decode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

ERROR_STRING_SELECTOR = function_signature_to_4byte_selector("Error(string)")
PANIC_SELECTOR = function_signature_to_4byte_selector("Panic(uint256)")

# Solidity's panic codes (the language reference, "Panic via assert and error via require").
PANIC_REASONS = {
    0x00: "a generic compiler panic",
    0x01: "an assertion failed",
    0x11: "an arithmetic operation overflowed or underflowed",
    0x12: "division or modulo by zero",
    0x21: "a value out of an enum's range",
    0x22: "a storage byte array is incorrectly encoded",
    0x31: "pop() on an empty array",
    0x32: "an array index out of bounds",
    0x41: "too much memory allocated",
    0x51: "a call to an uninitialised function",
}

ROLE_NAMES = {"0x" + "00" * 32: "DEFAULT_ADMIN_ROLE"} | {
    "0x" + keccak(text=name).hex().removeprefix("0x"): name
    for name in ("MINTER_ROLE", "PAUSER_ROLE", "REGISTRAR_ROLE")
}

# Sentences for the errors a caller of our contracts meets; other errors read as Name(arg=value).
_MESSAGES = {
    "AccessControlUnauthorizedAccount": "{account} does not hold {neededRole}",
    "EnforcedPause": "the contract is paused",
    "ExpectedPause": "the contract is not paused",
    "ERC1155InsufficientBalance": "{sender} holds {balance} of token {tokenId}, fewer than {needed}",
    "ERC1155MissingApprovalForAll": "{operator} is not approved to move tokens of {owner}",
    "ERC1155InvalidReceiver": "{receiver} cannot receive ERC-1155 tokens",
    "ERC1155InvalidArrayLength": "{idsLength} token ids but {valuesLength} amounts",
    "UniqueTokenSupply": "token {id} is a unique item: its supply can only be one",
    "UnknownWork": "there is no work {work}",
    "UnknownLicence": "there is no licence {licence}",
    "NotCreator": "{caller} is neither the creator of work {work} nor a registrar",
    "ZeroAddress": "the zero address is not allowed",
    "EmptyContentHash": "the content hash is empty",
    "ContentAlreadyRegistered": "content {contentHash} is already registered as work {work}",
    "TokenAlreadyLinked": "token {tokenId} is already linked to work {work}",
    "InvalidPeriod": "the licence expires ({expiry}) before or when it starts ({start})",
    "ShareTooHigh": "a royalty share of {shareBps} basis points is over 10000",
    "TooManyLicences": "work {work} has the most licences a work may have",
    "LicenceAlreadyRevoked": "licence {licence} is already revoked",
}


class ChainRevert(Exception):
    """A transaction or call reverted; `error` names the error, `args` holds its arguments."""

    def __init__(self, error: str, args: tuple[Any, ...], message: str, data: bytes = b"",
                 names: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.error = error
        self.args = args
        self.message = message
        self.data = data
        self.arguments = dict(zip(names, args))

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"ChainRevert({self.error!r}, {self.message!r})"


def _entries(abi_list: Iterable[Any]) -> Iterable[Mapping[str, Any]]:
    """ABI entries from one ABI (a list of entries) or several (a list of lists)."""
    for item in abi_list:
        if isinstance(item, Mapping):
            yield item
        elif isinstance(item, Sequence) and not isinstance(item, (str, bytes)):
            yield from _entries(item)


def _type_of(param: Mapping[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        return "(" + ",".join(_type_of(c) for c in param["components"]) + ")" + kind[len("tuple"):]
    return kind


def error_selectors(abi_list: Iterable[Any]) -> dict[bytes, Mapping[str, Any]]:
    """Every custom error of the ABIs by its 4-byte selector."""
    found: dict[bytes, Mapping[str, Any]] = {}
    for entry in _entries(abi_list):
        if entry.get("type") == "error":
            signature = f"{entry['name']}({','.join(_type_of(p) for p in entry.get('inputs', []))})"
            found[function_signature_to_4byte_selector(signature)] = entry
    return found


def _readable(value: Any, kind: str) -> str:
    if kind == "address":
        return to_checksum_address(value)
    if kind == "bytes32" and isinstance(value, bytes):
        text = "0x" + value.hex()
        return ROLE_NAMES.get(text, text)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


def decode_revert(data: bytes, abi_list: Iterable[Any]) -> ChainRevert:
    """The error that `data` (a revert's return data) encodes, decoded against the ABIs."""
    data = bytes(data)
    if not data:
        return ChainRevert("", (), "the transaction reverted without a reason", data)
    selector, body = data[:4], data[4:]
    try:
        if selector == ERROR_STRING_SELECTOR:
            (reason,) = decode(["string"], body)
            return ChainRevert("Error", (reason,), str(reason), data, ("message",))
        if selector == PANIC_SELECTOR:
            (code,) = decode(["uint256"], body)
            why = PANIC_REASONS.get(code, "an unknown panic")
            return ChainRevert("Panic", (code,), f"panic 0x{code:02x}: {why}", data, ("code",))
        entry = error_selectors(abi_list).get(selector)
        if entry is not None:
            params = list(entry.get("inputs", []))
            values = tuple(to_checksum_address(v) if p["type"] == "address" else v
                           for v, p in zip(decode([_type_of(p) for p in params], body), params))
            names = tuple(str(p.get("name") or f"arg{i}") for i, p in enumerate(params))
            shown = {n: _readable(v, str(p["type"])) for n, v, p in zip(names, values, params)}
            template = _MESSAGES.get(entry["name"])
            message = (template.format(**shown) if template is not None
                       else f"{entry['name']}({', '.join(f'{k}={v}' for k, v in shown.items())})")
            return ChainRevert(str(entry["name"]), values, message, data, names)
    except (DecodingError, KeyError, IndexError) as exc:
        return ChainRevert("undecodable", (), f"reverted with undecodable data 0x{data.hex()} ({exc})", data)
    return ChainRevert("unknown", (), f"reverted with an unknown error 0x{selector.hex()}", data)


def _bytes_in_text(text: str) -> bytes | None:
    """Revert bytes written as 0x hex, or as a Python bytes literal (eth-tester's provider puts
    ``repr(bytes)`` in its error messages, after an optional ``execution reverted:``)."""
    text = text.removeprefix("execution reverted: ").strip()
    if text.startswith("0x"):
        try:
            return bytes.fromhex(text[2:])
        except ValueError:
            return None
    if len(text) >= 3 and text[0] == "b" and text[1] in "'\"" and text[-1] == text[1]:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return None
        return value if isinstance(value, bytes) else None
    return None


def revert_data(exc: BaseException) -> bytes | None:
    """The raw revert bytes an exception from eth-tester or web3 carries, None when it carries none.

    eth-tester raises `TransactionFailed(bytes)`; web3 raises `ContractLogicError` (and its
    `ContractCustomError` and `ContractPanicError`) with the data as a hex string, or, through
    eth-tester's provider, with the bytes' repr as its message; the causes and contexts of an
    exception are searched too.
    """
    for candidate in (getattr(exc, "data", None), *exc.args[:1]):
        if isinstance(candidate, (bytes, bytearray)):
            return bytes(candidate)
        if isinstance(candidate, str):
            found = _bytes_in_text(candidate)
            if found is not None:
                return found
    # web3's eth-tester provider raises a new TransactionFailed with the bytes' repr in its
    # message while handling eth-tester's own, which carries the bytes.
    for inner in (exc.__cause__, exc.__context__):
        if inner is not None:
            found = revert_data(inner)
            if found is not None:
                return found
    return None
