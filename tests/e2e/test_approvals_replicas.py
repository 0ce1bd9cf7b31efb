"""Approvals with two replicas on one PostgreSQL, through the real engines: a turn on
replica a waits for Approve, the click lands on replica b (as Slack hands interactions to
any connection), and a decides it; a reset on b withdraws it. Each replica runs its own test
MCP server; the fake model serves both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.app import Runtime
from core.types import ApprovalClick, ApprovalRequest
from tests.e2e.conftest import TEST_KEY
from tests.e2e.replicas import replica_config
from tests.e2e.replicas import replicas as running_replicas
from tests.e2e.test_engine import ALICE, THREAD, said
from tests.e2e.tools_env import calls_made, delete_then_answer, with_tools
from tests.fakes.mcp_fixtures import ToolsServerFiles
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.sinks import RecordingSink

GUARD = 30  # seconds; a guard against a hung test, never reached when it passes


@pytest.fixture
def files(tmp_path: Path) -> ToolsServerFiles:
    return ToolsServerFiles(tmp_path)


@pytest.fixture
async def replicas(
    tmp_path: Path,
    fake_openai: FakeOpenAI,
    files: ToolsServerFiles,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[Runtime, Runtime]]:
    monkeypatch.setenv("PARLEY_TEST_KEY", TEST_KEY)
    config = replica_config(tmp_path, fake_openai.base_url, postgres_url)
    with_tools(config, files)
    async with running_replicas(config, ("a", "b"), monkeypatch) as (a, b):
        yield a, b


def click(request: ApprovalRequest, user: str, *, approve: bool = True) -> ApprovalClick:
    return ApprovalClick(
        bot="parley", platform=THREAD.platform, workspace=THREAD.workspace,
        channel=THREAD.channel, approval_id=request.id, user_id=user, user_name=user,
        approve=approve,
    )  # fmt: skip


async def asked_on(
    runtime: Runtime, sink: RecordingSink
) -> tuple[asyncio.Task[object], ApprovalRequest]:
    task = asyncio.create_task(runtime.engine.handle(said("delete the faq page"), sink))
    await sink.asking.wait()
    return task, sink.asked[0]


async def test_a_click_on_the_other_replica_runs_the_call_once(
    replicas: tuple[Runtime, Runtime], fake_openai: FakeOpenAI, files: ToolsServerFiles
) -> None:
    a, b = replicas
    delete_then_answer(fake_openai)
    sink = RecordingSink()
    turn, request = await asked_on(a, sink)
    assert await b.engine.approve(click(request, "U2")) == "not_allowed"
    doubled = await asyncio.gather(
        b.engine.approve(click(request, ALICE.id)), b.engine.approve(click(request, ALICE.id))
    )
    assert sorted(doubled) == ["approved", "decided"]
    await asyncio.wait_for(turn, GUARD)  # a guard: without the relay it would wait 600 s
    assert [s.decision for s in sink.settled] == ["approved"]
    assert sink.events[-1] == "finish" and sink.text.endswith("Done.")
    assert await calls_made(files, 1) == ["delete_page"]
    assert await b.engine.approve(click(request, ALICE.id)) == "decided"


async def test_a_reset_on_the_other_replica_withdraws_the_waiting_request(
    replicas: tuple[Runtime, Runtime], fake_openai: FakeOpenAI, files: ToolsServerFiles
) -> None:
    a, b = replicas
    delete_then_answer(fake_openai)
    sink = RecordingSink()
    turn, request = await asked_on(a, sink)
    resetting = RecordingSink()
    await b.engine.handle(said("reset", message_id="r1"), resetting)
    await asyncio.wait_for(turn, GUARD)
    assert [(s.decision, s.by) for s in sink.settled] == [("denied", ALICE.display_name)]
    assert resetting.said[0].startswith("Done: I've forgotten this thread")
    assert files.calls() == []
    assert await b.engine.approve(click(request, ALICE.id)) == "decided"
