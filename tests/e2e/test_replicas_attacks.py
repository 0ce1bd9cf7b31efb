"""`parley run` replicas on PostgreSQL against an unlucky operator and a misbehaving network
(issue 13): a database that is not there, a coordination connection cut under a serving
replica, two replicas under one name."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_replicas_processes import mention, replica, replies, rows, write_config
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack
from tests.fakes.waiting import deadline, wait_until

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
