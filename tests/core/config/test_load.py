"""Loading valid configs: the objects, defaults, paths, secrets and immutability."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pydantic
import pytest

from bots.config_models import load_config
from bots.console_config import ConsoleBotConfig
from bots.discord.config import DiscordBotConfig
from bots.slack.config import SlackBotConfig
from core.config import Config, Override, SecretRef
from core.errors import ConfigError, ConfigFileMissing

VALID = Path(__file__).parents[2] / "configs" / "valid"
FULL_ENV = {"OPENAI_API_KEY": "sk-openai-value", "SLACK_BOT_TOKEN": "xoxb-value", "USER": "ann"}
MINIMAL = """\
personas:
  helper:
    system_prompt: "You are {bot_name}."
    model: gpt-4o-mini
bots:
  - name: console
    platform: console
    persona: helper
"""

WriteConfig = Callable[[str], Path]


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    def write(text: str) -> Path:
        path = tmp_path / "bots.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def test_full_example_loads_into_the_right_objects() -> None:
    config = load_config(VALID / "full.yaml", FULL_ENV)

    assert set(config.providers) == {"openai", "local"}
    assert config.providers["local"].base_url == "http://127.0.0.1:11434/v1"
    assert config.providers["local"].api_key is None
    assert config.personas["pirate"].vision is True
    assert config.personas["pirate"].examples[0].assistant.startswith("Arr")
    assert config.personas["local-coder"].provider == "local"
    assert [type(bot) for bot in config.bots] == [
        ConsoleBotConfig,
        SlackBotConfig,
        DiscordBotConfig,
    ]
    slack = config.bot("team-slack")
    assert slack.workspaces["T0123ABCD"] == Override(persona="pirate")
    assert slack.channels["C0456EFGH"].persona is None
    assert config.limits.history_messages == 120


def test_discord_ids_given_as_numbers_become_strings() -> None:
    discord = load_config(VALID / "full.yaml", FULL_ENV).bot("community")

    assert list(discord.workspaces) == ["123456789012345678"]
    assert list(discord.channels) == ["234567890123456789"]


def test_minimal_config_gets_defaults(write_config: WriteConfig) -> None:
    path = write_config(MINIMAL)
    config = load_config(path, {"OPENAI_API_KEY": "sk-x", "USER": "ann"})

    openai = config.providers["openai"]
    assert (openai.name, openai.base_url, openai.timeout, openai.max_retries) == (
        "openai",
        None,
        60.0,
        2,
    )
    assert openai.api_key is not None and openai.api_key.variable == "OPENAI_API_KEY"
    persona = config.personas["helper"]
    assert (persona.name, persona.provider, persona.max_tokens, persona.context_tokens) == (
        "helper",
        "openai",
        1024,
        16000,
    )
    assert (persona.temperature, persona.top_p, persona.reasoning_effort) == (None, None, None)
    assert persona.examples == () and persona.vision is False
    bot = config.bot("console")
    assert isinstance(bot, ConsoleBotConfig) and bot.user_name == "ann"
    assert config.storage.path == path.parent / "data" / "parley.db"
    assert (config.limits.attachment_chars, config.limits.history_messages) == (20000, 200)
    assert (config.limits.first_text_seconds, config.limits.reply_seconds) == (90.0, 300.0)
    assert config.limits.reply_chars == 40_000
    assert config.source == path


def test_storage_path_resolves_against_the_config_directory(write_config: WriteConfig) -> None:
    path = write_config(MINIMAL + "storage:\n  path: state/chat.db\n")

    config = load_config(path, {})

    assert config.storage.path == path.parent / "state" / "chat.db"
    assert config.storage.path.is_absolute()


def test_storage_url_takes_its_password_from_the_environment_and_never_shows_it(
    write_config: WriteConfig,
) -> None:
    url = "postgresql://parley:${PGPASSWORD}@db.internal:5432/parley"
    path = write_config(MINIMAL + f"storage:\n  url: {url}\n  pool_max: 4\n")

    config = load_config(path, {"PGPASSWORD": "s3cret-pw"})

    assert config.storage.url == "postgresql://parley:s3cret-pw@db.internal:5432/parley"
    assert (config.storage.pool_min, config.storage.pool_max) == (2, 4)
    assert config.storage.describe() == "postgresql://parley@db.internal:5432/parley"


def test_an_empty_storage_url_keeps_the_sqlite_file(write_config: WriteConfig) -> None:
    path = write_config(MINIMAL + "storage:\n  url: ${PARLEY_DATABASE_URL:-}\n")

    config = load_config(path, {})

    assert config.storage.url is None
    assert config.storage.describe() == str(path.parent / "data" / "parley.db")


def test_absolute_storage_path_is_kept(write_config: WriteConfig, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "p.db"
    config = load_config(write_config(MINIMAL + f"storage:\n  path: {target}\n"), {})

    assert config.storage.path == target


def test_secrets_are_listed_set_or_not() -> None:
    config = load_config(VALID / "full.yaml", FULL_ENV)

    listed = {(use.path, use.variable, use.is_set) for use in config.secrets}
    assert listed == {
        ("providers.openai.api_key", "OPENAI_API_KEY", True),
        ("bots[1].bot_token", "SLACK_BOT_TOKEN", True),
        ("bots[1].app_token", "SLACK_APP_TOKEN", False),
        ("bots[2].token", "DISCORD_TOKEN", False),
    }


def test_implicit_openai_key_is_a_listed_secret(write_config: WriteConfig) -> None:
    config = load_config(write_config(MINIMAL), {})

    [use] = config.secrets
    assert (use.path, use.variable, use.is_set) == (
        "providers.openai.api_key",
        "OPENAI_API_KEY",
        False,
    )


def test_secret_reveals_its_value_but_never_shows_it() -> None:
    config = load_config(VALID / "full.yaml", FULL_ENV)
    slack = config.bot("team-slack")
    assert isinstance(slack, SlackBotConfig)

    assert slack.bot_token.reveal() == "xoxb-value"
    assert slack.bot_token.is_set
    assert repr(slack.bot_token) == "SecretRef(SLACK_BOT_TOKEN, set)"
    assert str(slack.bot_token) == "SecretRef(SLACK_BOT_TOKEN, set)"
    for shown in (repr(config), str(config), repr(slack), repr(config.secrets)):
        assert "xoxb-value" not in shown
        assert "sk-openai-value" not in shown


def test_revealing_an_unset_secret_names_variable_path_and_line() -> None:
    slack = load_config(VALID / "full.yaml", FULL_ENV).bot("team-slack")
    assert isinstance(slack, SlackBotConfig) and slack.app_token is not None

    with pytest.raises(ConfigError) as caught:
        slack.app_token.reveal()

    [issue] = caught.value.issues
    assert issue.line == 48
    assert issue.path == "bots[1].app_token"
    assert "environment variable SLACK_APP_TOKEN is not set (needed by bots[1].app_token)" in str(
        issue
    )


def test_empty_environment_value_counts_as_unset() -> None:
    ref = SecretRef.from_env("TOKEN", "bots[0].token", 3, "bots.yaml", {"TOKEN": ""})

    assert not ref.is_set
    assert repr(ref) == "SecretRef(TOKEN, not set)"


def test_interpolation_uses_the_variable_or_the_default(write_config: WriteConfig) -> None:
    text = MINIMAL.replace("gpt-4o-mini", "${MODEL:-gpt-4o-mini}") + (
        "providers:\n  openai:\n    base_url: ${BASE}/v1\n    timeout: ${TIMEOUT:-30}\n"
    )
    path = write_config(text)

    defaulted = load_config(path, {"BASE": "http://llm.local", "MODEL": ""})
    chosen = load_config(path, {"BASE": "https://x.example", "MODEL": "o4-mini", "TIMEOUT": "5"})

    assert defaulted.personas["helper"].model == "gpt-4o-mini"
    assert defaulted.providers["openai"].base_url == "http://llm.local/v1"
    assert defaulted.providers["openai"].timeout == 30.0
    assert chosen.personas["helper"].model == "o4-mini"
    assert chosen.providers["openai"].timeout == 5.0


def test_escaped_reference_stays_literal(write_config: WriteConfig) -> None:
    example = '    examples:\n      - {user: "what is $${HOME}?", assistant: a variable}\n'
    config = load_config(write_config(MINIMAL.replace("bots:", example + "bots:")), {})

    assert config.personas["helper"].examples[0].user == "what is ${HOME}?"


def test_config_objects_are_frozen() -> None:
    config = load_config(VALID / "full.yaml", FULL_ENV)
    slack = config.bot("team-slack")

    with pytest.raises(pydantic.ValidationError):
        config.personas["helper"].model = "other"  # type: ignore[misc]  # proving it is refused
    with pytest.raises(TypeError):
        config.personas["new"] = config.personas["helper"]  # type: ignore[index]  # read-only
    with pytest.raises(TypeError):
        slack.channels["C999"] = Override(persona="helper")  # type: ignore[index]  # read-only
    with pytest.raises(AttributeError):
        config.bots.append(slack)  # type: ignore[attr-defined]  # tuples have no append


def test_unknown_bot_name_is_a_helpful_key_error() -> None:
    config = load_config(VALID / "full.yaml", FULL_ENV)

    with pytest.raises(KeyError, match="did you mean 'community'"):
        config.bot("comunity")


def test_every_problem_is_reported_not_just_the_first(write_config: WriteConfig) -> None:
    text = MINIMAL.replace("model: gpt-4o-mini", "model: gpt-4o-mini\n    temperature: hot") + (
        "  - name: console\n    platform: console\n    persona: pirat\n"
    )

    with pytest.raises(ConfigError) as caught:
        load_config(write_config(text), {})

    messages = [str(issue) for issue in caught.value.issues]
    assert len(messages) == 3, messages
    assert messages[0].endswith(
        "bots.yaml:5 personas.helper.temperature: expected a number, got 'hot'"
    )


def test_missing_file_is_one_issue_without_a_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml", {})

    [issue] = caught.value.issues
    message = f"no file at {tmp_path / 'nope.yaml'}"
    assert (issue.line, issue.path, issue.message) == (None, "", message)
    assert issue.file == str(tmp_path / "nope.yaml")
    assert isinstance(caught.value, ConfigFileMissing)


def test_directory_is_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, {})

    [issue] = caught.value.issues
    assert issue.message.startswith("cannot read the file")


def test_environment_defaults_to_the_process(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-process")

    config: Config = load_config(write_config(MINIMAL))

    key = config.providers["openai"].api_key
    assert key is not None and key.reveal() == "sk-from-process"


def test_a_turn_deadline_must_be_positive(write_config: WriteConfig) -> None:
    path = write_config(MINIMAL + "limits: {first_text_seconds: 0, reply_seconds: 5}\n")

    with pytest.raises(ConfigError) as caught:
        load_config(path, {})

    assert "limits.first_text_seconds" in str(caught.value)


SLACK_BOT = (
    "  - name: team\n    platform: slack\n    persona: helper\n"
    "    bot_token: ${SLACK_BOT_TOKEN}\n    app_token: ${SLACK_APP_TOKEN}\n"
)
SLACK_ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "OPENAI_API_KEY": "sk-x"}


def test_slack_streams_natively_unless_told_to_edit(write_config: WriteConfig) -> None:
    bot = load_config(write_config(MINIMAL + SLACK_BOT), SLACK_ENV).bot("team")
    assert isinstance(bot, SlackBotConfig) and bot.streaming == "native"
    edits = MINIMAL + SLACK_BOT + "    streaming: edits\n"
    bot = load_config(write_config(edits), SLACK_ENV).bot("team")
    assert isinstance(bot, SlackBotConfig) and bot.streaming == "edits"
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(MINIMAL + SLACK_BOT + "    streaming: live\n"), SLACK_ENV)
    (issue,) = [str(issue) for issue in caught.value.issues]
    assert "bots.yaml:14 bots[1].streaming" in issue and "native" in issue, issue


def test_a_storage_url_password_in_the_query_is_never_shown_and_must_be_a_variable(
    write_config: WriteConfig,
) -> None:
    url = "postgresql://parley@db.internal/parley?sslmode=require&password=${PGPASSWORD}"
    path = write_config(MINIMAL + f"storage:\n  url: {url}\n")

    config = load_config(path, {"PGPASSWORD": "s3cret-pw"})

    assert config.storage.describe() == (
        "postgresql://parley@db.internal/parley?sslmode=require&password=…"
    )
    literal = write_config(MINIMAL + "storage:\n  url: postgresql://p@db/p?password=hunter2\n")
    with pytest.raises(ConfigError) as caught:
        load_config(literal, {})
    assert "must come from the environment" in str(caught.value)
    assert "hunter2" not in str(caught.value)
