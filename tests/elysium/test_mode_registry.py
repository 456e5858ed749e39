"""Finding modes through the ``elysium.modes`` entry points, and the one-line start-up errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from importlib.metadata import EntryPoint, entry_points

import pytest

from elysium import tokens
from elysium.modes import GROUP, ModeLoadError, check_mode, load_modes
from elysium.modes.registry import enabled_names
from gameserver.modes.arena import Arena
from tests.modes.tug import Tug


def point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=GROUP)


FOUND = [point("arena", "gameserver.modes.arena:Arena"), point("tug", "tests.modes.tug:Tug")]


def test_the_arena_is_registered_as_an_entry_point_of_this_install() -> None:
    names = {p.name: p.value for p in entry_points(group=GROUP)}
    assert names["arena"] == "gameserver.modes.arena:Arena"
    assert load_modes(["arena"]) == {"arena": Arena}


def test_every_mode_found_is_loaded_unless_elysium_modes_names_some() -> None:
    assert load_modes(None, FOUND) == {"arena": Arena, "tug": Tug}
    assert load_modes(enabled_names("tug"), FOUND) == {"tug": Tug}
    assert load_modes(enabled_names(" tug , arena,"), FOUND) == {"tug": Tug, "arena": Arena}
    assert enabled_names("") is None and enabled_names(" , ") is None


@pytest.mark.parametrize(("found", "enabled", "words"), [
    ([point("cards", "tests.modes.import_fails:Cards")], None,
     ["'cards'", "failed to import tests.modes.import_fails:Cards", "studio_physics"]),
    ([point("cards", "tests.modes.tug:NoSuchClass")], None, ["'cards'", "failed to import", "NoSuchClass"]),
    ([point("not-a-mode", "tests.modes.broken:NotAMode")], None, ["'not-a-mode'", "not a GameMode subclass"]),
    ([point("bad-columns", "tests.modes.broken:BadColumns")], None, ["'bad-columns'", "columns must be a Columns"]),
    ([point("future-api", "tests.modes.broken:FutureApi")], None, ["'future-api'", "mode API 99", "offers 1"]),
    ([point("bad-option", "tests.modes.broken:BadOption")], None, ["'bad-option'", "option rounds"]),
    ([point("rope", "tests.modes.tug:Tug")], None, ["'rope'", "entry point is named 'rope'", "named 'tug'"]),
    (FOUND, ["chess"], ["'chess'", "is not installed", "arena, tug"]),
    ([], None, ["no game modes found"]),
])
def test_a_mode_that_cannot_be_hosted_is_a_one_line_error_naming_it(
        found: list[EntryPoint], enabled: list[str] | None, words: list[str]) -> None:
    with pytest.raises(ModeLoadError) as err:
        load_modes(enabled, found)
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message


def test_check_mode_accepts_the_shipped_and_the_example_modes() -> None:
    assert check_mode(Arena) is Arena and check_mode(Tug) is Tug


def test_the_game_server_refuses_to_start_with_a_mode_it_cannot_host(tmp_path: Path) -> None:
    """``elysium gameserver`` exits at start with one line naming the mode, no traceback."""
    _, key = tokens.generate_keypair(tmp_path, "join")
    env = {**os.environ, "ELYSIUM_MODES": "arena,chess", "ELYSIUM_REDIS_URL": "redis://127.0.0.1:1/0",
           "ELYSIUM_JOIN_PUBLIC_KEY_FILE": str(key), "ELYSIUM_GAMESERVER_PORT": "0"}
    done = subprocess.run([sys.executable, "-m", "elysium", "gameserver"], capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if "chess" in line]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("elysium gameserver: cannot start: ModeLoadError: game mode 'chess': is not installed "
                               "(modes found: arena"), done.stderr  # and the other installed modes
    assert "Traceback" not in done.stderr
