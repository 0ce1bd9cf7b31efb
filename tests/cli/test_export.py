"""`parley export --output`: the file holds a conversation's full text, owner-only always."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bots.config_models import load_config
from cli.main import main
from core.store import Store
from core.types import ConversationKey
from tests.core.store.rows import add_message
from tests.e2e.conftest import write_config

KEY = ConversationKey("console", "local", "parley", "exported")


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PARLEY_TEST_KEY", "sk-export-test")
    path = write_config(tmp_path, "http://127.0.0.1:9/v1")

    async def store_one() -> None:
        async with await Store.open(load_config(path).storage.path) as store:
            await add_message(store,
                KEY, role="user", author_id="U1", author_name="Alice",
                content="the secret plan", status="complete", token_count=3,
            )  # fmt: skip

    asyncio.run(store_one())
    return path


def export(config: Path, out: Path) -> int:
    return main(
        ["export", "--conversation", str(KEY), "--output", str(out), "--config", str(config)]
    )


@pytest.mark.parametrize("mode", [0o644, 0o666, 0o600, 0o400])
def test_export_over_an_existing_file_leaves_it_owner_only(
    config: Path, tmp_path: Path, mode: int
) -> None:
    out = tmp_path / "export.json"
    out.write_text("an older, longer export that must not survive in part " * 20)
    out.chmod(mode)
    assert export(config, out) == 0
    assert (out.stat().st_mode & 0o777) == 0o600
    document = json.loads(out.read_text())
    assert document["messages"][0]["content"] == "the secret plan"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("export")] == ["export.json"]


def test_export_through_a_symlink_replaces_the_link_not_its_target(
    config: Path, tmp_path: Path
) -> None:
    target = tmp_path / "shared.json"
    target.write_text("someone else's file")
    target.chmod(0o644)
    link = tmp_path / "export.json"
    link.symlink_to(target)
    assert export(config, link) == 0
    assert not link.is_symlink() and (link.stat().st_mode & 0o777) == 0o600
    assert target.read_text() == "someone else's file"


def test_an_export_that_cannot_be_written_leaves_no_temporary_file(
    config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "missing-dir" / "export.json"
    assert export(config, out) == 1
    assert not out.parent.exists()
