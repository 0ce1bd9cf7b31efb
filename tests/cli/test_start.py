"""`parley --help`, `health` and `check` start without the chat SDKs, the model SDK or bots.app.

Each command runs in a child process (a fresh interpreter, as the HEALTHCHECK starts it) and
reports which modules were loaded by the time it exited: facts, not timings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("discord", "slack_bolt", "slack_sdk", "openai", "tiktoken", "asyncpg")
OURS_FOR_RUN = ("bots.app", "bots.slack.bot", "bots.discord.bot", "core.llm", "core.engine")
# Runs the package as `python -m cli` would, then writes the loaded module names to argv[1].
WRAPPER = """
import json, runpy, sys
report = sys.argv.pop(1)
sys.argv[0] = "parley"
code = 0
try:
    runpy.run_module("cli", run_name="__main__", alter_sys=True)
except SystemExit as stop:
    code = stop.code
with open(report, "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""

CONFIG = """
providers:
  local:
    type: llamacpp
  remote:
    base_url: http://127.0.0.1:9/v1
    api_key: ${PARLEY_START_KEY}
personas:
  helper:
    system_prompt: You are {bot_name}.
    model: gpt-4o-mini
    provider: remote
    moderation: {input: true}
  small:
    system_prompt: You are {bot_name}.
    model: smollm2
    provider: local
    context_tokens: 2048
bots:
  - name: team
    platform: slack
    persona: helper
    bot_token: ${PARLEY_START_SLACK_BOT}
    app_token: ${PARLEY_START_SLACK_APP}
  - name: guild
    platform: discord
    persona: helper
    token: ${PARLEY_START_DISCORD}
  - name: term
    platform: console
    persona: small
storage:
  path: {database}
monitoring: {host: 0.0.0.0, port: 9}
"""


def run_cli(tmp_path: Path, *args: str) -> tuple[int, set[str], str]:
    """The exit code, the modules loaded at exit, and what it printed."""
    report = tmp_path / "modules.json"
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "PARLEY_START_KEY": "sk-start"}
    env["PARLEY_START_SLACK_BOT"] = "xoxb-start"
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(report), *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    loaded = json.loads(report.read_text())
    return loaded["code"], set(loaded["modules"]), done.stdout + done.stderr


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "bots.yaml"
    path.write_text(CONFIG.replace("{database}", str(tmp_path / "parley.db")))
    return path


def roots(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_help_loads_neither_sdks_nor_the_config_models(tmp_path: Path) -> None:
    code, modules, out = run_cli(tmp_path, "--help")
    assert code == 0 and "COMMAND" in out
    assert not roots(modules) & {*HEAVY, "pydantic", "yaml", "aiosqlite"}
    assert not modules & {*OURS_FOR_RUN, "core.config"}


def test_health_fails_at_once_when_nothing_listens_and_loads_no_sdk(
    tmp_path: Path, config: Path
) -> None:
    code, modules, out = run_cli(tmp_path, "health", "--config", str(config))
    assert code == 1
    assert "no answer from http://127.0.0.1:9/healthz" in out and "parley run" in out
    # A plain `monitoring` section is read without the validated config models.
    assert not roots(modules) & {*HEAVY, "pydantic", "aiosqlite"}
    assert not modules & {*OURS_FOR_RUN, "core.config"}


def test_check_of_slack_and_discord_bots_loads_no_sdk(tmp_path: Path, config: Path) -> None:
    code, modules, out = run_cli(tmp_path, "check", "--config", str(config))
    assert code == 0, out
    assert "team           slack" in out and "guild          discord" in out
    assert "cannot start: PARLEY_START_SLACK_APP not set" in out
    assert "cannot start: PARLEY_START_DISCORD not set" in out
    assert "moderation of input with omni-moderation-latest via remote" in out
    assert not roots(modules) & set(HEAVY)
    assert not modules & set(OURS_FOR_RUN)


def test_version_is_the_packages_and_loads_nothing_heavy(tmp_path: Path) -> None:
    code, modules, out = run_cli(tmp_path, "--version")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert (code, out) == (0, f"parley {project['version']}\n")
    assert not roots(modules) & {*HEAVY, "pydantic", "yaml", "aiosqlite"}
    assert not modules & {*OURS_FOR_RUN, "core.config"}


def test_a_reader_that_leaves_early_gets_no_traceback(config: Path) -> None:
    """`parley check | head -1`: the pipe closes under the summary; the shell's quiet 141."""
    reader, writer = os.pipe()
    os.close(reader)  # gone before the first line is written: every write breaks the pipe
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    try:
        done = subprocess.run(
            [sys.executable, "-m", "cli", "check", "--config", str(config)],
            stdout=writer, stderr=subprocess.PIPE, text=True, timeout=60, check=False,
            env={**os.environ, "PYTHONPATH": path}, cwd=config.parent,
        )  # fmt: skip
    finally:
        os.close(writer)
    assert done.returncode == 141, done.stderr
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr
