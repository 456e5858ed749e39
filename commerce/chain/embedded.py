"""The embedded chain: an eth-tester EVM (py-evm) served over Ethereum JSON-RPC, for one machine.

``elysium chain`` runs it; ``elysium up`` starts it (like Redis and the MongoDB server) when
``ELYSIUM_CHAIN_URL`` is unset, so commerce reaches it by URL exactly as it would a real node,
and a commerce process killed and restarted finds the chain as it left it.

**State folder** (``ELYSIUM_CHAIN_STATE_DIR``, ``.elysium/chain`` under ``up``):

* ``custody.key``: the development custody key (mode 0600), made at the first start;
* ``deployment.json``: chain id, the two contract addresses, the custody address and the block
  the items contract was deployed in;
* ``journal``: every raw transaction the chain accepted, one hex line each, appended and
  flushed to disk before the answer goes out.

**Restart.** An EVM in memory forgets everything when its process stops, so at start the journal is
replayed in order: the same signed transactions, each mined into its own block as before, give the
same contracts at the same addresses, the same balances and the same block numbers (so the
deposit reconciler's cursor stays true). Only block timestamps differ (they are the replay's).
The first start, with no journal, funds the custody key from eth-tester's first account and
deploys the contracts through the same path, so those transactions are journalled too.

Reverts are answered as nodes answer them (code 3, ``data`` the revert bytes), so the client decodes
custom errors from the ABI.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi import abi as eth_abi
from eth_account import Account
from web3 import Web3
from web3.providers.async_base import AsyncBaseProvider
from web3.types import RPCEndpoint, RPCResponse

from commerce.chain.errors import revert_data

log = logging.getLogger("commerce.chain.embedded")

KEY_FILE = "custody.key"
DEPLOYMENT_FILE = "deployment.json"
JOURNAL_FILE = "journal"
ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
FUNDING_WEI = 10**23  # what the custody key gets at the first start (a tenth of the test account): gas for years


def revert_bytes(exc: Exception) -> bytes:
    """The revert data of eth-tester's ``TransactionFailed``; a reason kept only as text becomes ``Error(string)``."""
    data = revert_data(exc)
    if data is not None:
        return data
    text = str(exc.args[0] if exc.args else exc).removeprefix("execution reverted: ")
    return ERROR_SELECTOR + eth_abi.encode(["string"], [text])


def _wire(value: Any, key: str = "") -> Any:
    """A provider result as JSON-RPC puts it on the wire: quantities and bytes as 0x hex."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return "0x" + value.to_bytes(256, "big").hex() if key == "logsBloom" else hex(value)
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): _wire(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    return value


@dataclass(frozen=True)
class ChainFiles:
    folder: Path

    @property
    def key(self) -> Path:
        return self.folder / KEY_FILE

    @property
    def deployment(self) -> Path:
        return self.folder / DEPLOYMENT_FILE

    @property
    def journal(self) -> Path:
        return self.folder / JOURNAL_FILE

    def read_deployment(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.deployment.read_text())
        return data


class EmbeddedChain:
    """One EVM in memory, its JSON-RPC dispatch, and the journal that outlives it."""

    def __init__(self, journal: Path | None = None) -> None:
        from eth_utils.exceptions import ValidationError
        from web3 import EthereumTesterProvider

        self._validation_error = ValidationError
        self.w3 = Web3(EthereumTesterProvider())
        self._request: Callable[[RPCEndpoint, Any], RPCResponse] = self.w3.provider.request_func(  # type: ignore[attr-defined]
            self.w3, self.w3.middleware_onion)
        self.journal = journal
        self._journal_file = None if journal is None else open(journal, "a")  # noqa: SIM115
        self.replayed = 0

    @property
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    def funded_key(self) -> bytes:
        """eth-tester's first account's key, which holds its test ether."""
        key: bytes = self.w3.provider.ethereum_tester.backend.account_keys[0].to_bytes()  # type: ignore[attr-defined]
        return key

    def handle(self, request: Any) -> Any:
        """Answer one JSON-RPC request object, or a batch (a list of them)."""
        if isinstance(request, list):
            return [self.handle(r) for r in request]
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "invalid request"}}
        rid = request.get("id")
        params = request.get("params") or []
        return {"jsonrpc": "2.0", "id": rid, **self.dispatch(request["method"], params)}

    def dispatch(self, method: str, params: Any) -> dict[str, Any]:
        from eth_tester.exceptions import TransactionFailed

        try:
            response = self._request(RPCEndpoint(method), params)
        except TransactionFailed as exc:
            data = revert_bytes(exc)
            return {"error": {"code": 3, "message": "execution reverted", "data": "0x" + data.hex()}}
        except self._validation_error as exc:
            return {"error": {"code": -32000, "message": str(exc)}}
        except (ValueError, TypeError, KeyError) as exc:
            return {"error": {"code": -32602, "message": f"invalid params: {exc}"}}
        except Exception as exc:  # py-evm refuses malformed input with many exception types: the peer's fault
            return {"error": {"code": -32000, "message": f"{type(exc).__name__}: {exc}"}}
        if "error" in response:
            return {"error": dict(response["error"])}
        if method == "eth_sendRawTransaction" and self._journal_file is not None:
            self._journal_file.write(str(params[0]) + "\n")
            self._journal_file.flush()
            os.fsync(self._journal_file.fileno())
        return {"result": _wire(response["result"])}

    def replay(self, lines: list[str]) -> int:
        """Send the journal's transactions again, in order, without journalling them twice."""
        keep, self._journal_file = self._journal_file, None
        try:
            for line in lines:
                answer = self.dispatch("eth_sendRawTransaction", [line])
                if "error" in answer:
                    log.warning("journalled transaction refused on replay", extra={"error": answer["error"]})
                else:
                    self.replayed += 1
        finally:
            self._journal_file = keep
        return self.replayed

    def close(self) -> None:
        if self._journal_file is not None:
            self._journal_file.close()
            self._journal_file = None


