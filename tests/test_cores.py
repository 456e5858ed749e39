"""The pure cores: they import nothing from the edges, only other cores, and they type-check strictly.

One list of cores for every package, one list of edges. A core is plain Python over plain
data (protocol codecs, rules, data types); sockets, event loops, databases and the chain sit
in the adapters around it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.importgraph import KERNEL, SERVICES, file_imports, module_name

ROOT = Path(__file__).resolve().parent.parent

CORES = (
    "elysium/config.py", "elysium/cors.py", "elysium/errors.py", "elysium/numbers.py", "elysium/problem.py",
    "elysium/results.py", "elysium/redisreply.py", "elysium/redisurls.py", "elysium/matchids.py", "elysium/agones.py", "elysium/forwarded.py",
    "elysium/ws/frames.py", "elysium/ws/envelope.py", "elysium/ws/play.py", "elysium/ws/replica.py",
    "elysium/ws/fanout.py", "elysium/feeds/__init__.py", "elysium/feeds/model.py", "elysium/feeds/ports.py",
    "elysium/feeds/buffer.py",
    "elysium/modes/__init__.py", "elysium/modes/api.py", "elysium/modes/schema.py", "elysium/modes/options.py",
    "elysium/modes/columns.py", "elysium/modes/declaration.py", "elysium/modes/registry.py",
    "gameserver/protocol.py", "gameserver/lifecycle.py", "gameserver/schedule.py",
    "gameserver/spec.py", "gameserver/room.py", "gameserver/modes/__init__.py", "gameserver/modes/base.py",
    "gameserver/modes/arena.py", "gameserver/modes/arena_rules.py", "gameserver/modes/arena_world.py",
    "gameserver/modes/koth.py", "gameserver/modes/koth_rules.py",
    "gameserver/modes/cards.py", "gameserver/modes/cards_rules.py", "gameserver/views.py",
    "matchmaker/core.py", "matchmaker/modes.py", "matchmaker/skill.py", "matchmaker/ranking.py",
    "matchmaker/records.py", "matchmaker/gamerules.py", "matchmaker/codes.py",
    "spectator/feed.py", "spectator/protocol.py",
    "commerce/ledger.py", "commerce/catalog.py", "commerce/pricing.py", "commerce/rules.py", "commerce/audit.py",
    "commerce/validation.py", "commerce/payments/provider.py", "commerce/payments/rules.py",
    "commerce/payments/auditing.py", "commerce/trading.py", "commerce/market.py", "commerce/friendship.py", "commerce/siwe.py",
    "commerce/chain/artifacts.py", "commerce/chain/errors.py",
)
EDGES = ("asyncio", "uvloop", "socket", "selectors", "ssl", "websockets", "aiohttp", "redis", "pymongo", "motor",
         "bson", "web3", "argon2")
NOT_EDGES = ("websockets.speedups",)  # the C masking helper: bytes in, bytes out
CORE_MODULES = frozenset(module_name(ROOT, ROOT / core) for core in CORES)


def is_edge(name: str) -> bool:
    def under(prefix: str) -> bool:
        return name == prefix or name.startswith(prefix + ".")

    return any(under(edge) for edge in EDGES) and not any(under(ok) for ok in NOT_EDGES)


@pytest.mark.parametrize("core", CORES)
def test_core_imports_nothing_from_the_edges(core: str) -> None:
    found = [f"{imp.where()} imports {imp.name}" for imp in file_imports(ROOT, ROOT / core) if is_edge(imp.name)]
    assert not found, found


@pytest.mark.parametrize("core", CORES)
def test_core_imports_from_the_project_only_other_cores(core: str) -> None:
    found = [f"{imp.where()} imports {imp.name}, which is not a core"
             for imp in file_imports(ROOT, ROOT / core)
             if imp.top in (KERNEL, *SERVICES) and (imp.dynamic or imp.name not in CORE_MODULES)]
    assert not found, found


def test_the_edge_check_can_fail() -> None:
    assert is_edge("asyncio") and is_edge("redis.asyncio") and is_edge("websockets.asyncio.server")
    assert not is_edge("websockets.speedups") and not is_edge("asyncio_extras") and not is_edge("msgpack")


def test_cores_type_check_strictly() -> None:
    out = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--ignore-missing-imports", *CORES],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
