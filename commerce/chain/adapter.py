"""The chain adapter: one :class:`Chain` interface over two backends.

* **in-process**: an eth-tester EVM (py-evm) inside this process, through web3's async
  eth-tester provider. Tests use it, and ``elysium chain`` serves one over JSON-RPC
  (:mod:`commerce.chain.embedded`).
* **JSON-RPC**: any Ethereum endpoint at ``ELYSIUM_CHAIN_URL``.

Both give the same :class:`Chain`: ``w3`` (an ``AsyncWeb3``), ``chain_id``, ``custody`` (the
address of the custody key, which holds the minter role), ``items`` and ``rights`` (async contract
objects at the configured addresses) and :meth:`Chain.transact`, which builds a contract call,
signs it with the custody key, sends it and waits for its receipt.

* **Nonces.** One lock per process covers picking the custody key's next nonce, signing and
  sending, so concurrent withdrawals never reuse or skip a nonce; receipts are awaited outside
  it, concurrently. A send that fails drops the cached nonce, re-read from the chain (``pending``)
  next time; a nonce already taken (another replica sharing the key) is re-read and the call signed
  again, up to :data:`NONCE_RETRIES` times.
* **Deadlines.** Every request has ``timeout_s``; waiting for a receipt has ``receipt_timeout_s``.
  A chain that does not answer, refuses the connection or times out raises
  :class:`ChainUnavailable`; a call the contract refuses raises
  :class:`commerce.chain.errors.ChainRevert`, decoded from the ABI.
* **Crash safety.** ``transact(call, before_send=...)`` hands the signed transaction (hash, nonce,
  raw bytes) to the caller before it is sent, so the caller can record it durably: after a crash
  the reconciler looks the hash up, or sends the same raw bytes again (:meth:`Chain.resend`).
* **The key** is read from a file (``ELYSIUM_CHAIN_KEY_FILE``: one line, the 32-byte private key in
  hex); it is never logged, and a missing or unreadable file is a one-line start-up error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3.types import Nonce
from web3 import AsyncWeb3
from web3.contract import AsyncContract
from web3.exceptions import ContractLogicError, TimeExhausted, TransactionNotFound, Web3RPCError
from web3.types import TxParams, TxReceipt

from commerce.chain.errors import ChainRevert, decode_revert, revert_data
from elysium.config import ConfigError

log = logging.getLogger("commerce.chain")
T = TypeVar("T")

ETH_TESTER_CHAIN_ID = 131277322940537  # eth-tester's chain id, the default of ELYSIUM_CHAIN_ID
NONCE_RETRIES = 3
GAS_MARGIN = 1.25  # on top of the estimate: state may change between estimating and mining
_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_NONCE_TAKEN = ("nonce too low", "already known", "replacement transaction underpriced", "invalid transaction nonce")


class ChainUnavailable(Exception):
    """The chain did not answer within its deadline, refused the connection, or failed the request."""


class Buildable(Protocol):
    """What :meth:`Chain.transact` accepts: a contract function call or a constructor."""

    async def build_transaction(self, transaction: TxParams | None = None) -> TxParams: ...

    async def estimate_gas(self, transaction: TxParams | None = None) -> int: ...


@dataclass(frozen=True, slots=True)
class Signed:
    """A transaction signed by the custody key, not yet known to be sent."""

    tx_hash: str  # 0x-prefixed hex
    nonce: int
    raw: bytes


BeforeSend = Callable[[Signed], Awaitable[None]]


def read_key(path: str) -> LocalAccount:
    """The custody key from ``path``; a missing, unreadable or malformed file is a :class:`ConfigError`.

    The error names the file and what is wrong with it, never its content.
    """
    if not path:
        raise ConfigError("ELYSIUM_CHAIN_KEY_FILE", "is not set; the custody key signs every withdrawal")
    try:
        text = Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError("ELYSIUM_CHAIN_KEY_FILE", f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        text = ""
    if not _KEY.match(text):
        raise ConfigError("ELYSIUM_CHAIN_KEY_FILE",
                          f"{path} does not hold a private key (one line: 64 hex digits, optionally 0x-prefixed)")
    try:
        account: LocalAccount = Account.from_key(text)
    except ValueError:
        raise ConfigError("ELYSIUM_CHAIN_KEY_FILE", f"{path} holds a value that is not a valid private key") from None
    return account


def checksum(variable: str, value: str) -> ChecksumAddress:
    """``value`` as an EIP-55 address, or a :class:`ConfigError` naming ``variable``."""
    if not AsyncWeb3.is_address(value):
        raise ConfigError(variable, f"{value!r} is not an Ethereum address (0x and 40 hex digits)")
    return AsyncWeb3.to_checksum_address(value)


def _abi(name: str) -> list[dict[str, Any]]:
    from commerce.chain.artifacts import load_artifact

    abi: list[dict[str, Any]] = load_artifact(name)["abi"]
    return abi


class Chain:
    """The chain as commerce sees it. Build with :meth:`connect` (JSON-RPC) or :meth:`in_process`."""

    def __init__(self, w3: AsyncWeb3[Any], account: LocalAccount, chain_id: int, items: ChecksumAddress | None,
                 rights: ChecksumAddress | None, *, timeout_s: float = 10.0, receipt_timeout_s: float = 60.0,
                 poll_s: float = 0.05) -> None:
        self.w3 = w3
        self.chain_id = chain_id
        self.custody: ChecksumAddress = account.address
        self._account = account
        self.timeout_s = timeout_s
        self.receipt_timeout_s = receipt_timeout_s
        self.poll_s = poll_s
        self.abis = [_abi("ElysiumItems"), _abi("ElysiumRights")]
        self.items: AsyncContract = w3.eth.contract(address=items, abi=self.abis[0])  # type: ignore[assignment]
        self.rights: AsyncContract = w3.eth.contract(address=rights, abi=self.abis[1])  # type: ignore[assignment]
        self._lock = asyncio.Lock()
        self._next_nonce: int | None = None

    # --- construction -----------------------------------------------------------------------

    @classmethod
    async def connect(cls, url: str, key_file: str, expected_chain_id: int, items: str, rights: str, *,
                      timeout_s: float = 10.0, receipt_timeout_s: float = 60.0, poll_s: float = 0.1) -> Chain:
        """A JSON-RPC chain at ``url``, checked at start: reachable, the expected chain id, code at both addresses.

        Raises :class:`ConfigError` (a one-line start-up error) for a bad key file, a bad address,
        a wrong chain id or an address holding no contract, :class:`ChainUnavailable` when the
        endpoint does not answer.
        """
        from web3 import AsyncHTTPProvider

        account = read_key(key_file)
        items_at = checksum("ELYSIUM_CHAIN_ITEMS_ADDRESS", items)
        rights_at = checksum("ELYSIUM_CHAIN_RIGHTS_ADDRESS", rights)
        w3 = AsyncWeb3(AsyncHTTPProvider(url, request_kwargs={"timeout": timeout_s}))
        chain = cls(w3, account, expected_chain_id, items_at, rights_at, timeout_s=timeout_s,
                    receipt_timeout_s=receipt_timeout_s, poll_s=poll_s)
        try:
            await chain.check(expected_chain_id)
        except BaseException:
            await chain.close()
            raise
        return chain

    @classmethod
    def in_process(cls, account: LocalAccount | None = None, *, items: str | None = None,
                   rights: str | None = None, receipt_timeout_s: float = 10.0) -> Chain:
        """An eth-tester EVM in this process; ``account`` (default: eth-tester's first, funded) is the custody key.

        A fresh EVM holds no contracts: :func:`commerce.chain.deploy.deploy` puts them there.
        """
        from web3 import AsyncEthereumTesterProvider

        provider = AsyncEthereumTesterProvider()
        w3 = AsyncWeb3(provider)
        if account is None:
            account = Account.from_key(provider.ethereum_tester.backend.account_keys[0])
        return cls(w3, account, ETH_TESTER_CHAIN_ID,
                   None if items is None else AsyncWeb3.to_checksum_address(items),
                   None if rights is None else AsyncWeb3.to_checksum_address(rights),
                   receipt_timeout_s=receipt_timeout_s, poll_s=0.01)

    async def close(self) -> None:
        """Close the provider's connections (the JSON-RPC backend's HTTP session)."""
        with contextlib.suppress(NotImplementedError):  # in process: nothing to close
            await self.w3.provider.disconnect()

    def at(self, items: str, rights: str) -> None:
        """Point ``items`` and ``rights`` at deployed contracts (after deploying them)."""
        self.items = self.w3.eth.contract(address=AsyncWeb3.to_checksum_address(items), abi=self.abis[0])
        self.rights = self.w3.eth.contract(address=AsyncWeb3.to_checksum_address(rights), abi=self.abis[1])

    async def check(self, expected_chain_id: int) -> None:
        """The chain answers with ``expected_chain_id`` and holds code at both contract addresses."""
        actual = await self.call(self.w3.eth.chain_id)
        if actual != expected_chain_id:
            raise ConfigError("ELYSIUM_CHAIN_ID", f"the chain at ELYSIUM_CHAIN_URL has chain id {actual}, "
                                                  f"not {expected_chain_id}")
        for variable, contract in (("ELYSIUM_CHAIN_ITEMS_ADDRESS", self.items),
                                   ("ELYSIUM_CHAIN_RIGHTS_ADDRESS", self.rights)):
            code = await self.call(self.w3.eth.get_code(contract.address))
            if not code:
                raise ConfigError(variable, f"no contract is deployed at {contract.address} on chain {actual}")

    # --- requests ----------------------------------------------------------------------------

    async def call(self, request: Awaitable[T], timeout_s: float | None = None) -> T:
        """Await one request to the chain within its deadline; a chain that is down is :class:`ChainUnavailable`."""
        try:
            return await asyncio.wait_for(request, self.timeout_s if timeout_s is None else timeout_s)
        except TimeoutError:
            raise ChainUnavailable(f"the chain did not answer within {self.timeout_s:g} s") from None
        except (OSError, ConnectionError) as exc:
            raise ChainUnavailable(f"the chain is unreachable: {exc.__class__.__name__}") from None
        except Exception as exc:
            if _is_http_error(exc):
                raise ChainUnavailable(f"the chain failed the request: {exc}") from None
            raise

    async def block_number(self) -> int:
        return int(await self.call(self.w3.eth.block_number))

    async def now(self) -> int:
        """The chain's present, in Unix seconds: the wall clock, or the newest block's timestamp
        when that is later. Contracts judge time by ``block.timestamp``, which can run ahead of
        the wall clock (a development chain stamps each block at least a second after the one
        before); a licence revoked in a block is revoked by this time."""
        latest = await self.call(self.w3.eth.get_block("latest"))
        return max(int(time.time()), int(latest["timestamp"]))

    async def sign(self, call: Buildable, nonce: int, gas: int | None = None) -> Signed:
        """Build (estimating gas: a refused call raises :class:`ChainRevert` here) and sign ``call``."""
        params: TxParams = {"from": self.custody, "nonce": Nonce(nonce), "chainId": self.chain_id}
        if gas is not None:
            params["gas"] = gas
        try:
            tx = await self.call(call.build_transaction(params))
        except Exception as exc:
            if not _is_revert(exc):
                raise
            raise self._revert(exc) from None
        signed = self._account.sign_transaction(tx)  # type: ignore[arg-type]
        return Signed(AsyncWeb3.to_hex(signed.hash), nonce, bytes(signed.raw_transaction))

    async def estimate(self, call: Buildable) -> int:
        """The gas ``call`` needs from the custody key now, with a margin; a refusal is :class:`ChainRevert`."""
        try:
            needed = await self.call(call.estimate_gas({"from": self.custody}))
        except Exception as exc:
            if not _is_revert(exc):
                raise
            raise self._revert(exc) from None
        return int(needed * GAS_MARGIN)

    async def transact(self, call: Buildable, *, before_send: BeforeSend | None = None,
                       gas: int | None = None) -> TxReceipt:
        """Build, sign with the custody key, send, wait for the receipt; a reverted receipt raises.

        ``before_send`` (if given) is awaited with the signed transaction before it is sent. Raises
        :class:`ChainRevert` (the call was refused: nothing was sent, or it reverted on chain) or
        :class:`ChainUnavailable` (the chain did not answer; a transaction may have been sent, and
        the caller's ``before_send`` record says which).
        """
        signed = await self.send(call, before_send=before_send, gas=gas)
        receipt = await self.wait(signed.tx_hash)
        if receipt["status"] != 1:
            raise await self.revert_reason(signed.tx_hash, call)
        return receipt

    async def send(self, call: Buildable, *, before_send: BeforeSend | None = None,
                   gas: int | None = None) -> Signed:
        """Sign and send ``call`` under the nonce lock; the signed transaction, once the chain accepted it.

        Gas is estimated before the lock is taken (a refused call raises :class:`ChainRevert` there,
        having held up no other transaction), with :data:`GAS_MARGIN` on top.
        """
        if gas is None:
            gas = await self.estimate(call)
        async with self._lock:
            for attempt in range(NONCE_RETRIES):
                if self._next_nonce is None:
                    self._next_nonce = int(await self.call(
                        self.w3.eth.get_transaction_count(self.custody, "pending")))
                try:
                    signed = await self.sign(call, self._next_nonce, gas)
                except Exception as exc:  # in process, a stale nonce is refused while estimating gas
                    if not (_is_rejection(exc) and _nonce_taken(exc) and attempt + 1 < NONCE_RETRIES):
                        raise
                    self._next_nonce = None
                    continue
                if before_send is not None:
                    await before_send(signed)
                try:
                    await self.call(self.w3.eth.send_raw_transaction(signed.raw))
                except Exception as exc:
                    self._next_nonce = None  # sent or not, the chain knows better than this counter now
                    if not _is_rejection(exc):
                        raise
                    if _nonce_taken(exc) and attempt + 1 < NONCE_RETRIES:
                        log.info("custody nonce taken; signing again", extra={"nonce": signed.nonce})
                        continue
                    raise self._rejected(exc) from None
                except BaseException:
                    self._next_nonce = None
                    raise
                self._next_nonce = signed.nonce + 1
                return signed
        raise AssertionError("unreachable")  # pragma: no cover

    async def resend(self, raw: bytes) -> bool:
        """Send a recorded transaction again; False when the chain refuses it (its nonce went to another)."""
        try:
            await self.call(self.w3.eth.send_raw_transaction(raw))
        except Exception as exc:
            if not _is_rejection(exc):
                raise
            if "already known" in str(exc).lower():
                return True
            return False
        return True

    async def receipt(self, tx_hash: str) -> TxReceipt | None:
        """The receipt of ``tx_hash`` once mined, else None."""
        try:
            return await self.call(self.w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
        except TransactionNotFound:
            return None

    async def nonce(self) -> int:
        """The custody key's next nonce as mined (``latest``): a transaction with a lower one is final."""
        return int(await self.call(self.w3.eth.get_transaction_count(self.custody, "latest")))

    async def wait(self, tx_hash: str, timeout_s: float | None = None) -> TxReceipt:
        """The receipt of ``tx_hash``, polled until ``receipt_timeout_s``; past it :class:`ChainUnavailable`."""
        limit = self.receipt_timeout_s if timeout_s is None else timeout_s
        try:
            return await self.call(self.w3.eth.wait_for_transaction_receipt(
                tx_hash, timeout=limit, poll_latency=self.poll_s), timeout_s=limit + self.timeout_s)  # type: ignore[arg-type]
        except TimeExhausted:
            raise ChainUnavailable(f"transaction {tx_hash} has no receipt after {limit:g} s") from None

    async def revert_reason(self, tx_hash: str, call: Buildable | None = None) -> ChainRevert:
        """Why a mined transaction reverted: replayed as a call at its block, decoded from the ABI."""
        try:
            tx = await self.call(self.w3.eth.get_transaction(tx_hash))  # type: ignore[arg-type]
            await self.call(self.w3.eth.call({"from": tx["from"], "to": tx["to"], "data": tx["input"],
                                              "value": tx["value"]}, tx["blockNumber"]))
        except Exception as exc:
            if not _is_revert(exc):
                raise
            return self._revert(exc)
        return ChainRevert("Reverted", (), "the transaction reverted without a reason")

    def _revert(self, exc: Exception) -> ChainRevert:
        data = revert_data(exc)
        if data:
            return decode_revert(data, [entry for abi in self.abis for entry in abi])
        message = str(getattr(exc, "message", None) or exc)
        return ChainRevert("Error", (message,), message)

    def _rejected(self, exc: Exception) -> ChainRevert | ChainUnavailable:
        message = str(getattr(exc, "message", None) or exc)
        if "revert" in message.lower():
            return ChainRevert("Error", (message,), message)
        return ChainUnavailable(f"the chain refused the transaction: {message}")


def _is_revert(exc: Exception) -> bool:
    """A refusal by the contract: web3's ``ContractLogicError`` (JSON-RPC), eth-tester's ``TransactionFailed``."""
    return isinstance(exc, ContractLogicError) or type(exc).__name__ == "TransactionFailed"


def _is_rejection(exc: Exception) -> bool:
    """The chain refused a transaction: a JSON-RPC error, or eth-tester's ``ValidationError`` in process."""
    return isinstance(exc, Web3RPCError) or type(exc).__name__ == "ValidationError"


def _nonce_taken(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(marker in text for marker in _NONCE_TAKEN)


def _is_http_error(exc: Exception) -> bool:
    """aiohttp's client errors (web3's HTTP provider) without importing aiohttp's tree here by name."""
    from aiohttp import ClientError

    return isinstance(exc, ClientError)
