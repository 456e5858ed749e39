"""The compiled contracts committed beside this module (built by contracts/compile.mjs).

Running the platform needs no compiler: each artifact holds the ABI and the creation and
runtime bytecode of one contract, the compiler settings and a hash of the sources it came from.
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any

ARTIFACT_NAMES = ("ElysiumItems", "ElysiumRights")
_KEYS = ("contractName", "abi", "bytecode", "deployedBytecode", "compiler", "sourceHash")


class ArtifactError(Exception):
    """An artifact is unknown, missing or malformed (our bug, not the caller's)."""


@functools.cache
def _read(name: str) -> dict[str, Any]:
    if name not in ARTIFACT_NAMES:
        raise ArtifactError(f"unknown contract {name!r}; known: {', '.join(ARTIFACT_NAMES)}")
    path = resources.files(__package__).joinpath("artifacts", f"{name}.json")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"artifact {name}.json is missing; run: node contracts/compile.mjs") from None
    missing = [k for k in _KEYS if k not in doc]
    if missing or doc["contractName"] != name:
        raise ArtifactError(f"artifact {name}.json is malformed (missing {', '.join(missing) or 'nothing'})")
    return dict(doc)


def load_artifact(name: str) -> dict[str, Any]:
    """The artifact of contract `name` (a fresh copy each call: callers may change it)."""
    return copy.deepcopy(_read(name))


def all_abis() -> list[list[dict[str, Any]]]:
    """The ABIs of every contract, for decoding reverts of any of them."""
    return [load_artifact(name)["abi"] for name in ARTIFACT_NAMES]
