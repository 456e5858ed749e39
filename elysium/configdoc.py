"""The configuration table in README.md, generated from every service's settings class.

    python -m elysium.configdoc            # print the table
    python -m elysium.configdoc --write    # rewrite it in README.md between the markers

A test fails when README.md and the settings classes disagree.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from pathlib import Path

from elysium.cli import SERVICE_PACKAGES
from elysium.config import Variable, describe

BEGIN = "<!-- config-table:begin -->"
END = "<!-- config-table:end -->"


def settings_classes() -> list[tuple[str, type]]:
    found = []
    for package in SERVICE_PACKAGES:
        try:
            module = importlib.import_module(f"{package}.settings")
        except ModuleNotFoundError as exc:
            if exc.name in (package, f"{package}.settings"):
                continue
            raise
        for value in vars(module).values():
            if (isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == module.__name__
                    and describe(value)):
                found.append((package, value))
    return found


def markdown() -> str:
    rows: dict[str, tuple[Variable, list[str]]] = {}
    for package, cls in settings_classes():
        for var in describe(cls):
            if var.env in rows:
                rows[var.env][1].append(package)
            else:
                rows[var.env] = (var, [package])
    lines = ["| variable | default | unit | used by | meaning |", "| --- | --- | --- | --- | --- |"]
    for env in sorted(rows):
        var, users = rows[env]
        lines.append(f"| `{env}` | `{var.default}` | {var.unit} | {', '.join(sorted(set(users)))} | {var.help} |")
    return "\n".join(lines)


def write(readme: Path) -> None:
    text = readme.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    readme.write_text(text[:start] + "\n" + markdown() + "\n" + text[end:])


if __name__ == "__main__":
    if "--write" in sys.argv:
        write(Path(__file__).resolve().parent.parent / "README.md")
    else:
        print(markdown())
