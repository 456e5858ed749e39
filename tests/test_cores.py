"""The pure cores: they import nothing from the edges, and they type-check strictly."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CORES = [
    "gameserver/protocol.py", "gameserver/wire.py", "gameserver/lifecycle.py", "gameserver/schedule.py",
    "gameserver/spec.py", "gameserver/room.py", "gameserver/modes/base.py", "gameserver/modes/arena.py",
    "gameserver/modes/arena_rules.py", "gameserver/modes/arena_world.py", "elysium/config.py", "elysium/errors.py",
    "elysium/redisreply.py",
    "commerce/ledger.py", "commerce/catalog.py", "commerce/pricing.py", "commerce/rules.py", "commerce/audit.py",
    "commerce/validation.py", "spectator/feed.py", "spectator/protocol.py",
]
EDGES = ("asyncio", "websockets.asyncio", "redis", "pymongo", "aiohttp", "uvloop", "socket", "web3")


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_cores_import_nothing_from_the_edges() -> None:
    for core in CORES:
        for name in imports(ROOT / core):
            assert not any(name == edge or name.startswith(edge + ".") for edge in EDGES), f"{core} imports {name}"


def test_cores_type_check_strictly() -> None:
    out = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--ignore-missing-imports", *CORES],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
