"""The `parley` command as an admin uses it: check, run, health and --help."""

from __future__ import annotations

import asyncio
import io
import os
import shlex
import shutil
import signal
import sys
from pathlib import Path

import pytest

from bots.app import open_runtime
from bots.config_models import load_config
from cli.main import main
from core.store import Store
from core.types import ConversationKey
from tests.core.store.rows import add_message
from tests.e2e.conftest import write_config
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.waiting import wait_until

SLACK_SECRET = "xoxb-very-secret-value-1234"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PARLEY_TEST_KEY", "sk-another-secret-5678")
    monkeypatch.setenv("SLACK_BOT_TOKEN", SLACK_SECRET)
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    return write_config(tmp_path, "http://127.0.0.1:9/v1")


def test_check_summarises_and_names_secrets_without_values(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"{config} is valid." in out
    assert "helper" in out and "model gpt-4o-mini via fake" in out
    assert "team" in out and "1 channel override(s)" in out
    assert "messages kept 90 days, usage rows 400 days" in out
    assert "http://127.0.0.1:9464/healthz" in out
    assert "moderation" not in out  # said only for personas that have it
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  SLACK")}
    assert "set" in lines["SLACK_BOT_TOKEN"].split()
    assert "MISSING" in lines["SLACK_APP_TOKEN"]
    assert SLACK_SECRET not in out and "sk-another-secret-5678" not in out


def test_check_warns_of_placeholders_that_defeat_prompt_caching(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(config)]) == 0  # its prompt uses {user_name}
    warned = capsys.readouterr().out
    assert "{user_name} changes with each speaker" in warned
    assert "{time}" not in warned

    example = Path(__file__).parents[2] / "bots.yaml"
    assert main(["check", str(example)]) == 0
    assert "prompt cache misses" not in capsys.readouterr().out


