from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from elysium import config
from elysium.config import ConfigError, between, setting

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Sample:
    rate_hz: int = setting("ELYSIUM_T_RATE_HZ", 20, "rate", unit="Hz", check=between(1, 60))
    grace_s: float = setting("ELYSIUM_T_GRACE_S", 2.5, "grace", unit="s")
    on: bool = setting("ELYSIUM_T_ON", False, "flag")
    names: tuple[str, ...] = setting("ELYSIUM_T_NAMES", ("a",), "names")
    secret: str = setting("ELYSIUM_T_SECRET", "", "secret", secret=True)


def test_defaults_and_environment_values_are_parsed() -> None:
    assert config.load(Sample, environ={}) == Sample()
    got = config.load(Sample, environ={"ELYSIUM_T_RATE_HZ": "30", "ELYSIUM_T_GRACE_S": "0.5", "ELYSIUM_T_ON": "yes",
                                       "ELYSIUM_T_NAMES": "x, y", "ELYSIUM_T_SECRET": "hunter2"})
    assert (got.rate_hz, got.grace_s, got.on, got.names) == (30, 0.5, True, ("x", "y"))
    assert config.redacted(got)["secret"] == "***"


@dataclass(frozen=True)
class Secretive:
    url: str = setting("ELYSIUM_T_URL", "", "url", secret=True,
                       check=lambda v: None if v.startswith("db://") else "must begin with db://")


def test_a_bad_secret_is_named_but_not_repeated() -> None:
    with pytest.raises(ConfigError) as err:
        config.load(Secretive, environ={"ELYSIUM_T_URL": "http://user:hunter2@db"})
    assert str(err.value) == "ELYSIUM_T_URL: must begin with db://"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ELYSIUM_T_RATE_HZ": "fast"}, "ELYSIUM_T_RATE_HZ: must be a whole number"),
        ({"ELYSIUM_T_RATE_HZ": "61"}, "ELYSIUM_T_RATE_HZ: must be between 1 and 60"),
        ({"ELYSIUM_T_GRACE_S": "nan"}, "ELYSIUM_T_GRACE_S: must be a finite number"),
        ({"ELYSIUM_T_ON": "maybe"}, "ELYSIUM_T_ON: must be true or false"),
    ],
)
def test_a_bad_value_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config.load(Sample, environ=env)
    assert str(info.value).startswith(message)


def test_settings_are_frozen() -> None:
    s = config.load(Sample, environ={})
    with pytest.raises(AttributeError):
        s.rate_hz = 5  # type: ignore[misc]  # the point: assigning to a frozen field


def test_readme_configuration_table_matches_every_settings_class() -> None:
    from elysium import configdoc

    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index(configdoc.BEGIN) + len(configdoc.BEGIN):readme.index(configdoc.END)].strip()
    assert block == configdoc.markdown(), "run: python -m elysium.configdoc --write"
    assert len(configdoc.settings_classes()) >= 1


def test_ci_runs_the_test_command_that_readme_gives() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "scripts/test    # run the whole test suite" in readme
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("value,why", [
    ("ftp://host:21", "must be an http(s) URL"),
    ("http://host:99999", "the port is not a number"),
    ("http://user:secret@host:7380", "no credentials, query or fragment"),
    ("http://host:7380/?x=1", "no credentials, query or fragment"),
])
def test_a_service_base_url_that_is_not_one_is_named(value: str, why: str) -> None:
    assert why in (config.http_url(value) or "")


def test_a_service_base_url_passes() -> None:
    assert config.http_url("https://commerce.internal:7380/base") is None
    assert config.http_url("") is None  # unset: the settings class says whether it is needed
