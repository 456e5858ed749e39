"""The dependency rule: a service imports only ``elysium`` and itself; ``elysium`` imports no service.

Every import counts, including those inside functions and under ``TYPE_CHECKING``. The one
exception is the kernel's service registry, which finds each service's modules by a computed
name rather than naming any service (see ``REGISTRY``). Benchmarks and tests may import any
part of the project.

The licence rule: the embedded MongoDB server (SecantusDB, GPL-2.0) is an optional extra that
runs as its own process (``secantusd-py``); no module of the project (Apache-2.0), tests,
benchmarks and scripts included, imports its Python package (``FORBIDDEN``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.importgraph import KERNEL, SERVICES, package_imports

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("secantus",)  # run as a separate process, never imported
EVERY_PACKAGE = (KERNEL, *SERVICES, "tests", "benchmarks", "scripts")

# (file, function, module suffix): the only computed imports the kernel may make.
REGISTRY = {
    # The command registry: ``<service>.cli`` adds its subcommands with ``add_commands`` and lists
    # its ``STACK_SERVICES`` (``elysium up`` collects those through this same function).
    ("elysium/cli.py", "_service_modules", ".cli"),
    # The configuration table in README.md, read from each ``<service>.settings``.
    ("elysium/configdoc.py", "settings_classes", ".settings"),
}


def violations(root: Path) -> list[str]:
    found: list[str] = []
    for package in (KERNEL, *SERVICES):
        for imp in package_imports(root, package):
            if imp.dynamic:
                if (imp.path, imp.function, imp.name) not in REGISTRY:
                    found.append(f"{imp.where()}: {imp.module} imports a computed module name (…{imp.name})")
            elif imp.top in SERVICES and imp.top != package:
                found.append(f"{imp.where()}: {imp.module} imports {imp.name}")
    return found


def forbidden_imports(root: Path) -> list[str]:
    return [f"{imp.where()}: {imp.module} imports {imp.name}"
            for package in EVERY_PACKAGE for imp in package_imports(root, package) if imp.top in FORBIDDEN]


def test_no_package_imports_another_service() -> None:
    found = violations(ROOT)
    assert not found, "the dependency rule is broken:\n" + "\n".join(found)


def test_no_module_imports_the_embedded_mongodb_server() -> None:
    found = forbidden_imports(ROOT)
    assert not found, "SecantusDB runs as its own process (secantusd-py), never imported:\n" + "\n".join(found)


# --- the checker itself, on small synthetic trees --------------------------------------------


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


CLEAN = {
    "elysium/__init__.py": "",
    "elysium/wire.py": "import asyncio\n",
    "elysium/cli.py": (
        "import importlib\n"
        "def _service_modules():\n"
        "    return [importlib.import_module(f'{name}.cli') for name in ('gameserver', 'spectator')]\n"
    ),
    "gameserver/__init__.py": "",
    "gameserver/cli.py": "from elysium.cli import _service_modules\nfrom gameserver import wire\n",
    "gameserver/wire.py": "from elysium.wire import asyncio\nfrom . import cli\n",
    "spectator/__init__.py": "",
    "spectator/relay.py": "from elysium import wire\nfrom .feed import x\n\ndef f():\n    import spectator.feed\n",
    "spectator/feed.py": "x = 1\n",
    "benchmarks/bench.py": "import gameserver.wire\nimport spectator.relay\n",
}


def test_a_tree_that_keeps_the_rule_passes(tmp_path: Path) -> None:
    assert violations(write_tree(tmp_path, CLEAN)) == []


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("spectator/relay.py", "from gameserver import wire\n", "spectator/relay.py:1: spectator.relay imports gameserver.wire"),
    ("spectator/relay.py", "import os\n\nasync def f():\n    import gameserver.wire as w\n",
     "spectator/relay.py:4: spectator.relay imports gameserver.wire"),
    ("spectator/relay.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from gameserver.wire import X\n",
     "spectator/relay.py:3: spectator.relay imports gameserver.wire"),
    ("spectator/sub/deep.py", "from ...gameserver import wire\n", "spectator/sub/deep.py:1: spectator.sub.deep imports gameserver.wire"),
    ("loadtest/flows.py", "import importlib\nm = importlib.import_module('commerce.x')\n",
     "loadtest/flows.py:2: loadtest.flows imports commerce.x"),
    ("elysium/up.py", "def run():\n    from gameserver import devtokens\n", "elysium/up.py:2: elysium.up imports gameserver"),
    ("elysium/up.py", "import importlib\ndef f(n):\n    return importlib.import_module(f'{n}.cli')\n",
     "elysium/up.py:3: elysium.up imports a computed module name (….cli)"),
    ("butler/chat.py", "from matchmaker.api import x\n", "butler/chat.py:1: butler.chat imports matchmaker.api"),
])
def test_a_tree_that_breaks_the_rule_fails_naming_the_line(tmp_path: Path, name: str, text: str,
                                                          expected: str) -> None:
    root = write_tree(tmp_path, CLEAN)
    write_tree(root, {name: text})
    assert violations(root) == [expected]


def test_a_tree_without_secantus_imports_passes(tmp_path: Path) -> None:
    clean = {**CLEAN, "scripts/run.py": "import subprocess\nsubprocess.run(['secantusd-py', '--port', '1'])\n"}
    assert forbidden_imports(write_tree(tmp_path, clean)) == []


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("elysium/mongod.py", "def main():\n    from secantus.server import SecantusDBServer\n",
     "elysium/mongod.py:2: elysium.mongod imports secantus.server"),
    ("commerce/store.py", "import secantus\n", "commerce/store.py:1: commerce.store imports secantus"),
    ("tests/conftest.py", "import importlib\nm = importlib.import_module('secantus.storage')\n",
     "tests/conftest.py:2: tests.conftest imports secantus.storage"),
    ("benchmarks/bench.py", "from secantus import transactions\n",
     "benchmarks/bench.py:1: benchmarks.bench imports secantus"),
    ("scripts/tool.py", "import secantus.cli as c\n", "scripts/tool.py:1: scripts.tool imports secantus.cli"),
])
def test_a_secantus_import_anywhere_fails_naming_the_line(tmp_path: Path, name: str, text: str,
                                                         expected: str) -> None:
    root = write_tree(tmp_path, CLEAN)
    write_tree(root, {name: text})
    assert forbidden_imports(root) == [expected]
