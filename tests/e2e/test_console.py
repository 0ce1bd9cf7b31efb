"""`parley chat` driven through a pipe, as a person would, remembering across runs."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.e2e.conftest import TEST_KEY
from tests.fakes.openai_server import FakeOpenAI, echo_last_user


async def parley_chat(
    config: Path, typed: str, *args: str, **variables: str
) -> tuple[int, str, str]:
    env = {key: value for key, value in os.environ.items() if not key.lower().endswith("_proxy")}
    env.update(PARLEY_TEST_KEY=TEST_KEY, USER="alice")
    for name, value in variables.items():
        if value:
            env[name] = value
        else:
            env.pop(name, None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        "chat",
        "--config",
        str(config),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(typed.encode()), timeout=60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_a_thread_is_remembered_across_runs_and_reset_forgets_it(
    config_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.default = echo_last_user
    code, out, err = await parley_chat(config_path, "my cat is called Tom\n", "--thread", "pets")
    assert code == 0, err
    assert "parley> echo: [alice] my cat is called Tom" in out

    code, out, err = await parley_chat(config_path, "what is my cat called?\n", "--thread", "pets")
    assert code == 0, err
    sent = fake_openai.requests[-1]["messages"]
    assert isinstance(sent, list)
    assert [m["content"] for m in sent[1:]] == [
        "[alice] my cat is called Tom",
        "echo: [alice] my cat is called Tom",
        "[alice] what is my cat called?",
    ]

    code, out, err = await parley_chat(config_path, "/reset\nhello\n", "--thread", "pets")
    assert code == 0, err
    assert "forgotten this thread (4 messages)" in out
    sent = fake_openai.requests[-1]["messages"]
    assert isinstance(sent, list)
    assert [m["role"] for m in sent] == ["system", "user"]


async def test_another_thread_starts_fresh(config_path: Path, fake_openai: FakeOpenAI) -> None:
    await parley_chat(config_path, "first\n", "--thread", "a")
    code, out, _ = await parley_chat(config_path, "second\n", "--thread", "b")
    assert code == 0 and "parley> Hello world" in out
    sent = fake_openai.requests[-1]["messages"]
    assert isinstance(sent, list) and len(sent) == 2


async def test_a_broken_config_is_explained_with_line_and_key(tmp_path: Path) -> None:
    config = tmp_path / "bots.yaml"
    config.write_text("personas:\n  p:\n    model: m\n    system_prompt: hi\n    temprature: 1\n")
    code, _, err = await parley_chat(config, "")
    assert code == 2
    assert f"{config}:5 personas.p.temprature: unknown key 'temprature'" in err
    assert "did you mean 'temperature'" in err


def before_the_prompt(out: str) -> list[str]:
    """The lines between the greeting and the first prompt."""
    greeting, _, rest = out.partition("(pick with --bot).\n")
    assert greeting, out
    lines = rest.splitlines()
    # Earlier messages are indented; the prompt starts its line.
    prompt = next(i for i, line in enumerate(lines) if line.startswith("alice> "))
    return lines[:prompt]


async def test_continuing_a_thread_shows_its_last_exchanges(
    config_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.default = echo_last_user
    long = "tell me everything about " + "cats and dogs " * 30
    typed = f"first question\nsecond question\n{long}\nfourth question\n"
    code, out, err = await parley_chat(config_path, typed, "--thread", "pets")
    assert code == 0, err
    assert before_the_prompt(out) == []  # a new thread has nothing to show

    code, out, err = await parley_chat(config_path, "", "--thread", "pets")
    assert code == 0, err
    shown = before_the_prompt(out)
    assert shown[0] == "Earlier in this thread (the last exchanges):"
    assert shown[1:3] == [
        "  alice> second question",
        "  parley> echo: [alice] second question",
    ]
    assert shown[3].startswith("  alice> tell me everything about cats and dogs")
    assert shown[3].endswith("…") and len(shown[3]) < len(long)
    assert shown[5:] == [
        "  alice> fourth question",
        "  parley> echo: [alice] fourth question",
        "",
    ]


async def test_a_failed_turn_shows_its_reason_in_the_terminal(
    config_path: Path, fake_openai: FakeOpenAI
) -> None:
    """In the terminal the admin the short note points to is the user: the reason is there
    too (here a missing key, which at the chat's log level is logged nowhere)."""
    env_free = {"PARLEY_TEST_KEY": ""}
    thread = "keyless"
    code, out, err = await parley_chat(config_path, "hello\n", "--thread", thread, **env_free)
    assert code == 0, err
    # Said once at the start, before anyone types into a chat that cannot answer.
    assert out.splitlines()[1] == (
        "  (every reply will fail until PARLEY_TEST_KEY is set: fake, which parley answers"
        " with, needs it)"
    )
    assert "  [Parley's configuration has a problem; an admin needs to look at the logs.]\n" in out
    assert "providers.fake.api_key: environment variable PARLEY_TEST_KEY is not set" in out
    assert fake_openai.requests == []
    # Continued later, the thread shows that this message got no reply.
    code, out, err = await parley_chat(config_path, "", "--thread", thread)
    assert code == 0, err
    assert before_the_prompt(out)[1:] == ["  alice> hello", "  parley> [no reply]", ""]
