"""The embedded chain outlives its process: the journal replays every accepted transaction at start."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from eth_account import Account

from commerce.chain.adapter import Chain
from commerce.chain.embedded import EmbeddedChain, revert_bytes
from commerce.chain.errors import ChainRevert, decode_revert
from tests.commerce.chain.chains import start_chain

PLAYER = Account.create().address


async def _connect(url: str, folder: Path) -> Chain:
    d = json.loads((folder / "deployment.json").read_text())
    return await Chain.connect(url, str(folder / "custody.key"), d["chain_id"], d["items"], d["rights"],
                               timeout_s=5.0, receipt_timeout_s=10.0, poll_s=0.02)


async def test_a_chain_killed_and_started_again_has_the_same_contracts_balances_and_blocks(tmp_path: Path) -> None:
    folder = tmp_path / "chain"
    first = start_chain(folder)
    try:
        chain = await _connect(first.url, folder)
        await chain.transact(chain.items.functions.mint(PLAYER, 42, 5, b""))
        await chain.transact(chain.items.functions.pause())
        blocks = await chain.block_number()
        key = (folder / "custody.key").read_text()
        deployment = (folder / "deployment.json").read_text()
        await chain.close()
    finally:
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
    second = start_chain(folder, first.port)
    try:
        assert (folder / "custody.key").read_text() == key
        assert (folder / "deployment.json").read_text() == deployment
        chain = await _connect(second.url, folder)
        assert await chain.items.functions.balanceOf(PLAYER, 42).call() == 5
        assert await chain.items.functions.paused().call() is True
        assert await chain.block_number() == blocks
        await chain.transact(chain.items.functions.unpause())  # and the custody key's nonce follows on
        await chain.close()
    finally:
        second.stop()


def test_a_first_start_cut_short_begins_afresh(tmp_path: Path) -> None:
    folder = tmp_path / "chain"
    folder.mkdir()
    (folder / "journal").write_text("0xdeadbeef\n")  # no deployment.json: the deployment never finished
    chain = start_chain(folder)
    try:
        assert json.loads((folder / "deployment.json").read_text())["items"]
        assert "0xdeadbeef" not in (folder / "journal").read_text()
    finally:
        chain.stop()


def test_json_rpc_answers_a_revert_with_its_data_and_bad_requests_with_errors() -> None:
    evm = EmbeddedChain()
    assert evm.handle({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"})["result"] == hex(evm.chain_id)
    assert evm.handle([{"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber"}])[0]["result"] == "0x0"
    assert evm.handle({"id": 3})["error"]["code"] == -32600
    assert "error" in evm.handle({"jsonrpc": "2.0", "id": 4, "method": "eth_noSuchMethod", "params": []})
    refused = evm.handle({"jsonrpc": "2.0", "id": 5, "method": "eth_sendRawTransaction", "params": ["0x00"]})
    assert "error" in refused


def test_a_reason_kept_only_as_text_becomes_error_string() -> None:
    exc = Exception("execution reverted: not allowed")
    revert: ChainRevert = decode_revert(revert_bytes(exc), [])
    assert revert.error == "Error" and "not allowed" in revert.message