def test_check_shows_a_personas_sampling_settings(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = "    temperature: 0.3\n    presence_penalty: 0.5\n    seed: 7\n    stop: [END]\n"
    config.write_text(config.read_text().replace("    temperature: 0.3\n", settings, 1))
    assert main(["check", str(config)]) == 0
    out = capsys.readouterr().out
    assert "top_p 0.9, presence_penalty 0.5, seed 7, stop 'END'" in out


def test_check_lists_budgets_one_line_each(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    budgets = (
        "budgets:\n  - {per: user, tokens: 200000}\n"
        "  - {per: bot, bot: team, period: month, tokens: 5000, admins_exempt: false}\n"
    )
    config.write_text(config.read_text() + budgets)
    assert main(["check", str(config)]) == 0
    out = capsys.readouterr().out
    assert "\nBudgets\n  each user: 200,000 tokens per UTC day, admins exempt\n" in out
    assert "\n  bot team: 5,000 tokens per UTC month, admins included\n\nStorage" in out


def test_check_lists_every_problem_with_line_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "bots.yaml"
    broken.write_text(
        "personas:\n  pirate:\n    model: m\n    system_prompt: hi {usr_name}\n"
        "bots:\n  - name: b\n    platform: console\n    persona: pirat\n"
    )
    assert main(["check", "--config", str(broken)]) == 2
    err = capsys.readouterr().err
    assert f"{broken}:4 personas.pirate.system_prompt: unknown placeholder {{usr_name}}" in err
    assert f"{broken}:8 bots[0].persona: unknown persona 'pirat' (did you mean 'pirate'?)" in err


def test_check_reads_parley_config_from_the_environment(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARLEY_CONFIG", str(config))
    assert main(["check"]) == 0
    assert f"{config} is valid." in capsys.readouterr().out


def test_run_says_which_bots_it_cannot_start_and_why(
    config: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert main(["run", "--config", str(config)]) == 1
    messages = [record.getMessage() for record in caplog.records]
    assert "cannot start bot team (slack): not set: SLACK_APP_TOKEN" in messages
    assert (
        "cannot start bot parley (console): console bots run in a terminal: "
        "use `parley chat --bot parley`" in messages
    )


def test_health_fails_clearly_when_nothing_answers(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Port 9 (discard) on loopback: nothing listens there in a test sandbox.
    config.write_text(config.read_text() + "monitoring: {host: 0.0.0.0, port: 9}\n")
    assert main(["health", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "no answer from http://127.0.0.1:9/healthz" in out and "parley run" in out

    config.write_text(config.read_text().replace("port: 9}", "port: 9, enabled: false}"))
    assert main(["health", "--config", str(config)]) == 1
    assert "monitoring.enabled is false" in capsys.readouterr().out


def test_health_leaves_references_and_mistakes_to_the_full_loader(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARLEY_HEALTH_PORT", "9")
    plain = config.read_text()
    config.write_text(plain + "monitoring: {port: '${PARLEY_HEALTH_PORT}'}\n")
    assert main(["health", "--config", str(config)]) == 1
    assert "no answer from http://127.0.0.1:9/healthz" in capsys.readouterr().out

    config.write_text(plain + "monitoring: {prot: 9}\n")
    assert main(["health", "--config", str(config)]) == 2
    assert "monitoring.prot" in capsys.readouterr().err


async def test_sighup_reloads_the_config(config: Path) -> None:
    async with open_runtime(config) as runtime:
        # Same size and mtime as before: the file watcher cannot see this edit, so only
        # the signal can make it count, however long a loaded machine takes.
        before = config.stat()
        text = config.read_text().replace("Talk like a pirate.", "Talk like a PIRATE.")
        config.write_text(text)
        os.utime(config, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert config.stat().st_size == before.st_size
        os.kill(os.getpid(), signal.SIGHUP)
        pirate = runtime.config.current.personas
        await wait_until(
            lambda: (
                runtime.config.current.personas["pirate"].system_prompt == "Talk like a PIRATE."
            ),
            message="SIGHUP did not reload",
        )
        assert pirate["pirate"].system_prompt == "Talk like a pirate."  # swapped whole


@pytest.mark.parametrize("command", ["chat", "check", "run", "health"])
def test_every_command_explains_itself(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--config" in out and "$PARLEY_CONFIG" in out


async def test_check_probe_asks_the_provider_for_its_models(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    config = write_config(tmp_path, fake_openai.base_url)
    fake_openai.models = ("gpt-4o-mini", "text-embedding-3-small")
    env = {**os.environ, "PARLEY_TEST_KEY": "sk-probe-secret-0000"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        "check",
        "--probe",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    out = (await asyncio.wait_for(process.communicate(), 60))[0].decode()
    assert process.returncode == 0
    assert "→ ready: fake offers gpt-4o-mini" in out
    assert "→ NOT READY: fake does not offer gpt-4o (2 models)" in out
    assert fake_openai.authorizations == ["Bearer sk-probe-secret-0000"]
    assert "sk-probe-secret-0000" not in out


def test_chat_marks_what_a_killed_chat_left_unfinished(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = ConversationKey("console", "local", "parley", "killed")

    async def leave_a_reply_in_progress() -> int:
        async with await Store.open(load_config(config).storage.path) as store:
            return await add_message(store,
                key, role="assistant", author_id="parley", author_name="parley",
                content="half an ans", status="partial", token_count=3,
            )  # fmt: skip

    async def reply_row(reply: int) -> tuple[str, str]:
        async with await Store.open(load_config(config).storage.path) as store:
            history = await store.recent_messages(key, 10)
        (row,) = [m for m in history.messages if m.id == reply]
        return row.status, row.error

    reply = asyncio.run(leave_a_reply_in_progress())
    monkeypatch.setattr("sys.stdin", io.StringIO("/quit\n"))
    assert main(["chat", "--config", str(config), "--thread", "killed"]) == 0
    capsys.readouterr()
    status, error = asyncio.run(reply_row(reply))
    assert status == "partial" and error.startswith("interrupted")


def test_config_may_come_before_the_command(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "check"]) == 0
    assert f"{config} is valid." in capsys.readouterr().out
    # Named twice, the same file (relative once): fine.
    monkeypatch.chdir(config.parent)
    assert main(["--config", str(config), "check", "--config", f"./{config.name}"]) == 0
    assert f"{config} is valid." in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["--config", "CONFIG", "check", "--config", "other.yaml"],
        ["--config", "CONFIG", "check", "other.yaml"],
        ["check", "other.yaml", "--config", "CONFIG"],
        ["--config", "other.yaml", "run", "--config", "CONFIG"],
    ],
)
def test_two_different_config_files_are_refused(
    config: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([str(config) if word == "CONFIG" else word for word in argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "two config files named" in err and "other.yaml" in err and str(config) in err


def test_a_missing_config_names_where_it_looked_and_how_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "a new folder"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.delenv("PARLEY_CONFIG", raising=False)
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    first, *rest = err.splitlines()
    assert first == (
        f"parley: no config file at {folder / 'bots.yaml'} "
        "(the default: bots.yaml in the current folder)"
    )
    # The user runs the command it suggests; the example then checks as valid.
    [command] = [line.strip() for line in rest if line.strip().startswith("cp ")]
    source, target = shlex.split(command)[1:]
    assert Path(source) == Path(__file__).parents[2] / "bots.yaml"
    assert Path(target) == folder / "bots.yaml"
    shutil.copy(source, target)
    assert main(["check"]) == 0
    assert f"{Path('bots.yaml')} is valid." in capsys.readouterr().out


def test_a_missing_config_says_who_named_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARLEY_CONFIG", str(tmp_path / "from-env.yaml"))
    assert main(["chat"]) == 2
    assert f"no config file at {tmp_path / 'from-env.yaml'} (from $PARLEY_CONFIG)" in (
        capsys.readouterr().err
    )
    monkeypatch.chdir(tmp_path)
    assert main(["usage", "--config", "relative.yaml"]) == 2
    assert f"no config file at {tmp_path / 'relative.yaml'} (named on the command line)" in (
        capsys.readouterr().err
    )


def test_check_finds_swapped_slack_tokens(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xapp-1-A0-app-level-secret")
    monkeypatch.setenv("SLACK_APP_TOKEN", SLACK_SECRET)
    assert main(["check", str(config)]) == 2
    err = capsys.readouterr().err
    lines = config.read_text().splitlines()
    for key in ("bot_token", "app_token"):
        line = next(n for n, text in enumerate(lines, 1) if text.strip().startswith(f"{key}:"))
        assert f"{config}:{line} bots[1].{key}: " in err
    assert "look swapped" in err
    assert "app-level-secret" not in err and SLACK_SECRET not in err


@pytest.mark.parametrize("reachable", [True, False], ids=["reachable", "missing_database"])
async def test_check_probe_opens_the_database_and_says_what_is_wrong(
    tmp_path: Path, fake_openai: FakeOpenAI, postgres_url: str, reachable: bool
) -> None:
    config = write_config(tmp_path, fake_openai.base_url)
    url = postgres_url if reachable else postgres_url.replace("/parley_t_", "/missing_")
    url = url.replace("postgres@", "postgres:${PGPASSWORD}@")
    text = config.read_text()
    config.write_text(text[: text.index("storage:")] + f"storage:\n  url: {url}\n")
    env = {**os.environ, "PARLEY_TEST_KEY": "sk-test", "PGPASSWORD": "hunter2"}
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "cli", "check", "--probe", str(config)),
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    out = (await asyncio.wait_for(process.communicate(), 60))[0].decode()
    assert process.returncode == 0
    storage = out[out.index("\nStorage\n") :]
    if reachable:
        assert "\n  reachable\n" in storage
    else:
        assert "NOT REACHABLE: opening the database postgresql://postgres@/missing_" in storage
        assert "does not exist" in storage
    assert "hunter2" not in out
