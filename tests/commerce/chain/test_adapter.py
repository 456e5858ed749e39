"""The chain adapter: one suite over both backends (eth-tester in process, JSON-RPC to ``elysium chain``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from eth_account import Account
from web3 import AsyncHTTPProvider, AsyncWeb3

from commerce.chain.adapter import Chain, ChainUnavailable, read_key
from commerce.chain.deploy import deploy
from commerce.chain.errors import ChainRevert
from elysium import procs
from elysium.config import ConfigError
from tests.commerce.chain.chains import ChainProcess

PLAYER = Account.create().address


@pytest.fixture(params=["in_process", "json_rpc"])
async def chain(request: pytest.FixtureRequest, chain_process: ChainProcess) -> AsyncIterator[Chain]:
    if request.param == "in_process":
        c = Chain.in_process()
        await deploy(c)
    else:
        d = chain_process.deployment()
        c = await Chain.connect(chain_process.url, str(chain_process.files.key), int(str(d["chain_id"])),
                                str(d["items"]), str(d["rights"]), timeout_s=10.0, receipt_timeout_s=30.0, poll_s=0.02)
    yield c
    if await c.items.functions.paused().call():
        await c.transact(c.items.functions.unpause())
    await c.close()


async def test_transact_mints_and_the_receipt_is_confirmed(chain: Chain) -> None:
    before = await chain.items.functions.balanceOf(PLAYER, 7).call()
    receipt = await chain.transact(chain.items.functions.mint(PLAYER, 7, 3, b""))
    assert receipt["status"] == 1
    assert await chain.items.functions.balanceOf(PLAYER, 7).call() == before + 3


async def test_a_refused_call_is_a_decoded_chain_revert_and_sends_nothing(chain: Chain) -> None:
    nonce = await chain.nonce()
    await chain.transact(chain.items.functions.pause())
    with pytest.raises(ChainRevert) as caught:
        await chain.transact(chain.items.functions.mint(PLAYER, 7, 1, b""))
    assert caught.value.error == "EnforcedPause"
    assert "paused" in caught.value.message
    assert await chain.nonce() == nonce + 1  # the pause only


async def test_concurrent_transactions_take_every_nonce_once(chain: Chain) -> None:
    start = await chain.nonce()
    receipts = await asyncio.gather(*(chain.transact(chain.items.functions.mint(PLAYER, 100 + n, 1, b""))
                                      for n in range(12)))
    assert all(r["status"] == 1 for r in receipts)
    assert await chain.nonce() == start + 12


async def test_a_nonce_taken_behind_the_adapters_back_is_read_again(chain: Chain) -> None:
    await chain.transact(chain.items.functions.mint(PLAYER, 9, 1, b""))
    # Another holder of the key (a second replica) uses the next nonce; this adapter's counter is stale.
    other = Chain(chain.w3, chain._account, chain.chain_id, chain.items.address, chain.rights.address)
    await other.transact(other.items.functions.mint(PLAYER, 9, 1, b""))
    receipt = await chain.transact(chain.items.functions.mint(PLAYER, 9, 1, b""))
    assert receipt["status"] == 1


async def test_before_send_sees_the_signed_transaction_first(chain: Chain) -> None:
    seen: list[str] = []

    async def record(signed: object) -> None:
        seen.append(signed.tx_hash)  # type: ignore[attr-defined]
        assert await chain.receipt(signed.tx_hash) is None  # type: ignore[attr-defined]

    receipt = await chain.transact(chain.items.functions.mint(PLAYER, 11, 1, b""), before_send=record)
    assert seen == [chain.w3.to_hex(receipt["transactionHash"])]


async def test_a_chain_that_is_down_is_chain_unavailable() -> None:
    port = procs.free_port()  # nothing listens there
    key = Account.create()
    c = Chain(AsyncWeb3(AsyncHTTPProvider(f"http://127.0.0.1:{port}")), key, 1, None, None, timeout_s=1.0)
    with pytest.raises(ChainUnavailable):
        await c.block_number()
    await c.close()


async def test_start_checks_the_chain_id(chain_process: ChainProcess) -> None:
    d = chain_process.deployment()
    with pytest.raises(ConfigError) as caught:
        await Chain.connect(chain_process.url, str(chain_process.files.key), 1, str(d["items"]), str(d["rights"]))
    assert caught.value.variable == "ELYSIUM_CHAIN_ID"


async def test_start_checks_the_contracts_are_there(chain_process: ChainProcess) -> None:
    d = chain_process.deployment()
    with pytest.raises(ConfigError) as caught:
        await Chain.connect(chain_process.url, str(chain_process.files.key), int(str(d["chain_id"])),
                            Account.create().address, str(d["rights"]))
    assert caught.value.variable == "ELYSIUM_CHAIN_ITEMS_ADDRESS"


@pytest.mark.parametrize("content", ["", "not a key", "0x1234", "zz" * 32, "\xff\xfe"])
def test_a_bad_key_file_is_one_config_error_that_does_not_show_the_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "custody.key"
    path.write_text(content, errors="surrogateescape")
    with pytest.raises(ConfigError) as caught:
        read_key(str(path))
    assert caught.value.variable == "ELYSIUM_CHAIN_KEY_FILE"
    assert (content not in str(caught.value)) or not content


def test_a_missing_key_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read_key(str(tmp_path / "absent.key"))
    assert "cannot read" in caught.value.problem


def test_a_good_key_file_reads() -> None:
    key = Account.create()
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".key") as f:
        f.write(key.key.hex() + "\n")
        f.flush()
        assert read_key(f.name).address == key.address
