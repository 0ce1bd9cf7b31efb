"""The YAML reader against hostile input: aliases, depth, control characters, size."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.config_models import load_config
from core.config.yaml_source import parse_yaml
from core.errors import ConfigError


def test_many_aliases_are_refused_at_the_line_that_passes_the_limit() -> None:
    text = "base: &b {x: 1}\nitems:\n" + "".join("  - *b\n" for _ in range(1000))
    [issue] = parse_yaml(text, "bots.yaml").issues
    assert "more than" in issue.message and "aliases" in issue.message
    assert issue.line is not None and 3 < issue.line < 1003


def test_a_few_aliases_are_fine() -> None:
    text = "base: &b {x: 1}\nitems: [*b, *b, *b]\n"
    parsed = parse_yaml(text, "bots.yaml")
    assert parsed.issues == ()
    assert parsed.data == {"base": {"x": 1}, "items": [{"x": 1}] * 3}


def test_an_alias_to_its_own_parent_is_called_what_it_is() -> None:
    [issue] = parse_yaml("a: &a\n  b: *a\n", "bots.yaml").issues
    assert "refers to itself through an alias" in issue.message
    assert issue.line == 2


@pytest.mark.parametrize(
    "text",
    [
        "[" * 5000 + "]" * 5000,
        "a:\n" + "".join(f"{'  ' * depth}k{depth}:\n" for depth in range(1, 400)),
    ],
)
def test_deep_nesting_without_aliases_says_how_deep(text: str) -> None:
    [issue] = parse_yaml(text, "bots.yaml").issues
    assert "nested more than" in issue.message
    assert "alias" not in issue.message
    assert issue.line is not None


def test_a_control_character_names_it_and_its_line() -> None:
    [issue] = parse_yaml("a: 1\nb: x\x07y\n", "bots.yaml").issues
    assert issue.line == 2
    assert "BEL" in issue.message and "control character" in issue.message


def test_a_control_character_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bots.yaml"
    path.write_bytes(b"personas:\n\x00\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    [issue] = caught.value.issues
    assert issue.line == 2 and "NUL" in issue.message


def test_a_long_flat_list_is_refused_while_composing_and_blames_no_alias() -> None:
    text = "a: [" + ", ".join(["1"] * 20_000) + "]\n"
    [issue] = parse_yaml(text, "bots.yaml").issues
    assert issue.message.startswith("more than 10,000 values")
    assert "alias" not in issue.message and issue.line == 1
