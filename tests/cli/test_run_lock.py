"""`parley chat` shares the file with a running `parley run`: it sweeps only its own bot."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bots.config_models import load_config
from cli.main import main
from core.store.runner_lock import runner_lock
from tests.e2e.conftest import write_config


def test_chat_runs_beside_a_runner_that_holds_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARLEY_TEST_KEY", "sk-lock-test")
    config = write_config(tmp_path, "http://127.0.0.1:9/v1")
    monkeypatch.setattr("sys.stdin", io.StringIO("/quit\n"))
    with runner_lock(load_config(config).storage.path):
        assert main(["chat", "--config", str(config), "--thread", "beside"]) == 0
    assert "chatting with" in capsys.readouterr().out


def test_run_refuses_in_one_line_while_another_runner_holds_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARLEY_TEST_KEY", "sk-lock-test")
    config = write_config(tmp_path, "http://127.0.0.1:9/v1")
    database = load_config(config).storage.path
    with runner_lock(database):
        assert main(["run", "--config", str(config)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("parley: another `parley run`"), err
