"""`parley run` replicas on PostgreSQL against an unlucky operator and a misbehaving network
(issue 13): a database that is not there, a coordination connection cut under a serving
replica, two replicas under one name."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.slack_env import mention
from tests.e2e.test_replicas_processes import (
    counted_reply,
    replica,
    replies,
    rows,
    write_config,
)
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.slack_server import FakeSlack
from tests.fakes.waiting import deadline, wait_for_state, wait_until
from tests.postgres import (
    _binaries,
    _run,
    _server_user,
    create_database,
    database_url,
    drop_database,
    embedded_server,
)

# The replica's own session holds its advisory locks ("replica:<name>"); the pool's do not.
_COORDINATION_PIDS = (
    "SELECT DISTINCT l.pid FROM pg_locks AS l JOIN pg_database AS d ON d.oid = l.database"
    " WHERE l.locktype = 'advisory' AND d.datname = current_database()"
)


async def test_a_replica_whose_coordination_connection_dies_stops_with_one_line(
    tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI, postgres_url: str
) -> None:
    """Its roles went with the connection (another replica may take its shards now), so it
    must not go on serving as if it held them: it stops, non-zero, for its supervisor."""
    config = write_config(tmp_path, fake_slack, fake_openai, None)
    async with replica(config, "r1", fake_slack, postgres_url, None) as parley:
        await fake_slack.wait_connected(60)
        await fake_slack.send_event(mention(fake_slack, "before", "1700000000.000100"))
        await wait_until(lambda: len(replies(fake_slack, "1700000000.000100")) == 1, 60)
        (pid,) = [r["pid"] for r in await rows(postgres_url, _COORDINATION_PIDS)]
        await rows(postgres_url, "SELECT pg_terminate_backend($1)", pid)
        async with deadline(30, "the replica stopped"):
            assert await parley.exit_code() == 1
        lost = parley.said("lost the coordination connection")
        assert len(lost) == 1, parley.lines
        assert parley.said("lost its claims on the database; stopping so that its supervisor"), (
            parley.lines
        )
        assert not parley.said("Traceback"), parley.lines


@contextlib.contextmanager
def own_server() -> Iterator[tuple[str, Path]]:
    """A PostgreSQL of this test's own (it is restarted), with its data directory."""
    with embedded_server() as server_url:
        socket = Path(parse_qs(urlsplit(server_url).query)["host"][0])
        yield server_url, socket.parent


def pg_ctl(place: Path, *arguments: str) -> None:
    _run(
        _server_user(),
        [
            _binaries() / "pg_ctl",
            "-D",
            place / "data",
            "-l",
            place / "server.log",
            "-w",
            *arguments,
        ],
    )


