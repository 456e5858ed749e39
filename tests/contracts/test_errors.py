"""Revert data decoded into readable errors: Error(string), Panic(uint256), custom errors from
the ABIs, and data that fits none of them."""

from __future__ import annotations

import pytest
from eth_abi.abi import encode
from eth_tester.exceptions import TransactionFailed
from eth_utils.abi import function_signature_to_4byte_selector as selector
from web3.exceptions import ContractCustomError

from commerce.chain.artifacts import all_abis
from commerce.chain.errors import ChainRevert, decode_revert, error_selectors, revert_data

ABIS = all_abis()


def test_error_string() -> None:
    err = decode_revert(selector("Error(string)") + encode(["string"], ["not enough gold"]), ABIS)
    assert (err.error, err.args, err.message) == ("Error", ("not enough gold",), "not enough gold")
    assert str(err) == "not enough gold" and err.arguments == {"message": "not enough gold"}


@pytest.mark.parametrize(("code", "text"), [(0x01, "panic 0x01: an assertion failed"),
                                            (0x11, "panic 0x11: an arithmetic operation overflowed or underflowed"),
                                            (0x32, "panic 0x32: an array index out of bounds"),
                                            (0x99, "panic 0x99: an unknown panic")])
def test_panic(code: int, text: str) -> None:
    err = decode_revert(selector("Panic(uint256)") + encode(["uint256"], [code]), ABIS)
    assert (err.error, err.args, err.message) == ("Panic", (code,), text)


def test_a_custom_error_of_either_contract() -> None:
    err = decode_revert(selector("ShareTooHigh(uint16)") + encode(["uint16"], [12000]), ABIS)
    assert err.error == "ShareTooHigh" and err.args == (12000,)
    assert err.message == "a royalty share of 12000 basis points is over 10000"
    err = decode_revert(selector("UniqueTokenSupply(uint256)") + encode(["uint256"], [5]), ABIS)
    assert err.message == "token 5 is a unique item: its supply can only be one"


def test_a_custom_error_without_a_sentence_reads_as_its_signature() -> None:
    data = selector("ERC2981InvalidDefaultRoyalty(uint256,uint256)") + encode(["uint256", "uint256"], [1, 2])
    assert decode_revert(data, ABIS).message == "ERC2981InvalidDefaultRoyalty(numerator=1, denominator=2)"


def test_one_abi_or_a_flat_list_of_entries_both_work() -> None:
    data = selector("UnknownWork(uint256)") + encode(["uint256"], [4])
    assert decode_revert(data, ABIS[1]).message == "there is no work 4"
    assert decode_revert(data, [e for abi in ABIS for e in abi]).message == "there is no work 4"
    assert decode_revert(data, ABIS[0]).error == "unknown"  # the items ABI has no such error


def test_every_custom_error_of_our_contracts_is_known() -> None:
    names = {entry["name"] for entry in error_selectors(ABIS).values()}
    assert {"NotCreator", "InvalidPeriod", "UniqueTokenSupply", "AccessControlUnauthorizedAccount",
            "EnforcedPause", "ERC1155InsufficientBalance"} <= names


def test_data_that_fits_nothing() -> None:
    assert decode_revert(b"", ABIS).message == "the transaction reverted without a reason"
    unknown = decode_revert(bytes.fromhex("deadbeef") + b"\x00" * 32, ABIS)
    assert unknown.error == "unknown" and unknown.message == "reverted with an unknown error 0xdeadbeef"
    short = decode_revert(selector("InvalidPeriod(uint64,uint64)") + b"\x01", ABIS)
    assert short.error == "undecodable" and short.message.startswith("reverted with undecodable data 0x")
    assert isinstance(short, ChainRevert)


def test_revert_data_from_the_exceptions_that_carry_it() -> None:
    raw = selector("UnknownLicence(uint256)") + encode(["uint256"], [2])
    assert revert_data(TransactionFailed(raw)) == raw
    assert revert_data(ContractCustomError("0x" + raw.hex(), data="0x" + raw.hex())) == raw
    try:
        try:
            raise TransactionFailed(raw)
        except TransactionFailed as inner:
            raise TransactionFailed(f"execution reverted: {inner.args[0]!r}") from None
    except TransactionFailed as outer:
        assert revert_data(outer) == raw  # found on the context the provider's wrapper hides it in
    assert revert_data(ValueError("nothing here")) is None


def test_revert_data_written_as_a_bytes_literal() -> None:
    # eth-tester's provider answers a reverted eth_call with repr(bytes) as the error message.
    raw = selector("UnknownWork(uint256)") + encode(["uint256"], [999_999])
    assert revert_data(ContractCustomError(repr(raw))) == raw
    assert revert_data(TransactionFailed(f"execution reverted: {raw!r}")) == raw
    assert revert_data(ValueError("b'unterminated")) is None
    assert revert_data(ValueError("0xnothex")) is None
