"""The committed artifacts: their loader, and a recompilation that must match them byte for byte."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from commerce.chain.artifacts import ARTIFACT_NAMES, ArtifactError, all_abis, load_artifact

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
COMMITTED = ROOT / "commerce" / "chain" / "artifacts"


def test_each_artifact_has_the_agreed_keys() -> None:
    for name in ARTIFACT_NAMES:
        art = load_artifact(name)
        assert set(art) == {"contractName", "abi", "bytecode", "deployedBytecode", "compiler", "sourceHash"}
        assert art["contractName"] == name
        assert art["bytecode"].startswith("0x6") and len(art["deployedBytecode"]) > 1000
        assert art["compiler"]["evmVersion"] == "prague" and art["compiler"]["optimizer"]["enabled"]
        assert len(art["sourceHash"]) == 64
    assert len(all_abis()) == len(ARTIFACT_NAMES)


def test_a_loaded_artifact_is_a_copy() -> None:
    load_artifact("ElysiumItems")["abi"].clear()
    assert load_artifact("ElysiumItems")["abi"]


def test_an_unknown_contract_is_a_clear_error() -> None:
    with pytest.raises(ArtifactError, match="unknown contract 'Nope'; known: ElysiumItems, ElysiumRights"):
        load_artifact("Nope")


def _compile(*args: str) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (scripts/bootstrap.sh dev installs it where it can)")
    assert (CONTRACTS / "node_modules" / "solc").is_dir(), "run scripts/bootstrap.sh dev (npm ci in contracts/)"
    return subprocess.run([node, str(CONTRACTS / "compile.mjs"), *args], capture_output=True, text=True,
                          timeout=600, check=False)


def test_the_committed_artifacts_are_what_the_sources_compile_to(tmp_path: Path) -> None:
    # Compile into a scratch folder and compare file by file, so a failure shows what differs.
    done = _compile("--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    for name in ARTIFACT_NAMES:
        fresh = json.loads((tmp_path / f"{name}.json").read_text())
        committed = load_artifact(name)
        for key in fresh:
            assert fresh[key] == committed[key], f"{name}.json: {key} differs; run: node contracts/compile.mjs"
        assert (tmp_path / f"{name}.json").read_bytes() == (COMMITTED / f"{name}.json").read_bytes()


def test_the_check_fails_on_stale_artifacts(tmp_path: Path) -> None:
    for name in ARTIFACT_NAMES:
        shutil.copy(COMMITTED / f"{name}.json", tmp_path)
    stale = json.loads((tmp_path / "ElysiumRights.json").read_text())
    stale["bytecode"] = stale["bytecode"][:-2] + "00"
    (tmp_path / "ElysiumRights.json").write_text(json.dumps(stale, indent=2) + "\n")
    done = _compile("--check", "--out", str(tmp_path))
    assert done.returncode == 1
    assert "artifacts differ from the sources: ElysiumRights" in done.stderr