async def test_postgresql_crashing_mid_reply_stops_the_replicas_and_loses_no_message(
    tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    """`pg_ctl restart -m immediate` (a crash) while r1 streams a reply: both replicas see
    their claims gone and exit 1; the reply is finished once, the question is kept though
    commits do not wait for the disk by default, and the restarted replica answers."""
    fake_openai.default = counted_reply
    slow = Script(chunks=tuple(f"word{n} " for n in range(40)), delay_between_chunks=0.1)
    config = write_config(tmp_path, fake_slack, fake_openai, None)
    story, last = "1700000000.000100", "1700000099.000300"
    with own_server() as (server_url, place):
        url = await create_database(server_url)
        async with contextlib.AsyncExitStack() as stack:
            started = []
            for count, name in enumerate(("r1", "r2"), start=1):
                started.append(
                    await stack.enter_async_context(replica(config, name, fake_slack, url, None))
                )
                await fake_slack.wait_connected(60, count=count)
            fake_openai.enqueue(slow)
            await fake_slack.send_event(mention(fake_slack, "a long story", story), to=0)
            await wait_until(lambda: "word0" in "".join(replies(fake_slack, story)), 30)
            await asyncio.to_thread(pg_ctl, place, "restart", "-m", "immediate")
            async with deadline(30, "both replicas stopped"):
                codes = [await parley.exit_code() for parley in started]
            assert codes == [1, 1]
            for parley in started:
                assert len(parley.said("lost its claims on the database")) == 1, parley.lines
                assert not parley.said("Traceback"), parley.lines
        async with replica(config, "r1", fake_slack, url, None) as again:
            await fake_slack.wait_connected(60, count=1)
            await fake_slack.send_event(mention(fake_slack, "after the restart", last))
            await wait_until(lambda: len(replies(fake_slack, last)) == 1, 60)
            again.child.terminate()
            assert await again.exit_code() == 0
        found = await rows(
            url, "SELECT role, status, error, content FROM messages ORDER BY id LIMIT 2"
        )
        await drop_database(server_url, url)
    (shown,) = replies(fake_slack, story)  # one message, not a second attempt
    assert [r["content"].strip() for r in found] == ["a long story", shown]
    assert found[1]["status"] == "complete" or found[1]["error"], found
    assert len(fake_openai.requests) == 2


async def test_a_second_replica_under_the_same_name_is_refused_and_the_first_serves_on(
    tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI, postgres_url: str
) -> None:
    """The start-up sweep marks a replica's own unfinished replies: a namesake would cut
    the first one's live reply, so it must not start at all."""
    fake_openai.default = counted_reply
    slow = Script(chunks=tuple(f"word{n} " for n in range(20)), delay_between_chunks=0.1)
    config = write_config(tmp_path, fake_slack, fake_openai, None)
    story = "1700000000.000100"
    async with replica(config, "r1", fake_slack, postgres_url, None) as first:
        await fake_slack.wait_connected(60)
        fake_openai.enqueue(slow)
        await fake_slack.send_event(mention(fake_slack, "a long story", story))
        await wait_until(lambda: "word0" in "".join(replies(fake_slack, story)), 30)
        async with (
            replica(config, "r1", fake_slack, postgres_url, None) as namesake,
            deadline(30, "the namesake refused"),
        ):
            assert await namesake.exit_code() == 1
        refusals = namesake.said("another Parley replica named 'r1' is serving")
        assert len(refusals) == 1, namesake.lines
        assert "postgresql://" in refusals[0] and not namesake.said("Traceback")
        await wait_until(lambda: "word19" in "".join(replies(fake_slack, story)), 30)
        other = "1700000001.000100"
        await fake_slack.send_event(mention(fake_slack, "still there?", other))
        await wait_until(lambda: len(replies(fake_slack, other)) == 1, 30)
        assert first.child.returncode is None
        first.child.terminate()  # its last reply's row is written before it exits
        assert await first.exit_code() == 0
    statuses = await rows(
        postgres_url, "SELECT status, error FROM messages WHERE role = 'assistant'"
    )
    assert [tuple(r) for r in statuses] == [("complete", ""), ("complete", "")]
    assert len(fake_slack.socket.pool.open) <= 1


@pytest.mark.parametrize(
    ("url", "named", "reason"),
    [
        # Nothing listens there: a network not up at boot, a server still starting.
        ("postgresql://parley:hunter2@127.0.0.1:1/parley", "127.0.0.1:1", "refused"),
        ("postgresql://parley@127.0.0.1:1/parley?password=hunter2", "127.0.0.1:1", "refused"),
        ("postgresql://parley:hunter2@nowhere.invalid/parley", "nowhere.invalid", "gaierror"),
        ("", "parley_t_missing", 'database "parley_t_missing" does not exist'),
    ],
)
async def test_a_database_out_of_reach_at_start_is_one_line_and_exit_1(
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_openai: FakeOpenAI,
    postgres_server_url: str,
    url: str,
    named: str,
    reason: str,
) -> None:
    """What a supervisor expects: exit non-zero at once (it restarts with its own backoff),
    one line naming the host or database, never the password, no traceback."""
    config = write_config(tmp_path, fake_slack, fake_openai, None)
    url = url or database_url(postgres_server_url, "parley_t_missing")
    async with (
        replica(config, "r1", fake_slack, url, None) as parley,
        deadline(30, "the replica gave up"),
    ):
        assert await parley.exit_code() == 1
    (line,) = parley.lines
    assert named in line and reason in line, line
    assert "hunter2" not in line and line.startswith("parley: opening the database")
    assert len(fake_slack.socket.pool.open) == 0  # it never served


async def test_a_replica_stopped_mid_reply_lets_the_waiting_replica_answer_the_thread_next(
    tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI, postgres_url: str
) -> None:
    """SIGTERM on r1 mid-reply while r2 waits for the thread: r1's reply is cut and marked
    (limits.shutdown_seconds 0.5), r2 answers right after with the cut reply in view."""
    fake_openai.default = counted_reply
    slow = Script(chunks=tuple(f"word{n} " for n in range(200)), delay_between_chunks=0.1)
    config = write_config(tmp_path, fake_slack, fake_openai, None)
    config.write_text(config.read_text() + "limits: {shutdown_seconds: 0.5}\n")
    story = "1700000000.000100"
    async with contextlib.AsyncExitStack() as stack:
        r1 = await stack.enter_async_context(replica(config, "r1", fake_slack, postgres_url, None))
        await fake_slack.wait_connected(60, count=1)
        await stack.enter_async_context(replica(config, "r2", fake_slack, postgres_url, None))
        await fake_slack.wait_connected(60, count=2)
        fake_openai.enqueue(slow)
        await fake_slack.send_event(mention(fake_slack, "a long story", story), to=0)
        await wait_until(lambda: "word0" in "".join(replies(fake_slack, story)), 30)
        await fake_slack.send_event(
            mention(fake_slack, "and then?", "1700000001.000100", story), to=1
        )

        async def r2_waits() -> bool:
            found = await rows(postgres_url, "SELECT count(*) FROM messages WHERE role = 'user'")
            return int(found[0][0]) == 2

        await wait_for_state(r2_waits, 30, "r2 stored the follow-up")
        assert len(fake_openai.requests) == 1  # r2 has not asked: the thread is r1's
        r1.child.send_signal(signal.SIGTERM)
        assert await r1.exit_code() == 0
        await wait_until(lambda: len(replies(fake_slack, story)) == 2, 30)
    cut, answer = replies(fake_slack, story)
    assert "word0" in cut and "word199" not in cut
    assert answer == "after 1 replies: and then?"
    assert len(fake_openai.requests) == 2
    assert "word0" in str(fake_openai.requests[1]["messages"])  # the cut reply in view
    found = await rows(
        postgres_url, "SELECT replica, status, error FROM messages WHERE role = 'assistant'"
    )
    assert sorted((r["replica"], r["status"], bool(r["error"])) for r in found) == [
        ("r1", "partial", True),
        ("r2", "complete", False),
    ]
