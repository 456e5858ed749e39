"""The ``elysium`` command. Each service package adds its own subcommands from ``<pkg>/cli.py``."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from elysium import __version__, devtokens, tokens
from elysium.config import ConfigError

SERVICE_PACKAGES = ("gameserver", "matchmaker", "spectator", "commerce", "butler", "gateway", "loadtest")


def _service_modules() -> list[object]:
    found: list[object] = []
    for name in SERVICE_PACKAGES:
        try:
            found.append(importlib.import_module(f"{name}.cli"))
        except ModuleNotFoundError as exc:
            if exc.name not in (name, f"{name}.cli"):
                raise
    return found


class _Parser(argparse.ArgumentParser):
    """A parser that refuses arguments it does not know itself: argparse leaves a subcommand's
    unknown flags to the top parser, whose error shows the top usage instead of the subcommand's."""

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


class _HelpFormatter(argparse.HelpFormatter):
    """Each flag's help followed by its default, when it has one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (not action.option_strings or "%(default)" in text or action.default is None or action.default is False
                or action.default == "" or action.default is argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)"


def commands(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """``parser`` and every subcommand's parser below it, depth first."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from commands(child)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="elysium", description="Elysium game platform")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", help="what to run")

    up = sub.add_parser("up", help="run the whole platform locally on its embedded defaults")
    up.add_argument("--state-dir", default=os.environ.get("ELYSIUM_STATE_DIR", ".elysium"),
                    help="where keys, data and logs of the local stack live (ELYSIUM_STATE_DIR)")
    up.add_argument("--bots", type=int, default=4, help="demo bots playing a live match (0 for none)")
    up.add_argument("--for-seconds", type=float, default=0.0, help="stop by itself after this long (0: until Ctrl-C)")
    up.set_defaults(func=_run_up)

    keygen = sub.add_parser("keygen", help="generate an Ed25519 key pair (NAME.key, NAME.pub)")
    keygen.add_argument("--dir", default=".elysium/keys", help="directory the two files are written to")
    keygen.add_argument("--name", required=True, help="key name, e.g. join or player")
    keygen.add_argument("--force", action="store_true",
                        help="replace an existing pair (tokens signed with the old key stop verifying)")
    keygen.set_defaults(func=_run_keygen)

    token = sub.add_parser("token", help="mint development tokens")
    token_sub = token.add_subparsers(dest="kind", required=True, metavar="KIND", help="which token")
    join = token_sub.add_parser("join", help="a join token for one match on one game server")
    join.add_argument("--match", required=True, help="match id the token admits to (mid, 1 to 64 characters)")
    join.add_argument("--player", required=True, help="player id (sub), also the player's display name")
    join.add_argument("--server", default=os.environ.get("ELYSIUM_SERVER_ID", "local-1"),
                      help="registry id of the game server the token is bound to (srv; ELYSIUM_SERVER_ID)")
    join.add_argument("--key-file", help="Ed25519 private key that signs join tokens (default: "
                      "ELYSIUM_JOIN_PRIVATE_KEY_FILE, else the key elysium up made in .elysium/keys/join.key)")
    join.add_argument("--mode", default="arena", help="game mode of the room the first join creates")
    join.add_argument("--seats", type=int, default=10, help="seats in that room")
    join.add_argument("--min-players", type=int, help="players needed before the match starts "
                      "(default: the mode's)")
    join.add_argument("--ttl-s", type=float, default=60.0, help="lifetime of the token in seconds (at most 60)")
    join.set_defaults(func=_run_token_join)

    for module in _service_modules():
        module.add_commands(sub)  # type: ignore[attr-defined]
    for command in commands(parser):
        command.formatter_class = _HelpFormatter
    return parser


def _run_up(args: argparse.Namespace) -> int:
    from elysium.up import run_up

    return run_up(args.state_dir, bots=args.bots, for_seconds=args.for_seconds)


def _run_keygen(args: argparse.Namespace) -> int:
    existing = [p for p in (Path(args.dir) / f"{args.name}.key", Path(args.dir) / f"{args.name}.pub") if p.exists()]
    if existing and not args.force:
        print(f"elysium keygen: {existing[0]} already exists; give --force to replace the pair "
              f"(tokens signed with the old key stop verifying)", file=sys.stderr)
        return 1
    priv, pub = tokens.generate_keypair(args.dir, args.name)
    print(json.dumps({"private_key": str(priv), "public_key": str(pub)}))
    return 0


def _run_token_join(args: argparse.Namespace) -> int:
    if not 0 < args.ttl_s <= 60:
        raise SystemExit("elysium token join: --ttl-s must be between 0 and 60 seconds")
    try:
        signer = tokens.Signer(devtokens.signing_key(args.key_file, "ELYSIUM_JOIN_PRIVATE_KEY_FILE", "join"),
                               devtokens.DEV_ISSUER)
    except tokens.KeyError_ as exc:
        raise SystemExit(f"elysium token join: {exc}") from None
    room = devtokens.room_claim(args.mode, args.seats, min_players=args.min_players)
    print(devtokens.mint_join(signer, match_id=args.match, player_id=args.player, server_id=args.server,
                              room=room, name=args.player, ttl_s=args.ttl_s))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"elysium {args.command}: configuration error: {exc}", file=sys.stderr)
        return 2
    except tokens.KeyError_ as exc:
        print(f"elysium {args.command}: key error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
