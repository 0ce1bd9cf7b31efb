"""core/ names no platform: Slack, Discord and the console live in bots/, config models included."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE_FILES = sorted((ROOT / "core").rglob("*.py"))
PLATFORM_WORDS = ("slack", "discord", "console")


def code_words(path: Path) -> Iterator[tuple[int, str]]:
    """Every identifier and non-docstring string in a module, with its line.

    Comments and docstrings may mention a platform as an example; code may not.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Name):
            yield line, node.id
        elif isinstance(node, ast.Attribute):
            yield line, node.attr
        elif isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            yield line, node.name
        elif isinstance(node, ast.arg):
            yield line, node.arg
        elif isinstance(node, ast.alias):
            yield line, node.asname or node.name
        elif isinstance(node, ast.keyword) and node.arg:
            yield line, node.arg
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield line, node.value


def platform_mentions(path: Path) -> list[str]:
    return [
        f"{path.name}:{line}: {word!r}"
        for line, word in code_words(path)
        if any(platform in word.lower() for platform in PLATFORM_WORDS)
    ]


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_code_names_no_platform(path: Path) -> None:
    mentions = platform_mentions(path)
    assert not mentions, f"core names a platform (it belongs in bots/<platform>/): {mentions}"


def test_the_check_sees_names_and_strings_but_not_docs(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Slack and Discord may be named in a docstring."""\n'
        "# and in a comment: Slack\n"
        "SlackUserId = str\n"
        "PLATFORMS = ('discord',)\n"
        "def f(x: int) -> int:\n"
        '    """Also in a function\'s docstring: Slack."""\n'
        "    return x\n"
    )
    assert platform_mentions(sample) == ["sample.py:3: 'SlackUserId'", "sample.py:4: 'discord'"]


def test_config_models_load_without_any_platform_sdk() -> None:
    # `parley check` loads bots.yaml through these; they must not pull in slack_bolt or discord.
    probe = (
        "import sys, bots.config_models; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'slack_bolt', 'slack_sdk', 'discord', 'aiohttp'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"
