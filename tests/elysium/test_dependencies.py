"""The kernel imports no service: services reach it, never the other way round (the
command registry in ``elysium/cli.py`` finds service commands by name, not by import)."""

from __future__ import annotations

import ast
from pathlib import Path

KERNEL = Path(__file__).resolve().parents[2] / "elysium"
SERVICES = ("gameserver", "matchmaker", "spectator", "commerce", "butler", "loadtest")


def imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_kernel_imports_no_service_package() -> None:
    modules = sorted(KERNEL.rglob("*.py"))
    assert len(modules) > 10
    for module in modules:
        for name in imported(module):
            assert name.split(".")[0] not in SERVICES, f"{module.relative_to(KERNEL.parent)} imports {name}"
