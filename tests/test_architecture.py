"""docs/architecture.md shows the imports the code has today (``scripts/archdoc.py --check``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "archdoc.py"


def archdoc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def test_the_architecture_page_is_up_to_date() -> None:
    out = archdoc("--check")
    assert out.returncode == 0, out.stderr


def test_a_stale_page_fails_the_check_with_one_line(tmp_path: Path) -> None:
    page = tmp_path / "architecture.md"
    page.write_text((ROOT / "docs" / "architecture.md").read_text().replace("graph LR", "graph TD"))
    out = archdoc("--check", "--doc", str(page))
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == ["architecture.md is out of date: run python scripts/archdoc.py"]
    assert archdoc("--doc", str(page)).returncode == 0  # rewriting it makes it current
    assert archdoc("--check", "--doc", str(page)).returncode == 0
