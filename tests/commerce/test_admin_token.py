"""``elysium commerce admin-token`` as README writes it: after ``scripts/up`` it signs with the
service key ``elysium up`` made, and with no key anywhere it names the flag and the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from commerce.api import ADMIN_SCOPE, MODERATION_SCOPE
from elysium import tokens

ROOT = Path(__file__).resolve().parents[2]


def without_settings() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("ELYSIUM_")},
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def admin_token(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "elysium", "commerce", "admin-token", *args], cwd=cwd,
                          env=without_settings(), capture_output=True, text=True, timeout=60)


def test_without_a_key_the_variable_and_the_flag_are_named(tmp_path: Path) -> None:
    done = admin_token(tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    said = done.stderr.strip().splitlines()
    assert len(said) == 1 and said[0].startswith("elysium commerce admin-token: no service private key: "), said
    assert "ELYSIUM_SERVICE_PRIVATE_KEY_FILE" in said[0] and "--key-file" in said[0]


def test_after_elysium_up_it_signs_with_the_key_up_made(tmp_path: Path) -> None:
    tokens.ensure_keypair(tmp_path / ".elysium" / "keys", "service")  # what elysium up does on its first start
    done = admin_token(tmp_path)
    assert done.returncode == 0, done.stderr
    verifier = tokens.Verifier(tokens.load_public_key(path=str(tmp_path / ".elysium" / "keys" / "service.pub")))
    claims = verifier.verify(done.stdout.strip(), tokens.SERVICE_AUDIENCE)
    # By default it carries every scope the operator console needs, commerce's admin among them.
    assert claims["scope"].split() == [ADMIN_SCOPE, "matchmaker:admin", "gameserver:admin"]
    assert claims["sub"] == "operator"


def test_scopes_can_be_named_one_by_one(tmp_path: Path) -> None:
    tokens.ensure_keypair(tmp_path / ".elysium" / "keys", "service")
    done = admin_token(tmp_path, "--scope", "gameserver:admin", "--scope", ADMIN_SCOPE, "--scope", "gameserver:admin")
    assert done.returncode == 0, done.stderr
    verifier = tokens.Verifier(tokens.load_public_key(path=str(tmp_path / ".elysium" / "keys" / "service.pub")))
    assert verifier.verify(done.stdout.strip(), tokens.SERVICE_AUDIENCE)["scope"] == "gameserver:admin commerce:admin"


def test_a_moderation_only_token_names_its_operator(tmp_path: Path) -> None:
    tokens.ensure_keypair(tmp_path / ".elysium" / "keys", "service")
    done = admin_token(tmp_path, "--scope", MODERATION_SCOPE, "--subject", "mod-anna")
    assert done.returncode == 0, done.stderr
    verifier = tokens.Verifier(tokens.load_public_key(path=str(tmp_path / ".elysium" / "keys" / "service.pub")))
    claims = verifier.verify(done.stdout.strip(), tokens.SERVICE_AUDIENCE)
    assert claims["scope"] == MODERATION_SCOPE and claims["sub"] == "mod-anna"
    assert admin_token(tmp_path, "--scope", "commerce:everything").returncode == 2
