"""The embedded MongoDB wire server (SecantusDB) as Elysium runs it: ``python -m elysium.mongod``.

``secantusd-py`` offers no flag for the transaction lifetime, and its default (60 s, mongod's
``transactionLifetimeLimitSeconds``) is what a killed client's open transactions keep their
documents locked for: after a crash mid-purchase, the wallets those transactions wrote refuse
every other writer until the server reaps them. Elysium's transactions are a few statements a
few milliseconds apart, so a transaction idle for :data:`TXN_LIFETIME_S` is a dead client's and is
aborted. Everything else is the daemon's own defaults (test commands off, single-node replica
set), as with ``secantusd-py``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from types import FrameType

TXN_LIFETIME_S = 10.0  # a transaction idle this long is aborted and its writes released


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m elysium.mongod", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--storage-path", required=True, help="data directory (reopened intact on restart)")
    parser.add_argument("--log-level", default="WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument("--transaction-lifetime-s", type=float, default=TXN_LIFETIME_S,
                        help=f"abort transactions idle this long (default {TXN_LIFETIME_S:g} s)")
    args = parser.parse_args(argv)
    if not args.transaction_lifetime_s > 0:
        parser.error("--transaction-lifetime-s must be greater than 0")
    from secantus.server import SecantusDBServer

    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = SecantusDBServer(host=args.host, port=args.port, storage_path=args.storage_path,
                              replica_set_name="secantus", enable_test_commands=False,
                              transaction_lifetime_seconds=args.transaction_lifetime_s)

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stop()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    server.start()
    server.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
