"""The butler's settings from the environment: defaults, the variable each failure names, secrets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from butler.settings import ButlerSettings
from elysium import config
from elysium.config import ConfigError

BASE = {"ELYSIUM_MONGO_URL": "mongodb://127.0.0.1:27017", "ELYSIUM_REDIS_URL": "redis://127.0.0.1:6379/0",
        "ELYSIUM_PLAYER_PUBLIC_KEY_FILE": "player.pub", "ELYSIUM_BUTLER_COMMERCE_URL": "http://127.0.0.1:7380",
        "ELYSIUM_BUTLER_MATCHMAKER_URL": "http://127.0.0.1:7360"}


def load(**env: str) -> ButlerSettings:
    return config.load(ButlerSettings, environ={**BASE, **env})


def test_defaults() -> None:
    s = load()
    assert (s.host, s.port, s.db_name, s.model) == ("127.0.0.1", 7390, "elysium_butler", "gpt-4o-mini")
    assert s.api_key() == ""  # no key: the offline engine
    assert s.default_daily_tokens <= s.max_daily_tokens


def test_the_default_port_is_no_other_services() -> None:
    from elysium.up import _collect

    ports = [svc.port for svc in _collect()]
    assert ports.count(7390) == 1


@pytest.mark.parametrize("missing", sorted(BASE))
def test_each_required_variable_is_named_when_missing(missing: str) -> None:
    env = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(ConfigError) as err:
        config.load(ButlerSettings, environ=env)
    assert err.value.variable == missing
    assert "not set" in err.value.problem


def test_the_public_key_may_be_given_inline() -> None:
    env = {k: v for k, v in BASE.items() if k != "ELYSIUM_PLAYER_PUBLIC_KEY_FILE"}
    s = config.load(ButlerSettings, environ={**env, "ELYSIUM_PLAYER_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----"})
    assert s.player_public_key


@pytest.mark.parametrize(("variable", "value"), [
    ("ELYSIUM_MONGO_URL", "postgres://db"),
    ("ELYSIUM_MONGO_URL", "mongodb://host:notaport"),
    ("ELYSIUM_REDIS_URL", "http://redis"),
    ("ELYSIUM_BUTLER_COMMERCE_URL", "commerce:7380"),
    ("ELYSIUM_BUTLER_COMMERCE_URL", "ftp://commerce"),
    ("ELYSIUM_BUTLER_MATCHMAKER_URL", "http://mm:99999"),
    ("ELYSIUM_BUTLER_MATCHMAKER_URL", "http://mm:7360/?x=1"),
    ("OPENAI_BASE_URL", "api.openai.com/v1"),
    ("ELYSIUM_BUTLER_PORT", "70000"),
    ("ELYSIUM_BUTLER_PROVIDER_TIMEOUT_S", "0"),
    ("ELYSIUM_BUTLER_PROVIDER_RETRIES", "many"),
    ("ELYSIUM_BUTLER_PROPOSAL_TTL_S", "1"),
    ("ELYSIUM_BUTLER_CHAT_LIMIT", "0"),
    ("ELYSIUM_BUTLER_MAX_DAILY_TOKENS", "-5"),
    ("ELYSIUM_BUTLER_DRAIN_TIMEOUT_S", "nan"),
    ("ELYSIUM_CORS_ORIGINS", "not an origin"),
])
def test_a_bad_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(**{variable: value})
    assert err.value.variable == variable


def test_the_default_budget_may_not_exceed_the_maximum() -> None:
    with pytest.raises(ConfigError) as err:
        load(ELYSIUM_BUTLER_DEFAULT_DAILY_TOKENS="1000", ELYSIUM_BUTLER_MAX_DAILY_TOKENS="999")
    assert err.value.variable == "ELYSIUM_BUTLER_DEFAULT_DAILY_TOKENS"


def test_the_api_key_from_its_file(tmp_path: Path) -> None:
    key = tmp_path / "openai.key"
    key.write_text("sk-test-123\n")
    assert load(ELYSIUM_BUTLER_OPENAI_API_KEY_FILE=str(key)).api_key() == "sk-test-123"
    assert load(OPENAI_API_KEY=" sk-inline ").api_key() == "sk-inline"


@pytest.mark.parametrize("content", [None, "", "two\nlines"])
def test_a_bad_api_key_file_stops_the_start(tmp_path: Path, content: str | None) -> None:
    key = tmp_path / "openai.key"
    if content is not None:
        key.write_text(content)
    with pytest.raises(ConfigError) as err:
        load(ELYSIUM_BUTLER_OPENAI_API_KEY_FILE=str(key))
    assert err.value.variable == "ELYSIUM_BUTLER_OPENAI_API_KEY_FILE"


def test_the_key_and_its_file_are_not_both_set(tmp_path: Path) -> None:
    key = tmp_path / "openai.key"
    key.write_text("sk-file")
    with pytest.raises(ConfigError) as err:
        load(OPENAI_API_KEY="sk-env", ELYSIUM_BUTLER_OPENAI_API_KEY_FILE=str(key))
    assert err.value.variable == "ELYSIUM_BUTLER_OPENAI_API_KEY_FILE"


def test_secrets_are_masked_and_never_repeated_in_errors() -> None:
    shown: dict[str, Any] = config.redacted(load(OPENAI_API_KEY="sk-secret-value"))
    assert shown["openai_api_key"] == "***" and shown["mongo_url"] == "***" and shown["redis_url"] == "***"
    with pytest.raises(ConfigError) as err:
        load(ELYSIUM_MONGO_URL="mongodb://user:hunter2@host:bad")
    assert "hunter2" not in str(err.value)
    secret = {v.env for v in config.describe(ButlerSettings)} & {"OPENAI_API_KEY"}
    assert secret == {"OPENAI_API_KEY"}
