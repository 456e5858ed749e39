"""``elysium commerce`` (the service, and ``admin-token``) and ``elysium audit``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from elysium import config, devtokens, logs, scopes, serve, tokens

if TYPE_CHECKING:
    from commerce.settings import AuditSettings, CommerceSettings
    from commerce.store import Store

log = logging.getLogger("commerce")


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from commerce.settings import CommerceSettings

    cm = sub.add_parser("commerce", help="run the commerce service (accounts, wallets, store, rewards)")
    serve.add_arguments(cm, "ELYSIUM_COMMERCE", settings=CommerceSettings)
    cm.set_defaults(func=run_commerce)
    cm_sub = cm.add_subparsers(dest="commerce_command", required=False, metavar="SUBCOMMAND",
                               help="instead of running the service")
    tok = cm_sub.add_parser("admin-token", help="mint a service token for the operator console and the /v1/admin "
                            "APIs of commerce, the matchmaker and the game servers")
    tok.add_argument("--key-file", help="Ed25519 private key of services (default: ELYSIUM_SERVICE_PRIVATE_KEY_FILE, "
                     "else the key elysium up made in .elysium/keys/service.key)")
    tok.add_argument("--ttl-s", type=float, default=600.0, help="lifetime of the token in seconds (at most 86400)")
    tok.add_argument("--subject", default="operator", help="who the token is for (its sub claim; the moderation "
                     "log records it as who acted)")
    tok.add_argument("--scope", action="append", choices=(*scopes.CONSOLE, scopes.COMMERCE_MODERATION, "console"),
                     help="what the token allows (repeat for several): commerce:admin (commerce's whole admin API), "
                          "commerce:moderation (only bans, mutes and their log), matchmaker:admin (game servers and "
                          "queues), gameserver:admin (rooms and kicks); default: console, all the operator console "
                          f"needs ({' '.join(scopes.CONSOLE)})")
    tok.set_defaults(func=run_admin_token)

    chain = sub.add_parser("chain", help="run the embedded chain: an EVM over JSON-RPC with the item contracts "
                                         "deployed (elysium up starts it when ELYSIUM_CHAIN_URL is unset)")
    from commerce.settings import ChainServerSettings

    serve.add_arguments(chain, "ELYSIUM_CHAIN", settings=ChainServerSettings)
    chain.set_defaults(func=run_chain)

    audit = sub.add_parser("audit", help="check wallets against the ledger and items against their owners")
    audit.add_argument("--json", action="store_true", help="print the report as one JSON object")
    audit.set_defaults(func=run_audit)


def run_commerce(args: argparse.Namespace) -> int:
    from commerce.chain.adapter import ChainUnavailable
    from commerce.settings import CommerceSettings
    from pymongo.errors import PyMongoError

    settings = config.load(CommerceSettings, **serve.overrides(args))
    logs.setup("commerce", settings.log_level)
    return serve.run("commerce", lambda: _service(settings), host=settings.host, port=settings.port,
                     drain_timeout_s=settings.drain_timeout_s, settings=settings,
                     startup_errors=(PyMongoError, ChainUnavailable))


def _service(settings: CommerceSettings) -> serve.AppService:
    """On SIGTERM: report not ready, finish requests in flight, then close, all within the drain timeout.

    Requests get the drain time less a reserve for closing the clients and the rewards consumer,
    halved because aiohttp waits its shutdown timeout twice (for requests to finish, then for
    the ones it cancelled to unwind); each clean-up step gets what is left (``commerce.app``),
    so no database that stopped answering can hold the process past the drain time.
    """
    from commerce.app import create_app
    from commerce.appkeys import STATUS

    app = create_app(settings)

    def draining() -> None:
        app[STATUS].start_draining(settings.drain_timeout_s)
        log.info("draining")

    reserve_s = min(1.0, settings.drain_timeout_s / 4)
    return serve.AppService(app, settings.host, settings.port,
                            shutdown_timeout_s=(settings.drain_timeout_s - reserve_s) / 2, on_drain=draining,
                            instance_id=settings.resolved_consumer)


def run_chain(args: argparse.Namespace) -> int:
    from commerce.chain.server import create_app
    from commerce.settings import ChainServerSettings

    try:
        import eth_tester  # noqa: F401 (the embedded extra; production images leave it out)
    except ImportError:
        print("elysium chain: cannot start: the embedded chain needs the 'embedded' extra (pip install -e "
              "'.[embedded]'); in production point ELYSIUM_CHAIN_URL at an Ethereum JSON-RPC endpoint instead",
              file=sys.stderr)
        return 1
    settings = config.load(ChainServerSettings, **serve.overrides(args))
    logs.setup("chain", settings.log_level)
    return serve.run("chain", lambda: serve.AppService(create_app(settings), settings.host, settings.port,
                                                       shutdown_timeout_s=2.0),
                     host=settings.host, port=settings.port, drain_timeout_s=5.0, settings=settings,
                     startup_errors=(RuntimeError, OSError))


def run_admin_token(args: argparse.Namespace) -> int:
    if not 0 < args.ttl_s <= 86_400:
        raise SystemExit("elysium commerce admin-token: --ttl-s must be between 0 and 86400 seconds")
    try:
        key = devtokens.signing_key(args.key_file, "ELYSIUM_SERVICE_PRIVATE_KEY_FILE", "service")
    except tokens.KeyError_ as exc:
        print(f"elysium commerce admin-token: {exc}", file=sys.stderr)
        return 2
    wanted: list[str] = []
    for name in args.scope or ["console"]:
        for scope in (scopes.CONSOLE if name == "console" else (name,)):
            if scope not in wanted:
                wanted.append(scope)
    signer = tokens.Signer(key, "elysium-cli")
    print(signer.issue(args.subject, tokens.SERVICE_AUDIENCE, args.ttl_s, {"scope": " ".join(wanted)}))
    return 0


def run_audit(args: argparse.Namespace) -> int:
    from commerce.chain.adapter import ChainUnavailable
    from commerce.settings import AuditSettings
    from pymongo.errors import PyMongoError

    from commerce.store import Store, mongo_client

    from commerce.admin_api import record_audit

    settings = config.load(AuditSettings)

    async def main() -> int:
        client = mongo_client(settings.mongo_url)
        try:
            started = time.monotonic()
            store = Store(client, settings.db_name)
            problems, counts = await store.audit()
            if settings.chain_url:
                chained, chain_counts = await _audit_chain(settings, store)
                problems += chained
                counts.update(chain_counts)
            # The operator console shows the last result (GET /v1/admin/audit/latest).
            await record_audit(store, not problems, counts, [str(p) for p in problems], time.monotonic() - started,
                               bool(settings.chain_url))
        except PyMongoError as exc:
            print(f"elysium audit: cannot read the database: {exc}", file=sys.stderr)
            return 2
        except ChainUnavailable as exc:
            print(f"elysium audit: cannot read the chain: {exc}", file=sys.stderr)
            return 2
        finally:
            await client.close()
        if args.json:
            print(json.dumps({"ok": not problems, "counts": counts, "problems": [str(p) for p in problems]}))
        elif problems:
            print(f"audit FAILED: {len(problems)} problem(s) in database {settings.db_name}", file=sys.stderr)
            for p in problems:
                print(f"  {p}", file=sys.stderr)
        else:
            print(f"audit passed: {counts['wallets']} wallets equal their {counts['ledger_entries']} ledger entries; "
                  f"{counts['items']} items each have one owner and one custody state; {counts['payments']} payments "
                  f"and {counts['debts']} debts match their ledger entries"
                  + (f"; {counts['on_chain']} items on chain match the chain's balances of {counts['tokens']} "
                     f"tokens ({counts['withdrawing']} withdrawing)" if "tokens" in counts else
                     "; the chain was not checked (ELYSIUM_CHAIN_URL is unset)"))
        return 1 if problems else 0

    return asyncio.run(main())


async def _audit_chain(settings: AuditSettings, store: Store) -> tuple[list[Any], dict[str, int]]:
    from commerce.chain.adapter import Chain
    from commerce.chain.custody import Custody

    chain = await Chain.connect(settings.chain_url, settings.chain_key_file, settings.chain_id,
                                settings.chain_items_address, settings.chain_rights_address)
    try:
        return await Custody(store, chain, "audit", from_block=settings.chain_from_block).audit()
    finally:
        await chain.close()


def _stack() -> list[object]:
    from elysium.up import StackContext, StackService

    def env(ctx: StackContext) -> dict[str, str]:
        # Payments run offline on the local stack unless the caller chose a provider; public
        # profiles read ratings and match history from the stack's matchmaker, and friends'
        # watch links point at its relay.
        out = {"ELYSIUM_PAYMENTS_PROVIDER": ctx.env.get("ELYSIUM_PAYMENTS_PROVIDER") or "sandbox",
               # The web client reaches commerce through the stack's gateway on this machine.
               "ELYSIUM_COMMERCE_TRUSTED_PROXIES": ctx.env.get("ELYSIUM_COMMERCE_TRUSTED_PROXIES") or "127.0.0.1/32,::1/128"}
        if "chain" in ctx.urls:  # the embedded chain runs: its contracts and development custody key
            out.update(embedded_chain_env(ctx.state_dir / "chain"))
        matchmaker = ctx.env.get("ELYSIUM_COMMERCE_MATCHMAKER_URL") or ctx.urls.get("matchmaker")
        if matchmaker:
            out["ELYSIUM_COMMERCE_MATCHMAKER_URL"] = matchmaker
        relay = ctx.env.get("ELYSIUM_COMMERCE_SPECTATOR_URL") or ctx.urls.get("spectator", "").replace("http", "ws", 1)
        if relay:
            out["ELYSIUM_COMMERCE_SPECTATOR_URL"] = relay
        return out

    def chain_env(ctx: StackContext) -> dict[str, str]:
        return {"ELYSIUM_CHAIN_STATE_DIR": str(ctx.state_dir / "chain")}

    return [StackService("chain", 8545, order=5, needs=(), env=chain_env, unless_env="ELYSIUM_CHAIN_URL"),
            StackService("commerce", 7380, order=20, needs=("mongo", "redis"), path="/v1/catalog", env=env)]


def embedded_chain_env(folder: Path) -> dict[str, str]:
    """The commerce settings reaching the embedded chain of ``folder`` (its deployment file and key)."""
    from commerce.chain.embedded import ChainFiles

    files = ChainFiles(folder)
    deployment = files.read_deployment()
    return {"ELYSIUM_CHAIN_KEY_FILE": str(files.key), "ELYSIUM_CHAIN_ITEMS_ADDRESS": deployment["items"],
            "ELYSIUM_CHAIN_RIGHTS_ADDRESS": deployment["rights"], "ELYSIUM_CHAIN_ID": str(deployment["chain_id"]),
            "ELYSIUM_CHAIN_FROM_BLOCK": str(deployment["block"])}


STACK_SERVICES = _stack()