class DirectProvider(AsyncBaseProvider):
    """An async web3 provider answering from an :class:`EmbeddedChain` in this process, as its server would."""

    def __init__(self, chain: EmbeddedChain) -> None:
        super().__init__()
        self.chain = chain

    async def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        answer = self.chain.handle({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        decoded: RPCResponse = json.loads(json.dumps(answer))
        return decoded

    async def is_connected(self, show_traceback: bool = False) -> bool:
        return True


def _write_key(path: Path) -> str:
    key = "0x" + secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


async def open_chain(folder: Path) -> EmbeddedChain:
    """The embedded chain of ``folder``: replayed from its journal, or made, funded and deployed afresh."""
    from commerce.chain.adapter import Chain, read_key
    from commerce.chain.deploy import deploy

    folder.mkdir(parents=True, exist_ok=True)
    files = ChainFiles(folder)
    lines = files.journal.read_text().split() if files.journal.exists() else []
    if lines and files.deployment.exists() and files.key.exists():
        evm = EmbeddedChain(files.journal)
        evm.replay(lines)
        log.info("chain replayed", extra={"transactions": evm.replayed, "of": len(lines)})
        return evm
    # No chain yet, or a first start that stopped before its deployment was written: begin afresh.
    for stale in (files.journal, files.deployment, files.key):
        stale.unlink(missing_ok=True)
    evm = EmbeddedChain(files.journal)
    _write_key(files.key)
    custody = read_key(str(files.key))
    funder = Account.from_key(evm.funded_key())
    fund = funder.sign_transaction({"to": custody.address, "value": FUNDING_WEI, "gas": 21000, "nonce": 0,
                                    "maxFeePerGas": 3 * 10**9, "maxPriorityFeePerGas": 10**9,
                                    "chainId": evm.chain_id})
    answer = evm.dispatch("eth_sendRawTransaction", ["0x" + bytes(fund.raw_transaction).hex()])
    if "error" in answer:
        raise RuntimeError(f"cannot fund the custody key: {answer['error']}")
    from web3 import AsyncWeb3

    chain = Chain(AsyncWeb3(DirectProvider(evm)), custody, evm.chain_id, None, None, poll_s=0.01)
    deployment = await deploy(chain)
    tmp = files.deployment.with_suffix(".tmp")
    tmp.write_text(json.dumps(deployment.to_json(), indent=2) + "\n")
    tmp.replace(files.deployment)
    log.info("chain deployed", extra=deployment.to_json())
    return evm
